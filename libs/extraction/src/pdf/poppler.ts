import { QuarryError } from '@quarry/contracts';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { runTool, toolAvailable, type ToolFailure } from '../native/run-tool';

/** Limits every poppler call runs under. */
export interface PopplerLimits {
  timeoutMs: number;
  /** Peak resident memory of the poppler process. */
  maxMemoryMb: number;
  signal?: AbortSignal;
}

export interface PdfPageSize {
  pageNumber: number;
  /** The crop box (what a viewer shows), in points (1/72 inch), before the page's /Rotate. */
  widthPts: number;
  heightPts: number;
  /** The page's /Rotate: 0, 90, 180 or 270. */
  rotation: number;
}

export interface RenderedPage {
  path: string;
  width: number;
  height: number;
  /** The resolution actually used: lower than asked when the page is too large for the pixel budget. */
  dpi: number;
}

// pdfinfo reads only the page tree: far below these unless the file is hostile.
const DEFAULT_LIMITS = { timeoutMs: 30_000, maxMemoryMb: 512 };
const POINTS_PER_INCH = 72;
// Lowest resolution a page is rendered at, whatever its size: below it nothing is legible, and the budget check
// that follows still refuses a page that does not fit.
const MIN_DPI = 1;

/** Whether pdftotext, pdfinfo and pdftoppm can all be started (asked once per process). */
export async function popplerAvailable(): Promise<boolean> {
  const found = await Promise.all(
    ['pdftotext', 'pdfinfo', 'pdftoppm'].map((tool) => toolAvailable(tool, ['-v'])),
  );
  return found.every(Boolean);
}

/**
 * The text layer of each page with pdftotext (about 1 ms a page, against 5–10 ms for pdf.js), delivered to
 * `onPageText` in order while pdftotext is still reading later pages; a slow callback pauses pdftotext. Reading
 * stops at page maxPages + 1, which fails the document with `too_many_pages` without reading the rest.
 *
 * Plain text, pages ended by form feeds: its `-tsv` output marks poppler's blocks (paragraphs) too, but costs 60 %
 * more in pdftotext alone and a parse of every word here, which put the worker at half of pdftotext's speed. Plain
 * text separates only "flows", so paragraph breaks are put back where a line visibly ends one (paragraphBreaks).
 */
export async function pdfTextPages(
  pdfPath: string,
  options: PopplerLimits & { maxPages: number },
  onPageText: (pageNumber: number, text: string) => void | Promise<void>,
): Promise<{ pageCount: number }> {
  const pages = new FormFeedPages();
  let pageCount = 0;

  const deliver = async (text: string): Promise<void> => {
    pageCount++;
    if (pageCount > options.maxPages) {
      throw new QuarryError('too_many_pages', `The PDF has more than the ${options.maxPages} pages allowed`, {
        details: { maxPages: options.maxPages },
      });
    }
    // Fonts without a usable ToUnicode map can yield NULs, which PostgreSQL text columns reject.
    await onPageText(pageCount, paragraphBreaks(text.includes('\0') ? text.replace(/\0/g, '') : text));
  };

  await runTool(
    'pdftotext',
    ['-enc', 'UTF-8', '-l', String(options.maxPages + 1), path.resolve(pdfPath), '-'],
    {
      timeoutMs: options.timeoutMs,
      maxMemoryMb: options.maxMemoryMb,
      signal: options.signal,
      mapFailure: popplerFailure,
      onStdout: async (chunk) => {
        // pdftotext ends every page, the last one too, with a form feed.
        for (const page of pages.push(chunk)) await deliver(page.toString('utf8'));
      },
    },
  );
  const rest = pages.end().toString('utf8');
  if (rest.trim() !== '') await deliver(rest);
  if (pageCount === 0) throw noPages();
  return { pageCount };
}

const FORM_FEED = 0x0c;

/**
 * Cuts a byte stream into pages at form feeds, on the bytes: each page is decoded once, whole. A form feed (0x0c)
 * never occurs inside a multi-byte UTF-8 sequence, so a cut never splits a character, wherever the pipe's reads
 * happened to end.
 */
export class FormFeedPages {
  /** Bytes of the page being read, not yet ended by a form feed. */
  private partial: Buffer[] = [];

  /** The pages this chunk completes, in order. */
  push(chunk: Buffer): Buffer[] {
    const done: Buffer[] = [];
    let start = 0;
    for (let end = chunk.indexOf(FORM_FEED); end >= 0; end = chunk.indexOf(FORM_FEED, start)) {
      const tail = chunk.subarray(start, end);
      done.push(this.partial.length === 0 ? tail : Buffer.concat([...this.partial, tail]));
      this.partial = [];
      start = end + 1;
    }
    if (start < chunk.length) this.partial.push(chunk.subarray(start));
    return done;
  }

  /** What followed the last form feed. */
  end(): Buffer {
    const rest = Buffer.concat(this.partial);
    this.partial = [];
    return rest;
  }
}

// A line this much shorter than the page's full lines, ending a sentence, ends its paragraph.
const SHORT_LINE_SHARE = 0.8;
// Below this many lines a page has no "full line" to compare with.
const MIN_LINES_FOR_REFLOW = 4;
const SENTENCE_END = /[.!?:;…]["'”’)\]]*$/u;

/**
 * A page of pdftotext's plain output with its paragraphs marked by a blank line again. Lines of a paragraph run to
 * the margin; its last line usually stops short after a full stop. Such a line — ending a sentence and clearly
 * shorter than the page's full lines (its 90th-percentile length) — ends a paragraph. The words are untouched;
 * only chunking sees the difference, which splits at paragraphs before it splits inside them.
 */
export function paragraphBreaks(page: string): string {
  const lines = page.trimEnd().split('\n');
  const trimmed = lines.map((l) => l.trim());
  const lengths = trimmed.map((l) => l.length).filter((n) => n > 0);
  if (lengths.length < MIN_LINES_FOR_REFLOW) return lines.join('\n');
  lengths.sort((a, b) => a - b);
  const full = lengths[Math.floor(0.9 * (lengths.length - 1))] ?? 0;
  const shortOf = SHORT_LINE_SHARE * full;
  let out = lines[0] ?? '';
  for (let i = 1; i < lines.length; i++) {
    const line = trimmed[i - 1] ?? '';
    const endsParagraph =
      line !== '' && trimmed[i] !== '' && line.length < shortOf && SENTENCE_END.test(line);
    out += (endsParagraph ? '\n\n' : '\n') + (lines[i] ?? '');
  }
  return out;
}

/** Page count and each page's size and rotation, from pdfinfo, for pages `firstPage` to `lastPage` (default all). */
export async function pdfPageSizes(
  pdfPath: string,
  options: Partial<PopplerLimits> & { firstPage?: number; lastPage?: number } = {},
): Promise<{ pageCount: number; pages: PdfPageSize[] }> {
  const first = options.firstPage ?? 1;
  const args = ['-f', String(first)];
  if (options.lastPage !== undefined) args.push('-l', String(options.lastPage));
  else args.push('-l', String(2 ** 31 - 1));
  const result = await runTool('pdfinfo', [...args, path.resolve(pdfPath)], {
    timeoutMs: options.timeoutMs ?? DEFAULT_LIMITS.timeoutMs,
    maxMemoryMb: options.maxMemoryMb ?? DEFAULT_LIMITS.maxMemoryMb,
    signal: options.signal,
    mapFailure: popplerFailure,
  });
  const report = result.stdout.toString('utf8');
  const pageCount = Number(/^Pages:\s+(\d+)/m.exec(report)?.[1] ?? NaN);
  if (!Number.isInteger(pageCount) || pageCount === 0) throw noPages();
  const rotations = new Map<number, number>();
  for (const match of report.matchAll(/^Page\s+(\d+)\s+rot:\s+(\d+)/gm)) {
    rotations.set(Number(match[1]), Number(match[2]));
  }
  const pages: PdfPageSize[] = [];
  for (const match of report.matchAll(/^Page\s+(\d+)\s+size:\s+([\d.]+)\s+x\s+([\d.]+)\s+pts/gm)) {
    const pageNumber = Number(match[1]);
    pages.push({
      pageNumber,
      widthPts: Number(match[2]),
      heightPts: Number(match[3]),
      rotation: rotations.get(pageNumber) ?? 0,
    });
  }
  return { pageCount, pages };
}

/**
 * The resolution at which a page of this size fits the pixel budget: `dpi` when it does, lower otherwise (a page
 * of absurd size would otherwise be a pixel bomb). Matches pdftoppm, which rounds each side up.
 */
export function fittingDpi(
  size: Pick<PdfPageSize, 'widthPts' | 'heightPts'>,
  dpi: number,
  maxPixels: number,
): number {
  const pixels = (resolution: number): number =>
    Math.ceil((size.widthPts * resolution) / POINTS_PER_INCH) *
    Math.ceil((size.heightPts * resolution) / POINTS_PER_INCH);
  if (pixels(dpi) <= maxPixels) return dpi;
  // The largest resolution, in hundredths, that fits: binary search between the floor and the asked resolution.
  let low = MIN_DPI * 100;
  let high = Math.floor(dpi * 100);
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (pixels(mid / 100) <= maxPixels) low = mid;
    else high = mid - 1;
  }
  return low / 100;
}

/**
 * Renders one page as a grayscale image with pdftoppm, at `dpi` or lower so that it stays within `maxPixels`.
 * The format follows `outPath`: `.pgm` (what OCR should get: written and read many times faster than PNG) or
 * `.png` (poppler 22 writes it in colour even when asked for gray).
 */
export async function renderPdfPage(
  pdfPath: string,
  pageNumber: number,
  options: PopplerLimits & { dpi: number; maxPixels: number; outPath: string; size?: PdfPageSize },
): Promise<RenderedPage> {
  const extension = path.extname(options.outPath).toLowerCase();
  if (extension !== '.pgm' && extension !== '.png') {
    throw new RangeError(`renderPdfPage writes .pgm or .png, not ${options.outPath}`);
  }
  const size =
    options.size ??
    (await pdfPageSizes(pdfPath, { ...options, firstPage: pageNumber, lastPage: pageNumber })).pages[0];
  if (size === undefined) {
    throw new QuarryError('corrupt_pdf', `The PDF has no page ${pageNumber}`, { details: { pageNumber } });
  }
  const dpi = fittingDpi(size, options.dpi, options.maxPixels);
  const prefix = options.outPath.slice(0, -extension.length);
  const format = extension === '.png' ? ['-png', '-gray'] : ['-gray'];
  const page = String(pageNumber);
  await runTool(
    'pdftoppm',
    [
      ...format,
      '-cropbox',
      '-r',
      String(dpi),
      '-f',
      page,
      '-l',
      page,
      '-singlefile',
      path.resolve(pdfPath),
      path.resolve(prefix),
    ],
    {
      timeoutMs: options.timeoutMs,
      maxMemoryMb: options.maxMemoryMb,
      signal: options.signal,
      mapFailure: popplerFailure,
    },
  );
  const { width, height } = await imageSize(options.outPath);
  if (width * height > options.maxPixels) {
    // pdfinfo and pdftoppm disagreed about the page's size; the file must not reach OCR.
    await rm(options.outPath, { force: true });
    throw new QuarryError('too_many_pixels', `Page ${pageNumber} rendered to ${width} × ${height} pixels`, {
      details: { pageNumber, width, height, maxPixels: options.maxPixels },
    });
  }
  return { path: options.outPath, width, height, dpi };
}

/**
 * What poppler's exit codes and messages mean for the document (poppler 22): exit 1 is "cannot open", with
 * "Incorrect password" for an encrypted file and "Syntax Error: Couldn't read xref table" (and similar) for a
 * damaged one; exit 3 is a permissions refusal; exit 99 with "Invalid page count 0" is a document without pages,
 * and with "Wrong page range given" a page number past the end.
 */
export function popplerFailure(failure: ToolFailure): Error | undefined {
  const { exitCode, stderr } = failure;
  const tail = stderr.trim().split('\n').slice(-4).join(' | ');
  if (/Incorrect password/i.test(stderr) || exitCode === 3) {
    return new QuarryError('encrypted_pdf', 'The PDF is password-protected', {
      details: { tool: 'poppler', stderr: tail },
    });
  }
  if (/Invalid page count 0|last page \(0\)/i.test(stderr)) return noPages();
  const range = /first page \((\d+)\) can not be after the last page \((\d+)\)/.exec(stderr);
  if (range !== null) {
    return new QuarryError('corrupt_pdf', `The PDF has no page ${range[1]} (it has ${range[2]})`, {
      details: { tool: 'poppler', pageNumber: Number(range[1]), pageCount: Number(range[2]) },
    });
  }
  if (exitCode === 1 || /Syntax Error|Couldn't|May not be a PDF|not a PDF|Error opening/i.test(stderr)) {
    return new QuarryError('corrupt_pdf', `The PDF could not be parsed: ${tail || `exit code ${exitCode}`}`, {
      details: { tool: 'poppler', exitCode, stderr: tail },
    });
  }
  return undefined;
}

function noPages(): QuarryError {
  return new QuarryError('corrupt_pdf', 'The PDF has no pages', { details: { reason: 'no_pages' } });
}

/** Width and height from a PGM or PNG header. */
async function imageSize(imagePath: string): Promise<{ width: number; height: number }> {
  const handle = await open(imagePath, 'r');
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (head.toString('latin1', 1, 4) === 'PNG' && bytesRead >= 24) {
      return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
    }
    const pgm = /^P5\s+(?:#[^\n]*\n\s*)*(\d+)\s+(\d+)/.exec(head.toString('latin1', 0, bytesRead));
    if (pgm?.[1] !== undefined && pgm[2] !== undefined)
      return { width: Number(pgm[1]), height: Number(pgm[2]) };
    throw new QuarryError('parser_crashed', `pdftoppm wrote an unreadable image ${imagePath}`, {
      details: { tool: 'pdftoppm' },
    });
  } finally {
    await handle.close();
  }
}
