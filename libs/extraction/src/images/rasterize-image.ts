import { QuarryError } from '@quarry/contracts';
import { copyFile, link, open, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Metadata, type Sharp } from 'sharp';
import type { FormatParser, ParseInput, ParserSink } from '../formats/types';

// Compression level 1: a page image lives for seconds, so encoding speed matters more than its size on disk.
const PNG_OPTIONS = { compressionLevel: 1 } as const;
// How far from the end a JPEG's end-of-image marker may sit: cameras and editors append padding and trailers.
const JPEG_TAIL_BYTES = 4096;
const PNG_TAIL_BYTES = 64;

/**
 * The parser for raster images (PNG, JPEG, TIFF, WebP, GIF, BMP): turns each frame into a page image for OCR, in
 * the work folder. Frame
 * count and every frame's size are checked from the headers before any pixel is decoded. A multi-page TIFF gives one
 * page per frame; GIF and WebP give their first frame. EXIF orientation is applied, so a phone photo taken sideways
 * is read upright.
 *
 * A PNG or JPEG that tesseract can read as it is (one frame, no EXIF rotation, no transparency, complete) is handed
 * on untouched: decoding and re-encoding costs about a tenth of the time OCR takes. BMP, which sharp cannot decode,
 * is checked from its header and handed on as it is too (tesseract's image library reads it). "As it is" means a
hard link in the work folder, so the page image can be deleted after OCR like any other.
 */
export const rasterizeImage: FormatParser = async (input, sink) => {
  switch (input.type) {
    case 'bmp':
      await passBmp(input, sink);
      return {};
    case 'png':
    case 'jpeg':
    case 'tiff':
    case 'webp':
    case 'gif':
      await rasterizeWithSharp(input, sink);
      return {};
    default:
      throw new QuarryError('unsupported_type', `${input.type} is not an image format`, {
        details: { detectedType: input.type },
      });
  }
};

/**
 * Turns an image by `degrees` clockwise into a grayscale PNG at `outPath` (for OCR's second try at a page lying on
 * its side). Reads what sharp reads plus binary PGM, which is what PDF pages are rendered to.
 */
export async function rotateImage(imagePath: string, degrees: number, outPath: string): Promise<string> {
  const image = (await isPgm(imagePath)) ? sharpFromPgm(await readFile(imagePath)) : sharp(imagePath);
  await image.rotate(degrees).toColourspace('b-w').png(PNG_OPTIONS).toFile(outPath);
  return outPath;
}

async function rasterizeWithSharp(input: ParseInput, sink: ParserSink): Promise<void> {
  const { maxPages, maxPixels } = input.limits;
  // Headers only: no pixel is decoded here, so the pixel limit is checked below with the real sizes in hand.
  const meta = await readMetadata(input.path, 0);
  const frames = input.type === 'tiff' ? (meta.pages ?? 1) : 1;
  if (frames > maxPages) {
    throw new QuarryError(
      'too_many_pages',
      `The image has ${frames} frames, more than the ${maxPages} allowed`,
      {
        details: { pages: frames, maxPages },
      },
    );
  }
  const sizes: Array<{ width: number; height: number; meta: Metadata }> = [];
  for (let frame = 0; frame < frames; frame++) {
    const frameMeta = frame === 0 ? meta : await readMetadata(input.path, frame);
    const { width, height } = frameMeta;
    if (!(width > 0 && height > 0)) throw corrupt(`frame ${frame + 1} has no size`);
    if (width * height > maxPixels) {
      throw new QuarryError(
        'too_many_pixels',
        `The image is ${width} × ${height} pixels, more than the ${maxPixels} allowed`,
        { details: { width, height, maxPixels, ...(frames > 1 ? { frame: frame + 1 } : {}) } },
      );
    }
    sizes.push({ width, height, meta: frameMeta });
  }

  const first = sizes[0];
  if (frames === 1 && first !== undefined && (await usableAsIs(input.path, first.meta))) {
    const outPath = await linkIntoWorkDir(input, `page-1.${first.meta.format === 'png' ? 'png' : 'jpg'}`);
    sink.image({ pageNumber: 1, path: outPath, width: first.width, height: first.height });
    return;
  }

  for (let frame = 0; frame < frames; frame++) {
    const outPath = path.join(input.workDir, `page-${frame + 1}.png`);
    let info: sharp.OutputInfo;
    try {
      info = await sharp(input.path, { page: frame, limitInputPixels: maxPixels, failOn: 'error' })
        // EXIF (or TIFF) orientation; transparent areas become white paper rather than black.
        .rotate()
        .flatten({ background: '#ffffff' })
        .toColourspace('b-w')
        .png(PNG_OPTIONS)
        .toFile(outPath);
    } catch (error) {
      throw decodeFailure(error, frames > 1 ? frame + 1 : undefined);
    }
    sink.image({ pageNumber: frame + 1, path: outPath, width: info.width, height: info.height });
  }
}

/**
 * The original file as a page image in the work folder, so whoever OCRs it may delete it like any other page image
 * without touching the upload: a hard link costs nothing, a copy is the fallback across file systems.
 */
async function linkIntoWorkDir(input: ParseInput, name: string): Promise<string> {
  const outPath = path.join(input.workDir, name);
  try {
    await link(input.path, outPath);
  } catch (error) {
    if (!isErrno(error, 'EXDEV') && !isErrno(error, 'EPERM')) throw error;
    await copyFile(input.path, outPath);
  }
  return outPath;
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

async function readMetadata(imagePath: string, page: number): Promise<Metadata> {
  try {
    return await sharp(imagePath, { page, limitInputPixels: false }).metadata();
  } catch (error) {
    throw decodeFailure(error, undefined);
  }
}

/**
 * Whether tesseract can be given the file itself: one frame, a format it decodes the same way sharp would, upright
 * as stored, no alpha (which tesseract would not put on white), and not visibly cut short. A file that is damaged
 * in the middle still fails, in OCR, with `corrupt_image`.
 */
async function usableAsIs(imagePath: string, meta: Metadata): Promise<boolean> {
  if (meta.orientation !== undefined && meta.orientation !== 1) return false;
  if (meta.format === 'png') {
    return !meta.hasAlpha && (await tailContains(imagePath, PNG_TAIL_BYTES, Buffer.from('IEND', 'latin1')));
  }
  if (meta.format === 'jpeg') {
    return (
      (meta.space === 'srgb' || meta.space === 'b-w') &&
      (await tailContains(imagePath, JPEG_TAIL_BYTES, Buffer.from([0xff, 0xd9])))
    );
  }
  return false;
}

async function tailContains(filePath: string, tailBytes: number, marker: Buffer): Promise<boolean> {
  const handle = await open(filePath, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, tailBytes);
    const tail = Buffer.alloc(length);
    await handle.read(tail, 0, length, size - length);
    return tail.includes(marker);
  } finally {
    await handle.close();
  }
}

function decodeFailure(error: unknown, frame: number | undefined): QuarryError {
  const message = error instanceof Error ? error.message : String(error);
  if (/exceeds pixel limit/i.test(message)) {
    return new QuarryError('too_many_pixels', 'The image has more pixels than allowed', {
      cause: error,
      details: frame === undefined ? {} : { frame },
    });
  }
  return corrupt(`${frame === undefined ? '' : `frame ${frame}: `}${firstLine(message)}`, error);
}

function corrupt(reason: string, cause?: unknown): QuarryError {
  return new QuarryError('corrupt_image', `The image could not be decoded: ${reason}`, {
    cause,
    details: { reason },
  });
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

// BMP: Windows bitmap header (14 bytes) followed by a DIB header, of which the 12-byte OS/2 core header and the
// 40-byte-or-longer BITMAPINFOHEADER family exist in the wild.
const BMP_FILE_HEADER = 14;
const BMP_CORE_HEADER = 12;
const BMP_INFO_HEADER = 40;
const BMP_BIT_COUNTS = new Set([1, 4, 8, 16, 24, 32]);

/**
 * Checks a BMP from its headers and hands the file itself on. Tesseract's image library (Leptonica) reads only
 * uncompressed bitmaps, so RLE and bit-field variants are refused here with a clear reason rather than failing in OCR.
 */
async function passBmp(input: ParseInput, sink: ParserSink): Promise<void> {
  const { size } = await stat(input.path);
  const header = Buffer.alloc(BMP_FILE_HEADER + BMP_INFO_HEADER);
  const handle = await open(input.path, 'r');
  let read: number;
  try {
    ({ bytesRead: read } = await handle.read(header, 0, header.length, 0));
  } finally {
    await handle.close();
  }
  if (read < BMP_FILE_HEADER + BMP_CORE_HEADER || header.toString('latin1', 0, 2) !== 'BM') {
    throw corrupt('not a BMP file header');
  }
  const pixelOffset = header.readUInt32LE(10);
  const dibSize = header.readUInt32LE(14);
  let width: number;
  let height: number;
  let planes: number;
  let bitCount: number;
  let compression = 0;
  if (dibSize === BMP_CORE_HEADER) {
    width = header.readUInt16LE(18);
    height = header.readUInt16LE(20);
    planes = header.readUInt16LE(22);
    bitCount = header.readUInt16LE(24);
  } else if (dibSize >= BMP_INFO_HEADER && read >= BMP_FILE_HEADER + BMP_INFO_HEADER) {
    width = header.readInt32LE(18);
    // Negative height means rows stored top-down.
    height = Math.abs(header.readInt32LE(22));
    planes = header.readUInt16LE(26);
    bitCount = header.readUInt16LE(28);
    compression = header.readUInt32LE(30);
  } else {
    throw corrupt(`unknown BMP header size ${dibSize}`);
  }
  if (!(width > 0 && height > 0) || planes !== 1 || !BMP_BIT_COUNTS.has(bitCount)) {
    throw corrupt(`impossible BMP header (${width} × ${height}, ${planes} planes, ${bitCount} bits)`);
  }
  if (width * height > input.limits.maxPixels) {
    throw new QuarryError(
      'too_many_pixels',
      `The image is ${width} × ${height} pixels, more than the ${input.limits.maxPixels} allowed`,
      { details: { width, height, maxPixels: input.limits.maxPixels } },
    );
  }
  if (compression !== 0) {
    // Leptonica reads only uncompressed BMPs; bit-field (32-bit with masks, the common kind today) and RLE ones
    // are decoded by Skia, which sharp lacks and @napi-rs/canvas brings, then handed on as PNG.
    sink.image({ pageNumber: 1, path: await bmpToPng(input, width, height), width, height });
    return;
  }
  const rowBytes = Math.ceil((width * bitCount) / 32) * 4;
  if (pixelOffset < BMP_FILE_HEADER + dibSize || pixelOffset + rowBytes * height > size) {
    throw corrupt(
      `the BMP pixel data is cut short (${size} bytes for ${width} × ${height} at ${bitCount} bits)`,
    );
  }
  sink.image({ pageNumber: 1, path: await linkIntoWorkDir(input, 'page-1.bmp'), width, height });
}

async function isPgm(filePath: string): Promise<boolean> {
  const handle = await open(filePath, 'r');
  try {
    const magic = Buffer.alloc(3);
    await handle.read(magic, 0, 3, 0);
    return magic.toString('latin1', 0, 2) === 'P5' && /\s/.test(String.fromCharCode(magic[2] ?? 0));
  } finally {
    await handle.close();
  }
}

/** Binary PGM with 8-bit samples (what pdftoppm -gray writes) as raw pixels sharp can take. */
function sharpFromPgm(data: Buffer): Sharp {
  // Header: "P5", width, height, maxval, each separated by whitespace (comments are allowed between them).
  const fields: number[] = [];
  let at = 2;
  while (fields.length < 3) {
    while (at < data.length && /\s/.test(String.fromCharCode(data[at] ?? 0))) at++;
    if (data[at] === 0x23) {
      while (at < data.length && data[at] !== 0x0a) at++;
      continue;
    }
    const start = at;
    while (at < data.length && (data[at] ?? 0) >= 0x30 && (data[at] ?? 0) <= 0x39) at++;
    if (at === start) throw corrupt('bad PGM header');
    fields.push(Number(data.toString('latin1', start, at)));
  }
  const [width = 0, height = 0, maxval = 0] = fields;
  const pixels = data.subarray(at + 1);
  if (maxval !== 255 || pixels.length < width * height) throw corrupt('unsupported or short PGM');
  return sharp(pixels.subarray(0, width * height), { raw: { width, height, channels: 1 } });
}

/** A compressed BMP drawn on white (its alpha, if any, over paper) and written as a PNG page image. */
async function bmpToPng(input: ParseInput, width: number, height: number): Promise<string> {
  const { createCanvas, loadImage } = await import('@napi-rs/canvas');
  let image;
  try {
    image = await loadImage(await readFile(input.path));
  } catch (error) {
    throw corrupt(
      `the compressed BMP could not be decoded: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const canvas = createCanvas(width, height);
  const context = canvas.getContext('2d');
  context.fillStyle = '#ffffff';
  context.fillRect(0, 0, width, height);
  context.drawImage(image, 0, 0);
  const out = path.join(input.workDir, 'page-1.png');
  await writeFile(out, await canvas.encode('png'));
  return out;
}
