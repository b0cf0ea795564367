import { QuarryError } from '@quarry/contracts';
import { renderTextPng } from '@quarry/test-kit';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import {
  listTesseractLanguages,
  parseOrientation,
  parseTesseractTsv,
  TesseractCliEngine,
} from './tesseract-cli';

// These run the real tesseract, poppler or sharp: seconds per test on a busy two-core machine, not Jest's 5 s.
jest.setTimeout(30_000);

const SENTENCE = 'The quick brown fox jumps over the lazy dog.';
const limits = { languages: ['eng'], timeoutMs: 30_000, maxMemoryMb: 500 };

describe('parseTesseractTsv', () => {
  it('joins words, lines, paragraphs and blocks of a captured tesseract 5.3 TSV', async () => {
    // `tesseract page.pgm stdout --psm 3 --dpi 150 tsv` of a page with two lines, a paragraph and a far block.
    const tsv = await readFile(path.join(__dirname, '__fixtures__', 'three-blocks.tsv'), 'utf8');
    const result = parseTesseractTsv(tsv);
    expect(result.text).toBe(
      [
        'Quarry turns uploaded documents into searchable text.',
        'The second line of the first paragraph.',
        '',
        'A new paragraph begins here, after a blank line.',
        '',
        'Far below, a third block of words.',
      ].join('\n'),
    );
    expect(result.words).toBe(30);
    // The mean of the 30 word confidences in the sample.
    expect(result.confidence).toBe(96.58);
  });

  it('skips structure rows, empty words and confidences of -1, and separates paragraphs inside a block', () => {
    const header =
      'level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext';
    const row = (block: number, par: number, line: number, conf: number, text: string): string =>
      `5\t1\t${block}\t${par}\t${line}\t1\t0\t0\t10\t10\t${conf}\t${text}`;
    const tsv = [
      header,
      '1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t',
      row(1, 1, 1, 90, 'first'),
      row(1, 1, 1, 95, ' '),
      row(1, 1, 1, -1, 'unscored'),
      row(1, 2, 1, 70, 'second'),
      '',
    ].join('\n');
    expect(parseTesseractTsv(tsv)).toEqual({ text: 'first unscored\n\nsecond', words: 3, confidence: 80 });
  });

  it('gives empty text and zero confidence for a page without words', () => {
    expect(parseTesseractTsv('level\tpage_num\n1\t1\t0\t0\t0\t0\t0\t0\t800\t600\t-1\t\n')).toEqual({
      text: '',
      words: 0,
      confidence: 0,
    });
  });
});

describe('parseOrientation', () => {
  it("reads tesseract's --psm 0 report", () => {
    const report = [
      'Page number: 0',
      'Orientation in degrees: 90',
      'Rotate: 270',
      'Orientation confidence: 3.91',
      'Script: Latin',
      'Script confidence: 40.00',
    ].join('\n');
    expect(parseOrientation(report)).toEqual({ rotate: 270, confidence: 3.91 });
    expect(parseOrientation('Too few characters. Skipping this page')).toBeNull();
  });
});

describe('TesseractCliEngine (the real tesseract binary)', () => {
  let dir: string;
  let sentence: string;
  const engine = new TesseractCliEngine({ concurrency: 2 });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'quarry-tesseract-'));
    sentence = path.join(dir, 'sentence.png');
    await writeFile(
      sentence,
      await renderTextPng([SENTENCE, '', 'Pack my box with five dozen liquor jugs.']),
    );
  });
  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a rendered sentence with high confidence', async () => {
    const result = await engine.recognize(sentence, { ...limits, dpi: 300 });
    expect(result.text).toBe(`${SENTENCE}\n\nPack my box with five dozen liquor jugs.`);
    expect(result.words).toBe(17);
    expect(result.confidence).toBeGreaterThan(80);
  });

  it('tells which way to turn a page lying on its side, and nothing for a page without text', async () => {
    const sideways = path.join(dir, 'sideways.png');
    await sharp(sentence).rotate(90).toFile(sideways);
    const orientation = await engine.detectOrientation(sideways, limits);
    expect(orientation?.rotate).toBe(270);
    expect(orientation?.confidence).toBeGreaterThan(1);

    const blank = path.join(dir, 'blank.png');
    await sharp({ create: { width: 600, height: 400, channels: 3, background: '#ffffff' } })
      .png()
      .toFile(blank);
    await expect(engine.detectOrientation(blank, limits)).resolves.toBeNull();
    await expect(engine.recognize(blank, limits)).resolves.toEqual({ text: '', words: 0, confidence: 0 });
  });

  it('fails with corrupt_image for a file that is not an image', async () => {
    const garbage = path.join(dir, 'garbage.png');
    await writeFile(garbage, 'this is not an image at all');
    const error: unknown = await engine.recognize(garbage, limits).catch((e: unknown) => e);
    expect(QuarryError.is(error, 'corrupt_image')).toBe(true);
  });

  it('fails with parser_timeout when a page takes longer than its limit', async () => {
    const error: unknown = await engine
      .recognize(sentence, { ...limits, timeoutMs: 20 })
      .catch((e: unknown) => e);
    expect(QuarryError.is(error, 'parser_timeout')).toBe(true);
  });

  it('refuses language codes that could be read as options', async () => {
    await expect(engine.recognize(sentence, { ...limits, languages: ['-c'] })).rejects.toThrow(RangeError);
  });

  it('lists the installed languages', async () => {
    const languages = await listTesseractLanguages();
    expect(languages).toContain('eng');
    expect(languages).toContain('osd');
    await expect(engine.listLanguages()).resolves.toEqual(languages);
    await expect(listTesseractLanguages('quarry-no-such-tesseract')).rejects.toThrow('is not installed');
  });
});
