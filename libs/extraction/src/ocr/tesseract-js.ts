import { QuarryError } from '@quarry/contracts';
import { access, mkdtemp, rm, symlink } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { createWorker, OEM, PSM, type Worker } from 'tesseract.js';
import { abortReason } from '../native/abort-reason';
import type { OcrEngine, OcrOptions, OcrResult, Orientation } from './ocr-engine';
import { Semaphore } from './semaphore';
import { parseTesseractTsv } from './tesseract-cli';

// The LSTM-only integer model: what tesseract.js's default engine mode runs, and a quarter the size of the
// `4.0.0` folder, which adds the legacy engine's data.
const MODEL_FOLDER = '4.0.0_best_int';
const DEFAULT_CREATE_TIMEOUT_MS = 60_000;

export interface TesseractJsOptions {
  languages: readonly string[];
  /** Worker threads, each recognising one page at a time (default: the number of cores). */
  concurrency?: number;
  /**
   * Limit on starting a worker (WebAssembly compilation and loading the models, normally under a second). tesseract.js
   * never settles when a model cannot be loaded; the files are checked first, and this catches the rest.
   */
  createTimeoutMs?: number;
}

/**
 * Where the traineddata of a language lives: the `@tesseract.js-data/<language>` npm package, never the network.
 * Undefined when the package is not installed.
 */
export async function tesseractJsModelFile(language: string): Promise<string | undefined> {
  let root: string;
  try {
    root = path.dirname(require.resolve(`@tesseract.js-data/${language}/package.json`));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
  const file = path.join(root, MODEL_FOLDER, `${language}.traineddata.gz`);
  try {
    await access(file);
    return file;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * OCR with tesseract.js (tesseract compiled to WebAssembly, in worker threads), for machines without the tesseract
 * binary: about twice as slow, and with no memory limit of its own, but needing nothing outside npm. Workers start
 * lazily; one that passes a deadline is terminated and replaced by a fresh one on the next page. It has no
 * orientation model (the npm data packages carry none), so `detectOrientation` cannot tell.
 */
export class TesseractJsEngine implements OcrEngine {
  readonly kind = 'tesseract-js';
  readonly concurrency: number;
  private readonly languages: readonly string[];
  private readonly createTimeoutMs: number;
  private readonly slots: Semaphore;
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  private langPath: Promise<string> | undefined;
  private linkFolder: string | undefined;
  private closed = false;

  constructor(options: TesseractJsOptions) {
    if (options.languages.length === 0) throw new RangeError('OCR needs at least one language');
    this.languages = [...options.languages];
    this.concurrency = options.concurrency ?? availableParallelism();
    this.createTimeoutMs = options.createTimeoutMs ?? DEFAULT_CREATE_TIMEOUT_MS;
    this.slots = new Semaphore(this.concurrency);
  }

  recognize(imagePath: string, options: OcrOptions): Promise<OcrResult> {
    const wanted = options.languages.join('+');
    if (wanted !== this.languages.join('+')) {
      return Promise.reject(
        new RangeError(`This engine was started for ${this.languages.join('+')}, not ${wanted}`),
      );
    }
    return this.slots.use(async () => {
      const worker = await this.takeWorker();
      let reusable = false;
      try {
        const result = await withDeadline(
          (async () => {
            await worker.setParameters({ user_defined_dpi: String(Math.round(options.dpi ?? 0)) });
            return worker.recognize(path.resolve(imagePath), {}, { text: false, tsv: true });
          })(),
          options.timeoutMs,
          options.signal,
          () =>
            new QuarryError('parser_timeout', `OCR of a page did not finish within ${options.timeoutMs} ms`, {
              details: { tool: 'tesseract.js', timeoutMs: options.timeoutMs },
            }),
        );
        reusable = true;
        return parseTesseractTsv(result.data.tsv ?? '');
      } catch (error) {
        // A job tesseract.js rejected leaves the worker usable; one that was cut off mid-page does not.
        reusable = !(QuarryError.is(error, 'parser_timeout') || options.signal?.aborted === true);
        throw error;
      } finally {
        if (reusable && !this.closed) this.idle.push(worker);
        else await this.retire(worker);
      }
    }, options.signal);
  }

  detectOrientation(_imagePath: string, _options: OcrOptions): Promise<Orientation | null> {
    return Promise.resolve(null);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.idle.length = 0;
    await Promise.all([...this.all].map((worker) => this.retire(worker)));
    if (this.linkFolder !== undefined) await rm(this.linkFolder, { recursive: true, force: true });
  }

  private async takeWorker(): Promise<Worker> {
    const ready = this.idle.pop();
    if (ready !== undefined) return ready;
    let failed: unknown;
    const creating = createWorker([...this.languages], OEM.LSTM_ONLY, {
      langPath: await this.modelFolder(),
      // The packaged files are gzipped (eng.traineddata.gz); with gzip false tesseract.js looks for a file that
      // does not exist and never settles.
      gzip: true,
      cacheMethod: 'none',
      logger: () => undefined,
      // Without a handler tesseract.js rethrows a failed job inside its message listener, an uncaught exception.
      errorHandler: (error: unknown) => {
        failed ??= error;
      },
    });
    const worker = await withDeadline(
      creating,
      this.createTimeoutMs,
      undefined,
      () =>
        new QuarryError('parser_crashed', `tesseract.js did not start within ${this.createTimeoutMs} ms`, {
          cause: failed,
          details: { tool: 'tesseract.js', reason: 'start_timeout' },
        }),
    );
    this.all.add(worker);
    await worker.setParameters({ tessedit_pageseg_mode: PSM.AUTO });
    return worker;
  }

  private async retire(worker: Worker): Promise<void> {
    this.all.delete(worker);
    await worker.terminate();
  }

  /**
   * tesseract.js reads every language from one folder, `<langPath>/<code>.traineddata.gz`, while each language's
   * package has its own: one language is read in place, several through a folder of symbolic links.
   */
  private modelFolder(): Promise<string> {
    this.langPath ??= (async () => {
      const files = await Promise.all(
        this.languages.map(async (language) => [language, await tesseractJsModelFile(language)] as const),
      );
      const missing = files
        .filter(([, file]) => file === undefined)
        .map(([language]) => `@tesseract.js-data/${language}`);
      if (missing.length > 0) {
        throw new Error(
          `tesseract.js has no model for ${missing.join(', ')}: install the package(s) from npm`,
        );
      }
      const [only, ...others] = files;
      if (only?.[1] !== undefined && others.length === 0) return path.dirname(only[1]);
      const folder = await mkdtemp(path.join(tmpdir(), 'quarry-tessdata-'));
      this.linkFolder = folder;
      for (const [language, file] of files) {
        if (file !== undefined) await symlink(file, path.join(folder, `${language}.traineddata.gz`));
      }
      return folder;
    })();
    return this.langPath;
  }
}

function withDeadline<T>(
  work: Promise<T>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  timeoutError: () => Error,
): Promise<T> {
  if (signal?.aborted === true) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => done(() => reject(timeoutError())), timeoutMs);
    const onAbort = (): void => done(() => reject(abortReason(signal)));
    signal?.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    function done(outcome: () => void): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      outcome();
    }
    work.then(
      (value) => done(() => resolve(value)),
      (error: unknown) => done(() => reject(asOcrError(error))),
    );
  });
}

/** tesseract.js rejects with bare strings; an image it cannot read is the image's fault. */
function asOcrError(error: unknown): Error {
  if (error instanceof Error) return error;
  const message = String(error);
  if (/read image|pixRead|image file/i.test(message)) {
    return new QuarryError('corrupt_image', 'The image could not be decoded for OCR', {
      details: { tool: 'tesseract.js', error: message },
    });
  }
  return new QuarryError('parser_crashed', `tesseract.js failed: ${message}`, {
    details: { tool: 'tesseract.js' },
  });
}
