import {
  makeEncryptedPdf,
  makeManyPagePdf,
  makeMixedPdf,
  makeScannedPdf,
  makeTestPdf,
  quarryFailure,
} from '@quarry/test-kit';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TesseractCliEngine } from '../ocr/tesseract-cli';
import type { ExtractedPage } from '../types';
import { extractPdfDocument, type ExtractPdfDocumentOptions } from './extract-pdf-document';

// These run the real tesseract, poppler or sharp: seconds per test on a busy two-core machine, not Jest's 5 s.
jest.setTimeout(30_000);

const FOX = 'The quick brown fox jumps over the lazy dog.';
const JUGS = 'Pack my box with five dozen liquor jugs.';
const engine = new TesseractCliEngine({ concurrency: 2 });
const base: ExtractPdfDocumentOptions = {
  limits: { maxPages: 100, maxPixels: 40_000_000 },
  timeoutMs: 60_000,
  maxMemoryMb: 500,
  ocr: { engine, languages: ['eng'], dpi: 200, pageTimeoutMs: 30_000 },
};

describe('extractPdfDocument (poppler, tesseract and pdf.js for real)', () => {
  let dir: string;
  let n = 0;
  const file = async (bytes: Uint8Array): Promise<string> => {
    const target = path.join(dir, `doc-${++n}.pdf`);
    await writeFile(target, bytes);
    return target;
  };
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'quarry-pdf-document-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes a born-digital PDF from its text layer, page by page', async () => {
    const pdf = await file(await makeTestPdf([[FOX, '', JUGS], ['Page two speaks of quarries and stone.']]));
    const seen: Array<ExtractedPage | number> = [];
    const result = await extractPdfDocument(pdf, {
      ...base,
      onPageCount: (count) => void seen.push(count),
      onPage: (page) => void seen.push(page),
    });
    expect(result).toEqual({
      pageCount: 2,
      pages: [
        { pageNumber: 1, text: `${FOX}\n${JUGS}`, method: 'text_layer' },
        { pageNumber: 2, text: 'Page two speaks of quarries and stone.', method: 'text_layer' },
      ],
    });
    expect(seen).toEqual([2, ...result.pages]);
  });

  it('OCRs the pages of a scanned PDF, in order, leaving no page image behind', async () => {
    const pdf = await file(await makeScannedPdf([[FOX], [JUGS], ['A third scanned page of text.']]));
    const workDir = path.join(dir, 'work-scanned');
    await mkdir(workDir);
    const seen: number[] = [];
    const imagesOnDisk: number[] = [];
    const result = await extractPdfDocument(pdf, {
      ...base,
      workDir,
      onPage: async (page) => {
        seen.push(page.pageNumber);
        imagesOnDisk.push((await readdir(workDir)).length);
      },
    });
    expect(result.pageCount).toBe(3);
    expect(result.pages.map((page) => [page.text, page.method])).toEqual([
      [FOX, 'ocr'],
      [JUGS, 'ocr'],
      ['A third scanned page of text.', 'ocr'],
    ]);
    for (const page of result.pages) expect(page.ocrConfidence).toBeGreaterThan(80);
    expect(seen).toEqual([1, 2, 3]);
    // At most one image per OCR slot plus the one rendered ahead.
    expect(Math.max(...imagesOnDisk)).toBeLessThanOrEqual(3);
    expect(await readdir(workDir)).toEqual([]);
  });

  it('gives each page of a mixed PDF the method its text came from', async () => {
    const pdf = await file(await makeMixedPdf([FOX], [JUGS]));
    const result = await extractPdfDocument(pdf, base);
    expect(result.pages).toEqual([
      { pageNumber: 1, text: FOX, method: 'text_layer' },
      { pageNumber: 2, text: JUGS, method: 'ocr', ocrConfidence: expect.any(Number) as number },
    ]);
  });

  it('returns empty text for pages without a text layer when OCR is not asked for', async () => {
    const pdf = await file(await makeMixedPdf([FOX], [JUGS]));
    const result = await extractPdfDocument(pdf, { ...base, ocr: undefined });
    expect(result.pages).toEqual([
      { pageNumber: 1, text: FOX, method: 'text_layer' },
      { pageNumber: 2, text: '', method: 'text_layer' },
    ]);
  });

  it('falls back to pdf.js where poppler is not used, and cannot OCR then', async () => {
    const pdf = await file(await makeMixedPdf([FOX], [JUGS]));
    const result = await extractPdfDocument(pdf, { ...base, poppler: false });
    expect(result.pages).toEqual([
      { pageNumber: 1, text: FOX, method: 'text_layer' },
      { pageNumber: 2, text: '', method: 'text_layer' },
    ]);
  });

  it('asks pdf.js for a second opinion when poppler calls the file corrupt', async () => {
    const whole = Buffer.from(await makeTestPdf([[FOX], [JUGS]]));
    // startxref pointing nowhere: poppler gives up ("Couldn't read xref table"), pdf.js rebuilds the table.
    const at = whole.lastIndexOf('startxref');
    const damaged = Buffer.concat([whole.subarray(0, at), Buffer.from('startxref\n999999\n%%EOF\n')]);
    const result = await extractPdfDocument(await file(damaged), base);
    expect(result.pages.map((page) => page.text)).toEqual([FOX, JUGS]);
  });

  it('fails with encrypted_pdf, corrupt_pdf and too_many_pages as the document deserves', async () => {
    expect(
      (await quarryFailure(extractPdfDocument(await file(makeEncryptedPdf('Top secret.', 'hunter2')), base)))
        .code,
    ).toBe('encrypted_pdf');
    const garbage = await file(Buffer.from('%PDF-1.7\n' + 'nonsense '.repeat(100)));
    expect((await quarryFailure(extractPdfDocument(garbage, base))).code).toBe('corrupt_pdf');
    const many = await file(await makeManyPagePdf(12));
    const tooMany = await quarryFailure(
      extractPdfDocument(many, { ...base, limits: { ...base.limits, maxPages: 10 } }),
    );
    expect(tooMany.code).toBe('too_many_pages');
  });

  it('fails with parser_timeout when the whole document passes its deadline', async () => {
    const pdf = await file(await makeScannedPdf([[FOX], [JUGS]]));
    const started = performance.now();
    const ocr = { ...base.ocr!, pageTimeoutMs: 100 };
    const error = await quarryFailure(extractPdfDocument(pdf, { ...base, timeoutMs: 300, ocr }));
    expect(error.code).toBe('parser_timeout');
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('gives every page to OCR its own budget, so a long scan is not cut off by the text-layer deadline', async () => {
    const pdf = await file(await makeScannedPdf([[FOX], [JUGS]]));
    // Half a second covers the text layer, not two OCR'd pages; their page budgets extend the deadline.
    const started = performance.now();
    const doc = await extractPdfDocument(pdf, { ...base, timeoutMs: 500 });
    expect(performance.now() - started).toBeGreaterThan(500);
    expect(doc.pages.map((p) => p.method)).toEqual(['ocr', 'ocr']);
  });

  it('stops with the reason when the caller aborts', async () => {
    const pdf = await file(await makeScannedPdf([[FOX], [JUGS]]));
    const controller = new AbortController();
    const reason = new Error('job cancelled');
    const run = extractPdfDocument(pdf, { ...base, signal: controller.signal });
    controller.abort(reason);
    await expect(run).rejects.toBe(reason);
  });
});
