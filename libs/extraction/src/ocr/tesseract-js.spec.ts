import { renderTextPng } from '@quarry/test-kit';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TesseractJsEngine, tesseractJsModelFile } from './tesseract-js';

describe('TesseractJsEngine (tesseract.js with the npm traineddata, no network)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'quarry-tesseract-js-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a rendered sentence, and terminates its workers on close', async () => {
    const image = path.join(dir, 'sentence.png');
    await writeFile(
      image,
      await renderTextPng(['The quick brown fox jumps over the lazy dog.'], { dpi: 200 }),
    );
    const engine = new TesseractJsEngine({ languages: ['eng'], concurrency: 1 });
    try {
      const result = await engine.recognize(image, {
        languages: ['eng'],
        dpi: 200,
        timeoutMs: 60_000,
        maxMemoryMb: 500,
      });
      expect(result.text).toBe('The quick brown fox jumps over the lazy dog.');
      expect(result.words).toBe(9);
      expect(result.confidence).toBeGreaterThan(80);
      await expect(
        engine.detectOrientation(image, { languages: ['eng'], timeoutMs: 1000, maxMemoryMb: 500 }),
      ).resolves.toBeNull();
    } finally {
      await engine.close();
    }
  }, 60_000);

  it('finds the packaged model of an installed language and nothing for one that is not installed', async () => {
    await expect(tesseractJsModelFile('eng')).resolves.toMatch(
      /@tesseract\.js-data\/eng\/4\.0\.0_best_int\/eng\.traineddata\.gz$/,
    );
    await expect(tesseractJsModelFile('qqq')).resolves.toBeUndefined();
  });

  it('fails clearly, without starting a worker, when a language has no package', async () => {
    const engine = new TesseractJsEngine({ languages: ['eng', 'qqq'], concurrency: 1 });
    await expect(
      engine.recognize('/nonexistent.png', { languages: ['eng', 'qqq'], timeoutMs: 5000, maxMemoryMb: 500 }),
    ).rejects.toThrow('tesseract.js has no model for @tesseract.js-data/qqq');
    await engine.close();
  });
});
