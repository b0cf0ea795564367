import { renderTextPng, waitFor } from '@quarry/test-kit';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { PageImage } from '../formats/types';
import { rotateImage } from '../images/rasterize-image';
import type { ExtractedPage } from '../types';
import type { OcrEngine, OcrOptions, OcrResult, Orientation } from './ocr-engine';
import { ocrPageImages } from './ocr-pages';
import { TesseractCliEngine } from './tesseract-cli';

// These run the real tesseract, poppler or sharp: seconds per test on a busy two-core machine, not Jest's 5 s.
jest.setTimeout(30_000);

const options = { languages: ['eng'], timeoutMs: 30_000, maxMemoryMb: 500, minConfidence: 60 };

/**
 * An engine whose pages finish when the test says so: each recognize call waits for its image's gate, so the
 * order in which pages complete is the test's choice.
 */
class GatedEngine implements OcrEngine {
  readonly kind = 'tesseract-cli';
  readonly calls: string[] = [];
  active = 0;
  maxActive = 0;
  private readonly gates = new Map<string, { release: () => void; opened: Promise<void> }>();

  constructor(
    readonly concurrency: number,
    private readonly failOn?: string,
  ) {}

  release(imagePath: string): void {
    this.gate(imagePath).release();
  }

  async recognize(imagePath: string, opts: OcrOptions): Promise<OcrResult> {
    this.calls.push(path.basename(imagePath));
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await Promise.race([
        this.gate(imagePath).opened,
        new Promise<never>((_, reject) =>
          opts.signal?.addEventListener('abort', () => reject(opts.signal?.reason as Error), { once: true }),
        ),
      ]);
      if (path.basename(imagePath) === this.failOn) throw new Error(`cannot read ${this.failOn}`);
      return { text: `text of ${path.basename(imagePath)}`, confidence: 90, words: 3 };
    } finally {
      this.active--;
    }
  }

  detectOrientation(): Promise<Orientation | null> {
    return Promise.resolve(null);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private gate(imagePath: string): { release: () => void; opened: Promise<void> } {
    const key = path.basename(imagePath);
    let gate = this.gates.get(key);
    if (gate === undefined) {
      let release = (): void => undefined;
      const opened = new Promise<void>((resolve) => (release = resolve));
      gate = { release, opened };
      this.gates.set(key, gate);
    }
    return gate;
  }
}

describe('ocrPageImages', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'quarry-ocr-pages-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * Page images written to disk only when the consumer asks for the next one, as a renderer does; each pull records
   * how many images are on disk at that moment, the bound the look-ahead must keep.
   */
  async function* pages(count: number, pulled: number[], onDisk: number[] = []): AsyncGenerator<PageImage> {
    for (let n = 1; n <= count; n++) {
      const file = path.join(dir, `page-${n}.png`);
      await writeFile(file, `image ${n}`);
      pulled.push(n);
      onDisk.push((await readdir(dir)).length);
      yield { pageNumber: n, path: file, width: 10, height: 10 };
    }
  }

  it('delivers pages in order however they finish, with bounded concurrency and look-ahead', async () => {
    const engine = new GatedEngine(2);
    const pulled: number[] = [];
    const onDisk: number[] = [];
    const delivered: ExtractedPage[] = [];
    const run = ocrPageImages(pages(6, pulled, onDisk), engine, options, (page) => void delivered.push(page));

    await waitFor(() => engine.calls.length === 2 && pulled.length === 3, {
      description: 'two pages in OCR',
    });
    expect(engine.calls).toEqual(['page-1.png', 'page-2.png']);

    engine.release('page-2.png');
    await waitFor(() => engine.calls.length === 3, { description: 'page 3 taking the free slot' });
    expect(existsSync(path.join(dir, 'page-2.png'))).toBe(false);
    // Page 2 is done but waits for page 1.
    expect(delivered).toEqual([]);

    engine.release('page-1.png');
    await waitFor(() => delivered.length === 2, { description: 'pages 1 and 2 delivered' });
    expect(delivered.map((p) => p.pageNumber)).toEqual([1, 2]);

    for (const n of [4, 6, 3, 5]) engine.release(`page-${n}.png`);
    await run;
    expect(delivered.map((p) => p.pageNumber)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(delivered[0]).toEqual({
      pageNumber: 1,
      text: 'text of page-1.png',
      method: 'ocr',
      ocrConfidence: 90,
    });
    expect(engine.maxActive).toBe(2);
    // Never more than concurrency + 1 images on disk, and none left behind.
    expect(onDisk).toHaveLength(6);
    expect(Math.max(...onDisk)).toBeLessThanOrEqual(3);
    expect(await readdir(dir)).toEqual([]);
  });

  it('stops at the first failure, cancels the pages in flight and removes every image', async () => {
    const engine = new GatedEngine(2, 'page-2.png');
    const pulled: number[] = [];
    const delivered: number[] = [];
    const onDisk: number[] = [];
    const run = ocrPageImages(
      pages(10, pulled, onDisk),
      engine,
      options,
      (page) => void delivered.push(page.pageNumber),
    );
    await waitFor(() => engine.calls.length === 2, { description: 'two pages in OCR' });
    engine.release('page-2.png');
    await expect(run).rejects.toThrow('cannot read page-2.png');
    expect(delivered).toEqual([]);
    expect(Math.max(...onDisk)).toBeLessThanOrEqual(3);
    expect(await readdir(dir)).toEqual([]);
  });

  it("fails with onPage's error", async () => {
    const engine = new GatedEngine(1);
    const run = ocrPageImages(pages(3, []), engine, options, () => {
      throw new Error('progress store down');
    });
    for (const n of [1, 2, 3]) engine.release(`page-${n}.png`);
    await expect(run).rejects.toThrow('progress store down');
    expect(await readdir(dir)).toEqual([]);
  });

  it('fails when the images cannot be produced, after the pages in flight are stopped', async () => {
    const engine = new GatedEngine(2);
    async function* broken(): AsyncGenerator<PageImage> {
      const file = path.join(dir, 'page-1.png');
      await writeFile(file, 'image 1');
      yield { pageNumber: 1, path: file, width: 10, height: 10 };
      throw new Error('renderer died');
    }
    await expect(ocrPageImages(broken(), engine, options, () => undefined)).rejects.toThrow('renderer died');
    expect(await readdir(dir)).toEqual([]);
  });

  it('rejects with the reason when the caller aborts', async () => {
    const engine = new GatedEngine(2);
    const controller = new AbortController();
    const reason = new Error('job cancelled');
    const run = ocrPageImages(
      pages(4, []),
      engine,
      { ...options, signal: controller.signal },
      () => undefined,
    );
    await waitFor(() => engine.calls.length === 2, { description: 'two pages in OCR' });
    controller.abort(reason);
    await expect(run).rejects.toBe(reason);
    expect(await readdir(dir)).toEqual([]);
  });

  it('accepts a plain array of images and delivers nothing for none', async () => {
    const engine = new GatedEngine(1);
    const delivered: number[] = [];
    await ocrPageImages([], engine, options, (page) => void delivered.push(page.pageNumber));
    expect(delivered).toEqual([]);
  });

  it('keeps the first reading when the page cannot be turned (a BMP sharp cannot read)', async () => {
    const file = path.join(dir, 'page-1.bmp');
    await writeFile(file, 'BM pretend bitmap');
    const lowConfidence: OcrResult = { text: 'dwn ap!sdn', confidence: 30, words: 2 };
    const engine: OcrEngine = {
      kind: 'tesseract-cli',
      concurrency: 1,
      recognize: () => Promise.resolve(lowConfidence),
      detectOrientation: () => Promise.resolve({ rotate: 180, confidence: 6 }),
      close: () => Promise.resolve(),
    };
    const tried: string[] = [];
    const delivered: ExtractedPage[] = [];
    await ocrPageImages(
      [{ pageNumber: 1, path: file, width: 10, height: 10 }],
      engine,
      {
        ...options,
        rotate: (imagePath) => {
          tried.push(imagePath);
          return Promise.reject(new Error('Input file contains unsupported image format'));
        },
      },
      (page) => void delivered.push(page),
    );
    expect(tried).toEqual([file]);
    expect(delivered).toEqual([{ pageNumber: 1, text: 'dwn ap!sdn', method: 'ocr', ocrConfidence: 30 }]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('turns an upside-down page upright and keeps the better reading (real tesseract and sharp)', async () => {
    const engine = new TesseractCliEngine({ concurrency: 2 });
    const upright = await renderTextPng([
      'Orientation matters for optical character recognition.',
      'This page went through the scanner upside down.',
    ]);
    const upsideDown = path.join(dir, 'page-1.png');
    await sharp(upright).rotate(180).toFile(upsideDown);
    // As it lies, tesseract reads mirror-writing garbage at a mean confidence of about 40.
    const asItLies = await engine.recognize(upsideDown, options);
    expect(asItLies.confidence).toBeLessThan(options.minConfidence);

    const delivered: ExtractedPage[] = [];
    await ocrPageImages(
      [{ pageNumber: 1, path: upsideDown, width: 2550, height: 3300 }],
      engine,
      { ...options, rotate: (p, degrees) => rotateImage(p, degrees, `${p}.turned.png`) },
      (page) => void delivered.push(page),
    );
    expect(delivered).toEqual([
      {
        pageNumber: 1,
        text: 'Orientation matters for optical character recognition.\nThis page went through the scanner upside down.',
        method: 'ocr',
        ocrConfidence: expect.any(Number) as number,
      },
    ]);
    expect(delivered[0]?.ocrConfidence).toBeGreaterThan(80);
    expect(await readdir(dir)).toEqual([]);
  });
});
