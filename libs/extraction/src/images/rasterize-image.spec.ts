import type { DetectedType } from '@quarry/contracts';
import {
  makeBitfieldsBmp,
  makeBmp,
  makeGif,
  makeMultiPageTiff,
  makeRotatedPhotoJpeg,
  makeTiffPixelBomb,
  makeTruncatedJpeg,
  makeWebp,
  renderTextPng,
  quarryFailure,
} from '@quarry/test-kit';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { ExtractedAttachment, PageImage, ParseLimits } from '../formats/types';
import type { ExtractedPage } from '../types';
import { TesseractCliEngine } from '../ocr/tesseract-cli';
import { rasterizeImage, rotateImage } from './rasterize-image';

// These run the real tesseract, poppler or sharp: seconds per test on a busy two-core machine, not Jest's 5 s.
jest.setTimeout(30_000);

const limits: ParseLimits = {
  maxPages: 50,
  maxPixels: 40_000_000,
  maxArchiveEntries: 1000,
  maxUncompressedBytes: 100 << 20,
};
const FOX = 'The quick brown fox jumps over the lazy dog.';
const JUGS = 'Pack my box with five dozen liquor jugs.';
const engine = new TesseractCliEngine({ concurrency: 2 });
const ocr = (imagePath: string): Promise<string> =>
  engine
    .recognize(imagePath, { languages: ['eng'], timeoutMs: 30_000, maxMemoryMb: 500 })
    .then((result) => result.text);

describe('rasterizeImage', () => {
  let root: string;
  let n = 0;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'quarry-images-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** Runs the parser on `bytes` in a fresh folder and collects what it reports. */
  async function parse(
    bytes: Uint8Array,
    type: DetectedType,
    overrides: Partial<ParseLimits> = {},
  ): Promise<{ images: PageImage[]; input: string; workDir: string }> {
    const dir = path.join(root, String(++n));
    const workDir = path.join(dir, 'work');
    await mkdir(workDir, { recursive: true });
    const input = path.join(dir, 'upload');
    await writeFile(input, bytes);
    const images: PageImage[] = [];
    const pages: ExtractedPage[] = [];
    const attachments: ExtractedAttachment[] = [];
    await rasterizeImage(
      { path: input, type, workDir, limits: { ...limits, ...overrides } },
      {
        image: (image) => void images.push(image),
        page: (page) => void pages.push(page),
        attachment: (attachment) => void attachments.push(attachment),
      },
    );
    expect(pages).toEqual([]);
    expect(attachments).toEqual([]);
    return { images, input, workDir };
  }

  it('hands a plain grayscale PNG on as it is, as a link in the work folder', async () => {
    const png = await renderTextPng([FOX]);
    const { images, input, workDir } = await parse(png, 'png');
    expect(images).toEqual([
      { pageNumber: 1, path: path.join(workDir, 'page-1.png'), width: 2550, height: 3300 },
    ]);
    const [image] = images;
    expect((await stat(image!.path)).ino).toBe((await stat(input)).ino);
    // Deleting the page image after OCR leaves the upload alone.
    await rm(image!.path);
    await expect(readFile(input)).resolves.toEqual(png);
  });

  it('re-encodes a PNG with transparency onto white', async () => {
    const rgba = await sharp(await renderTextPng([FOX], { dpi: 150 }))
      .ensureAlpha(0.9)
      .png()
      .toBuffer();
    const { images, input } = await parse(rgba, 'png');
    expect(images).toHaveLength(1);
    expect(images[0]?.path).not.toBe(input);
    const meta = await sharp(images[0]!.path).metadata();
    expect(meta.hasAlpha).toBe(false);
    expect(meta.channels).toBe(1);
    await expect(ocr(images[0]!.path)).resolves.toBe(FOX);
  });

  it('turns a photo by its EXIF orientation, so it reads upright', async () => {
    const { images } = await parse(await makeRotatedPhotoJpeg([FOX, JUGS]), 'jpeg');
    expect(images).toHaveLength(1);
    // Stored 2200 × 1700 (landscape), shown portrait.
    expect(images[0]).toMatchObject({ width: 1700, height: 2200 });
    await expect(ocr(images[0]!.path)).resolves.toBe(`${FOX}\n${JUGS}`);
  });

  it('gives one page image per frame of a multi-page TIFF', async () => {
    const tiff = await makeMultiPageTiff([
      ['First frame says alpha.'],
      ['Second frame says beta.'],
      ['Third frame says gamma.'],
    ]);
    const { images } = await parse(tiff, 'tiff');
    expect(images.map((image) => image.pageNumber)).toEqual([1, 2, 3]);
    const texts = await Promise.all(images.map((image) => ocr(image.path)));
    expect(texts).toEqual(['First frame says alpha.', 'Second frame says beta.', 'Third frame says gamma.']);
  });

  it('refuses a TIFF with more frames than pages allowed', async () => {
    const tiff = await makeMultiPageTiff([['one'], ['two'], ['three']]);
    const error = await quarryFailure(parse(tiff, 'tiff', { maxPages: 2 }));
    expect(error.code).toBe('too_many_pages');
    expect(error.details).toMatchObject({ pages: 3, maxPages: 2 });
  });

  it('refuses a pixel bomb from its header, quickly and without decoding it', async () => {
    const bomb = makeTiffPixelBomb();
    expect(bomb.length).toBeLessThan(1000);
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const error = await quarryFailure(parse(bomb, 'tiff'));
    expect(error.code).toBe('too_many_pixels');
    expect(error.details).toMatchObject({ width: 100_000, height: 100_000 });
    expect(performance.now() - started).toBeLessThan(2000);
    // Decoding would need 10 GB; reading the header needs nothing worth measuring.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 << 20);
  });

  it('refuses a pixel bomb hidden behind an innocent first frame, before writing any page', async () => {
    const dirCountBefore = n;
    const error = await quarryFailure(parse(makeTiffPixelBomb({ afterSmallFrame: true }), 'tiff'));
    expect(error.code).toBe('too_many_pixels');
    expect(error.details).toMatchObject({ frame: 2 });
    const workDir = path.join(root, String(dirCountBefore + 1), 'work');
    expect(await readdir(workDir)).toEqual([]);
  });

  it('reads WebP, and only the first frame of an animated GIF', async () => {
    const webp = await parse(await makeWebp([FOX]), 'webp');
    await expect(ocr(webp.images[0]!.path)).resolves.toBe(FOX);

    const gif = await parse(await makeGif([[FOX], ['A second frame nobody reads.']]), 'gif');
    expect(gif.images).toHaveLength(1);
    await expect(ocr(gif.images[0]!.path)).resolves.toBe(FOX);
  });

  it('checks a BMP from its header and hands it on for tesseract to read', async () => {
    const { images } = await parse(await makeBmp([FOX]), 'bmp');
    expect(images).toHaveLength(1);
    expect(images[0]).toMatchObject({ width: 1275, height: 1650 });
    await expect(ocr(images[0]!.path)).resolves.toBe(FOX);

    const big = await quarryFailure(parse(await makeBmp([FOX]), 'bmp', { maxPixels: 1_000_000 }));
    expect(big.code).toBe('too_many_pixels');
    const cut = await quarryFailure(parse(await makeBmp([FOX], { truncate: true }), 'bmp'));
    expect(cut.code).toBe('corrupt_image');
    const garbage = await quarryFailure(parse(Buffer.from('BMnot really a bitmap at all'), 'bmp'));
    expect(garbage.code).toBe('corrupt_image');
  });

  it('decodes a bit-field BMP (compression 3), which tesseract cannot read, into a PNG page', async () => {
    const { images } = await parse(await makeBitfieldsBmp([FOX]), 'bmp');
    expect(images).toHaveLength(1);
    expect(images[0]!.path.endsWith('.png')).toBe(true);
    await expect(ocr(images[0]!.path)).resolves.toBe(FOX);
  });

  it('gives corrupt_image for a truncated JPEG and for garbage', async () => {
    const truncated = await quarryFailure(parse(await makeTruncatedJpeg([FOX]), 'jpeg'));
    expect(truncated.code).toBe('corrupt_image');
    const garbage = await quarryFailure(
      parse(Buffer.from('\x89PNG\r\n\x1a\nthis is not the rest of a PNG'), 'png'),
    );
    expect(garbage.code).toBe('corrupt_image');
  });
});

describe('rotateImage', () => {
  it('turns a PGM page (as pdftoppm renders it) clockwise into a grayscale PNG', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'quarry-rotate-'));
    try {
      await writeFile(path.join(dir, 'page.png'), await renderTextPng([FOX], { dpi: 100 }));
      const pgm = path.join(dir, 'page.pgm');
      const { data, info } = await sharp(path.join(dir, 'page.png'))
        .toColourspace('b-w')
        .raw()
        .toBuffer({ resolveWithObject: true });
      await writeFile(
        pgm,
        Buffer.concat([Buffer.from(`P5\n# a comment\n${info.width} ${info.height}\n255\n`), data]),
      );
      const turned = await rotateImage(pgm, 90, path.join(dir, 'turned.png'));
      const meta = await sharp(turned).metadata();
      expect(meta).toMatchObject({ width: info.height, height: info.width, channels: 1, format: 'png' });
      const back = await rotateImage(turned, 270, path.join(dir, 'back.png'));
      await expect(ocr(back)).resolves.toBe(FOX);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
