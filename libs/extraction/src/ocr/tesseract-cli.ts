import { QuarryError } from '@quarry/contracts';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { runTool, type RunToolOptions, type ToolFailure } from '../native/run-tool';
import type { OcrEngine, OcrOptions, OcrResult, Orientation } from './ocr-engine';
import { Semaphore } from './semaphore';

/**
 * Tesseract parallelises one page with OpenMP by default, which on a busy machine costs about three times the CPU
 * per page for little wall-clock gain; one thread per process and one process per core is much faster overall.
 */
const TESSERACT_ENV = { OMP_THREAD_LIMIT: '1' };
// Page segmentation 3: fully automatic, without orientation and script detection (that is `detectOrientation`).
const PAGE_SEGMENTATION = '3';
const LANGUAGE_CODE = /^[A-Za-z0-9_]+$/;

export interface TesseractCliOptions {
  /** The binary (default `tesseract`, looked up on the PATH). */
  command?: string;
  /** Pages recognised at once, one process each (default: the number of cores). */
  concurrency?: number;
}

/**
 * OCR with the tesseract binary, one process per page, at most `concurrency` at once. Small skew (a few degrees,
 * as scanners leave it) needs nothing here: tesseract's layout analysis finds text lines at their own angle.
 * Pages on their side or upside down are what `detectOrientation` is for.
 */
export class TesseractCliEngine implements OcrEngine {
  readonly kind = 'tesseract-cli';
  readonly concurrency: number;
  private readonly command: string;
  private readonly slots: Semaphore;

  constructor(options: TesseractCliOptions = {}) {
    this.command = options.command ?? 'tesseract';
    this.concurrency = options.concurrency ?? availableParallelism();
    this.slots = new Semaphore(this.concurrency);
  }

  async recognize(imagePath: string, options: OcrOptions): Promise<OcrResult> {
    const args = [
      path.resolve(imagePath),
      'stdout',
      '-l',
      languageArg(options.languages),
      '--psm',
      PAGE_SEGMENTATION,
      ...dpiArgs(options.dpi),
      'tsv',
    ];
    return await this.slots.use(async () => {
      const result = await this.run(args, options, { mapFailure: unreadableImage });
      return parseTesseractTsv(result.stdout.toString('utf8'));
    }, options.signal);
  }

  async detectOrientation(imagePath: string, options: OcrOptions): Promise<Orientation | null> {
    const args = [path.resolve(imagePath), 'stdout', '--psm', '0', ...dpiArgs(options.dpi)];
    return await this.slots.use(async () => {
      // Exit code 1 is how tesseract says "Too few characters. Skipping this page" (and also that osd.traineddata is
      // missing): either way it cannot tell the orientation, which is not the document's failure.
      const result = await this.run(args, options, { okExitCodes: [0, 1] });
      return result.exitCode === 0 ? parseOrientation(result.stdout.toString('utf8')) : null;
    }, options.signal);
  }

  /** One tesseract process under the call's time and memory limits, one OpenMP thread. */
  private run(args: string[], options: OcrOptions, extra: Partial<RunToolOptions>) {
    return runTool(this.command, args, {
      timeoutMs: options.timeoutMs,
      maxMemoryMb: options.maxMemoryMb,
      env: TESSERACT_ENV,
      signal: options.signal,
      ...extra,
    });
  }

  /** The languages this binary has traineddata for (`osd` included). */
  listLanguages(timeoutMs?: number): Promise<string[]> {
    return listTesseractLanguages(this.command, timeoutMs);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The languages the tesseract binary has traineddata for (`osd` included), or a failure when it does not run. */
export async function listTesseractLanguages(command = 'tesseract', timeoutMs = 10_000): Promise<string[]> {
  const result = await runTool(command, ['--list-langs'], { timeoutMs, env: TESSERACT_ENV });
  // Tesseract 5 lists on stdout, 4 on stderr; the first line is the heading naming the tessdata folder.
  const listing = result.stdout.length > 0 ? result.stdout.toString('utf8') : result.stderr;
  return listing
    .split('\n')
    .slice(1)
    .map((line) => line.trim())
    .filter((line) => LANGUAGE_CODE.test(line));
}

/**
 * Turns tesseract's TSV output (one row per page, block, paragraph, line and word; words are level 5) into page
 * text: words joined by spaces, lines by a newline, paragraphs and blocks by a blank line. The confidence is the
 * mean of the words' confidences (rows with -1 carry none), 0 when there are no words.
 */
export function parseTesseractTsv(tsv: string): OcrResult {
  let text = '';
  let words = 0;
  let confidenceSum = 0;
  let confident = 0;
  let previous: { page: string; block: string; par: string; line: string } | undefined;
  for (const row of tsv.split('\n')) {
    const cols = row.split('\t');
    if (cols[0] !== '5' || cols.length < 12) continue;
    const word = cols.slice(11).join(' ').trim();
    if (word === '') continue;
    const [, page = '', block = '', par = '', line = ''] = cols;
    if (previous === undefined) {
      // First word of the page.
    } else if (previous.page !== page || previous.block !== block || previous.par !== par) {
      text += '\n\n';
    } else if (previous.line !== line) {
      text += '\n';
    } else {
      text += ' ';
    }
    text += word;
    previous = { page, block, par, line };
    words++;
    const confidence = Number(cols[10]);
    if (Number.isFinite(confidence) && confidence >= 0) {
      confidenceSum += confidence;
      confident++;
    }
  }
  const confidence = confident === 0 ? 0 : Math.round((confidenceSum / confident) * 100) / 100;
  // Fonts and noise can come out as NULs, which PostgreSQL text columns reject.
  return { text: text.replace(/\0/g, ''), confidence, words };
}

/** Reads `Rotate:` and `Orientation confidence:` from tesseract's `--psm 0` report. */
export function parseOrientation(report: string): Orientation | null {
  const rotate = /^Rotate:\s*(\d+)/m.exec(report)?.[1];
  const confidence = /^Orientation confidence:\s*([\d.]+)/m.exec(report)?.[1];
  if (rotate === undefined || confidence === undefined) return null;
  const degrees = Number(rotate);
  if (degrees !== 0 && degrees !== 90 && degrees !== 180 && degrees !== 270) return null;
  return { rotate: degrees, confidence: Number(confidence) };
}

function languageArg(languages: readonly string[]): string {
  if (languages.length === 0) throw new RangeError('OCR needs at least one language');
  const bad = languages.find((language) => !LANGUAGE_CODE.test(language));
  if (bad !== undefined) throw new RangeError(`Not a tesseract language code: ${JSON.stringify(bad)}`);
  return languages.join('+');
}

function dpiArgs(dpi: number | undefined): string[] {
  return dpi === undefined ? [] : ['--dpi', String(Math.round(dpi))];
}

/** Leptonica's words for an image it cannot decode, which is the image's failure rather than tesseract's. */
function unreadableImage(failure: ToolFailure): Error | undefined {
  if (
    !/cannot be read|Error in pixRead|Error in findFileFormat|Unsupported image type|truncated/i.test(
      failure.stderr,
    )
  ) {
    return undefined;
  }
  return new QuarryError('corrupt_image', 'The image could not be decoded for OCR', {
    details: { tool: 'tesseract', stderr: failure.stderr.trim() },
  });
}
