import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PDFDocument, PDFName, PDFString } from 'pdf-lib';
import sharp from 'sharp';
import { makeTestPdf } from './make-test-pdf';

const run = promisify(execFile);

/**
 * Scanned-document fixtures: text rendered to pixels (a letter page, 12 pt Helvetica, through poppler's pdftoppm,
 * which tests have installed), in the image formats and PDF shapes the OCR path must read. Test-only.
 */

export interface RenderOptions {
  /** Resolution of the rendering (default 300, a typical scan). */
  dpi?: number;
}

/** A grayscale PNG of a letter page with `lines` on it (an empty string is a blank line), like a scan at `dpi`. */
export async function renderTextPng(lines: string[], options: RenderOptions = {}): Promise<Buffer> {
  const dpi = options.dpi ?? 300;
  const pdf = await makeTestPdf([lines]);
  const dir = await mkdtemp(path.join(tmpdir(), 'quarry-scan-'));
  try {
    await writeFile(path.join(dir, 'page.pdf'), pdf);
    await run('pdftoppm', ['-png', '-r', String(dpi), '-singlefile', 'page.pdf', 'page'], { cwd: dir });
    // Poppler 22 ignores -gray for PNG output; one channel keeps the fixture like a grayscale scan.
    return await sharp(await readFile(path.join(dir, 'page.png')))
      .toColourspace('b-w')
      .withMetadata({ density: dpi })
      .png()
      .toBuffer();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An image-only PDF: one full-page picture per entry, no text layer at all. */
export async function makeScannedPdf(pages: string[][], options: RenderOptions = {}): Promise<Uint8Array> {
  const doc = await PDFDocument.create({ updateMetadata: false });
  for (const lines of pages) await addScannedPage(doc, lines, options.dpi ?? 200);
  return doc.save();
}

/** Page 1 has a real text layer, page 2 is a picture of text (a scanned page appended to a born-digital PDF). */
export async function makeMixedPdf(
  textPage: string[],
  scannedPage: string[],
  options: RenderOptions = {},
): Promise<Uint8Array> {
  const doc = await PDFDocument.load(await makeTestPdf([textPage]), { updateMetadata: false });
  await addScannedPage(doc, scannedPage, options.dpi ?? 200);
  return doc.save();
}

async function addScannedPage(doc: PDFDocument, lines: string[], dpi: number): Promise<void> {
  const image = await doc.embedPng(await renderTextPng(lines, { dpi }));
  const page = doc.addPage([612, 792]);
  page.drawImage(image, { x: 0, y: 0, width: 612, height: 792 });
}

/**
 * A JPEG "photo" of a page whose pixels are stored turned 90° anticlockwise, with EXIF orientation 6 ("rotate 90°
 * clockwise to display"), so a viewer that honours EXIF shows it upright and one that ignores it shows it sideways.
 */
export async function makeRotatedPhotoJpeg(lines: string[], options: RenderOptions = {}): Promise<Buffer> {
  const upright = await renderTextPng(lines, { dpi: options.dpi ?? 200 });
  const stored = await sharp(upright).rotate(270).toBuffer();
  return sharp(stored).jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).toBuffer();
}

/** A multi-page TIFF, one frame per entry (LZW, grayscale). */
export async function makeMultiPageTiff(pages: string[][], options: RenderOptions = {}): Promise<Buffer> {
  const frames = await Promise.all(pages.map((lines) => renderTextPng(lines, { dpi: options.dpi ?? 150 })));
  return sharp(frames, { join: { animated: true } })
    .toColourspace('b-w')
    .tiff({ compression: 'lzw' })
    .toBuffer();
}

/**
 * A baseline TIFF of a few hundred bytes whose header claims `width` × `height` 8-bit gray pixels (10 gigapixels
 * by default): a decompression bomb that must be refused from its header, before anything is decoded. With
 * `afterSmallFrame` the bomb is the second frame, behind an innocent 64 × 64 white one.
 */
export function makeTiffPixelBomb(
  options: { width?: number; height?: number; afterSmallFrame?: boolean } = {},
): Buffer {
  const width = options.width ?? 100_000;
  const height = options.height ?? 100_000;
  const bomb: TiffFrame = { width, height, rowsPerStrip: height, strips: [Buffer.alloc(64, 0xff)] };
  const small: TiffFrame = { width: 64, height: 64, rowsPerStrip: 64, strips: [Buffer.alloc(64 * 64, 0xff)] };
  return writeTiff(options.afterSmallFrame === true ? [small, bomb] : [bomb]);
}

/** A WebP of a rendered page. */
export async function makeWebp(lines: string[], options: RenderOptions = {}): Promise<Buffer> {
  return sharp(await renderTextPng(lines, { dpi: options.dpi ?? 200 }))
    .webp({ lossless: true })
    .toBuffer();
}

/** A GIF with one frame per entry (an animation): only the first frame is a page. */
export async function makeGif(frames: string[][], options: RenderOptions = {}): Promise<Buffer> {
  const pngs = await Promise.all(frames.map((lines) => renderTextPng(lines, { dpi: options.dpi ?? 150 })));
  const input = pngs.length === 1 ? pngs[0] : pngs;
  return sharp(input, pngs.length === 1 ? {} : { join: { animated: true } })
    .gif({ delay: 1000 })
    .toBuffer();
}

/**
 * An 8-bit grayscale BMP (a 256-entry gray palette, bottom-up rows), written by hand because sharp cannot write
 * BMP; `truncate` cuts the pixel data short.
 */
export async function makeBmp(
  lines: string[],
  options: RenderOptions & { truncate?: boolean } = {},
): Promise<Buffer> {
  const { data, info } = await sharp(await renderTextPng(lines, { dpi: options.dpi ?? 150 }))
    .toColourspace('b-w')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const rowBytes = Math.ceil(info.width / 4) * 4;
  const pixelOffset = 14 + 40 + 256 * 4;
  const file = Buffer.alloc(pixelOffset + rowBytes * info.height);
  file.write('BM', 0, 'latin1');
  file.writeUInt32LE(file.length, 2);
  file.writeUInt32LE(pixelOffset, 10);
  file.writeUInt32LE(40, 14);
  file.writeInt32LE(info.width, 18);
  file.writeInt32LE(info.height, 22);
  file.writeUInt16LE(1, 26);
  file.writeUInt16LE(8, 28);
  file.writeUInt32LE(0, 30);
  file.writeUInt32LE(rowBytes * info.height, 34);
  const pixelsPerMetre = Math.round(((options.dpi ?? 150) / 2.54) * 100);
  file.writeInt32LE(pixelsPerMetre, 38);
  file.writeInt32LE(pixelsPerMetre, 42);
  file.writeUInt32LE(256, 46);
  for (let i = 0; i < 256; i++) file.writeUInt32LE(i * 0x010101, 54 + i * 4);
  for (let y = 0; y < info.height; y++) {
    const source = data.subarray(y * info.width, (y + 1) * info.width);
    source.copy(file, pixelOffset + (info.height - 1 - y) * rowBytes);
  }
  return options.truncate === true ? file.subarray(0, pixelOffset + Math.floor(file.length / 3)) : file;
}

/**
 * A 32-bit BMP with BI_BITFIELDS masks (compression 3), as image editors and Windows write them today, which
 * Leptonica cannot read. Written by hand: sharp cannot write BMP.
 */
export async function makeBitfieldsBmp(lines: string[], options: RenderOptions = {}): Promise<Buffer> {
  const { data, info } = await sharp(await renderTextPng(lines, { dpi: options.dpi ?? 150 }))
    .toColourspace('b-w')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const headerSize = 108; // BITMAPV4HEADER, which carries the masks
  const pixelOffset = 14 + headerSize;
  const file = Buffer.alloc(pixelOffset + info.width * 4 * info.height);
  file.write('BM', 0, 'latin1');
  file.writeUInt32LE(file.length, 2);
  file.writeUInt32LE(pixelOffset, 10);
  file.writeUInt32LE(headerSize, 14);
  file.writeInt32LE(info.width, 18);
  file.writeInt32LE(info.height, 22);
  file.writeUInt16LE(1, 26);
  file.writeUInt16LE(32, 28);
  file.writeUInt32LE(3, 30);
  file.writeUInt32LE(info.width * 4 * info.height, 34);
  file.writeUInt32LE(0x00ff0000, 54); // red mask
  file.writeUInt32LE(0x0000ff00, 58); // green mask
  file.writeUInt32LE(0x000000ff, 62); // blue mask
  file.writeUInt32LE(0xff000000, 66); // alpha mask
  file.write('BGRs', 70, 'latin1'); // LCS_sRGB, stored little-endian
  for (let y = 0; y < info.height; y++) {
    const row = pixelOffset + (info.height - 1 - y) * info.width * 4;
    for (let x = 0; x < info.width; x++) {
      const v = data[y * info.width + x] ?? 255;
      file.writeUInt32LE((0xff000000 | (v << 16) | (v << 8) | v) >>> 0, row + x * 4);
    }
  }
  return file;
}

/** A JPEG cut off halfway through its entropy-coded data. */
export async function makeTruncatedJpeg(lines: string[]): Promise<Buffer> {
  const whole = await sharp(await renderTextPng(lines, { dpi: 150 }))
    .jpeg()
    .toBuffer();
  return whole.subarray(0, Math.floor(whole.length / 2));
}

/** A born-digital PDF that runs JavaScript when opened (an /OpenAction); its text must still be extracted. */
export async function makePdfWithJavaScript(lines: string[]): Promise<Uint8Array> {
  const doc = await PDFDocument.load(await makeTestPdf([lines]), { updateMetadata: false });
  const action = doc.context.obj({ Type: 'Action', S: 'JavaScript' });
  action.set(PDFName.of('JS'), PDFString.of('app.alert("Quarry test: this PDF runs JavaScript");'));
  doc.catalog.set(PDFName.of('OpenAction'), doc.context.register(action));
  return doc.save();
}

/** A born-digital PDF of `pages` pages, each saying its own number ("This is page 7 of 50."). */
export function makeManyPagePdf(pages: number): Promise<Uint8Array> {
  return makeTestPdf(
    Array.from({ length: pages }, (_, i) => [
      `This is page ${i + 1} of ${pages}.`,
      'Quarry turns uploaded documents into searchable text, page by page.',
    ]),
  );
}

interface TiffFrame {
  width: number;
  height: number;
  rowsPerStrip: number;
  strips: Buffer[];
}

/** A little-endian baseline TIFF of 8-bit gray frames (uncompressed strips), one IFD per frame. */
function writeTiff(frames: TiffFrame[]): Buffer {
  const parts: Buffer[] = [];
  let offset = 8;
  const header = Buffer.alloc(8);
  header.write('II', 0, 'latin1');
  header.writeUInt16LE(42, 2);
  parts.push(header);
  const ifdOffsets: number[] = [];
  const ifdBuffers: Buffer[] = [];
  for (const frame of frames) {
    const stripOffsets: number[] = [];
    for (const strip of frame.strips) {
      stripOffsets.push(offset);
      parts.push(strip);
      offset += strip.length;
    }
    if (offset % 2 === 1) {
      parts.push(Buffer.alloc(1));
      offset++;
    }
    // One strip fits in the tag itself; more would need an offset array, which these fixtures never have.
    const entries: Array<[tag: number, type: number, value: number]> = [
      [256, 4, frame.width],
      [257, 4, frame.height],
      [258, 3, 8],
      [259, 3, 1],
      [262, 3, 1],
      [273, 4, stripOffsets[0] ?? 0],
      [277, 3, 1],
      [278, 4, frame.rowsPerStrip],
      [279, 4, frame.strips[0]?.length ?? 0],
    ];
    const ifd = Buffer.alloc(2 + entries.length * 12 + 4);
    ifd.writeUInt16LE(entries.length, 0);
    entries.forEach(([tag, type, value], i) => {
      const at = 2 + i * 12;
      ifd.writeUInt16LE(tag, at);
      ifd.writeUInt16LE(type, at + 2);
      ifd.writeUInt32LE(1, at + 4);
      if (type === 3) ifd.writeUInt16LE(value, at + 8);
      else ifd.writeUInt32LE(value, at + 8);
    });
    ifdOffsets.push(offset);
    ifdBuffers.push(ifd);
    parts.push(ifd);
    offset += ifd.length;
  }
  header.writeUInt32LE(ifdOffsets[0] ?? 0, 4);
  ifdBuffers.forEach((ifd, i) => ifd.writeUInt32LE(ifdOffsets[i + 1] ?? 0, ifd.length - 4));
  return Buffer.concat(parts);
}
