import { QuarryError } from '@quarry/contracts';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ExtractedDocument, ExtractedPage, ExtractOptions } from '../types';
import { joinPageText } from './join-text';
import type { PdfWorkerData, PdfWorkerMessage as WorkerMessage } from './pdf-worker';

interface PdfjsLocation {
  pdfjsUrl: string;
  standardFontDataUrl: string;
  cMapUrl: string;
  wasmUrl: string;
  iccUrl: string;
}

let location: PdfjsLocation | undefined;

/**
 * pdf.js's own data folders, as file-system paths: in Node it reads them with fs.readFile, never over the network.
 * It insists on a trailing slash, which fs accepts on every platform.
 */
function pdfjsLocation(): PdfjsLocation {
  if (location === undefined) {
    const root = path.dirname(require.resolve('pdfjs-dist/package.json'));
    const folder = (name: string): string => `${path.join(root, name)}/`;
    location = {
      pdfjsUrl: pathToFileURL(path.join(root, 'legacy', 'build', 'pdf.mjs')).href,
      standardFontDataUrl: folder('standard_fonts'),
      cMapUrl: folder('cmaps'),
      wasmUrl: folder('wasm'),
      iccUrl: folder('iccs'),
    };
  }
  return location;
}

/**
 * The worker's program: the compiled file next to this one in the build, the TypeScript file itself from the
 * sources, which Node 24 runs by stripping its types (see pdf-worker.ts).
 */
const PDF_WORKER_PROGRAM = path.join(
  __dirname,
  __filename.endsWith('.ts') ? 'pdf-worker.ts' : 'pdf-worker.js',
);

/**
 * The smallest heap the parser may be given. pdf.js alone needs about 13 MB to load, and far below that V8 can abort
 * the whole process (not just the worker) while setting up the isolate: seen at 2 MB on Node 24.21.
 */
export const PDF_MIN_MEMORY_MB = 16;

// Enough of the worker's stderr to explain a crash without keeping a runaway log in memory.
const OUTPUT_TAIL_CHARS = 2000;

// pdf.js decodes streams into ArrayBuffers, which live outside the V8 heap that `resourceLimits` bounds: a 1 MB
// deflate bomb grew one to 1 GB (2.4 GB of process RSS) while the heap stayed small. The parent samples the
// worker's external memory this often and stops it past the same budget as its heap, plus the input it was given.
const EXTERNAL_MEMORY_SAMPLE_MS = 50;
const MIB = 1024 * 1024;

/**
 * Extracts the text layer of a PDF, page by page, with pdf.js in a worker thread that has its own heap limit and
 * is terminated at the deadline, so a hostile or broken document costs one thread, never the process.
 * Pages reach `onPage` in order while later pages are still being parsed; the deadline covers parsing only, not
 * the time `onPage` takes. A page without a text layer comes back with empty text: deciding to OCR it is the caller's job.
 */
export function extractPdfPages(bytes: Uint8Array, options: ExtractOptions): Promise<ExtractedDocument> {
  if (!(options.timeoutMs > 0) || !(options.maxMemoryMb >= PDF_MIN_MEMORY_MB)) {
    return Promise.reject(
      new RangeError(`timeoutMs must be positive and maxMemoryMb at least ${PDF_MIN_MEMORY_MB}`),
    );
  }
  return new Promise<ExtractedDocument>((resolve, reject) => {
    const pages: ExtractedPage[] = [];
    let pageCount: number | undefined;
    let parsed = false;
    let settled = false;
    let delivery: Promise<void> = Promise.resolve();
    let output = '';

    // A private, exactly-sized copy: the caller's array may be a Buffer view into a shared pool, and transferring
    // detaches the buffer, which must never happen to the caller's memory.
    const data = new Uint8Array(bytes.byteLength);
    data.set(bytes);
    const externalBudget = options.maxMemoryMb * MIB + data.byteLength;
    const worker = new Worker(PDF_WORKER_PROGRAM, {
      workerData: { ...pdfjsLocation(), data: data.buffer } satisfies PdfWorkerData,
      transferList: [data.buffer],
      resourceLimits: { maxOldGenerationSizeMb: options.maxMemoryMb },
      stdout: true,
      stderr: true,
    });
    const keepTail = (chunk: Buffer | string): void => {
      output = (output + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
    };
    worker.stdout.on('data', keepTail);
    worker.stderr.on('data', keepTail);

    const timer = setTimeout(() => {
      settle(
        new QuarryError('parser_timeout', `PDF parsing did not finish within ${options.timeoutMs} ms`, {
          details: { timeoutMs: options.timeoutMs, pagesParsed: pages.length },
        }),
      );
    }, options.timeoutMs);

    function settle(error?: Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(sampler);
      // Waiting for termination means no parser thread outlives the call, whatever the outcome.
      worker.terminate().then(
        () =>
          error === undefined ? resolve({ pageCount: pageCount ?? pages.length, pages }) : reject(error),
        (terminateError: unknown) => reject(error ?? asError(terminateError)),
      );
    }

    const crashed = (message: string, cause?: unknown, reason = 'crashed'): QuarryError =>
      new QuarryError('parser_crashed', message, {
        cause,
        details: { reason, pagesParsed: pages.length, ...(output === '' ? {} : { output }) },
      });
    const outOfMemory = (message: string, cause?: unknown): QuarryError =>
      new QuarryError('parser_out_of_memory', message, {
        cause,
        details: {
          maxMemoryMb: options.maxMemoryMb,
          pagesParsed: pages.length,
          ...(output === '' ? {} : { output }),
        },
      });

    // Worker#getHeapStatistics arrived in Node 22.16 and 24; an older runtime has the heap limit only.
    const sampler =
      typeof (worker as { getHeapStatistics?: unknown }).getHeapStatistics === 'function'
        ? setInterval(() => {
            if (parsed) return;
            worker.getHeapStatistics().then(
              (stats) => {
                if (stats.external_memory <= externalBudget) return;
                settle(
                  outOfMemory(
                    `PDF parser ran out of memory (limit ${options.maxMemoryMb} MB for decoded data)`,
                  ),
                );
              },
              // A worker that stopped between two samples is reported by the 'exit' handler, not here.
              () => undefined,
            );
          }, EXTERNAL_MEMORY_SAMPLE_MS)
        : undefined;

    worker.on('message', (value: unknown) => {
      if (settled) return;
      const message = value as WorkerMessage;
      switch (message.type) {
        case 'open':
          pageCount = message.pageCount;
          break;
        case 'page': {
          const page: ExtractedPage = { pageNumber: message.pageNumber, text: joinPageText(message.items) };
          pages.push(page);
          const { onPage } = options;
          if (onPage !== undefined) {
            delivery = delivery.then(async () => {
              if (!settled) await onPage(page);
            });
            // A failing progress callback aborts the extraction with the callback's own error.
            delivery.catch((error: unknown) => settle(asError(error)));
          }
          break;
        }
        case 'done':
          parsed = true;
          clearTimeout(timer);
          delivery.then(
            () => settle(),
            (error: unknown) => settle(asError(error)),
          );
          break;
        case 'failed':
          settle(failureToError(message, crashed));
          break;
        default:
          settle(crashed(`Unexpected message from the PDF worker: ${JSON.stringify(value)}`));
      }
    });
    worker.on('error', (error: Error & { code?: string }) => {
      if (parsed) return;
      if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        settle(outOfMemory(`PDF parser ran out of memory (limit ${options.maxMemoryMb} MB)`, error));
      } else {
        settle(crashed(`PDF parser crashed: ${error.message}`, error));
      }
    });
    worker.on('messageerror', (error: Error) =>
      settle(crashed('Undeliverable message from the PDF worker', error)),
    );
    worker.on('exit', (code: number) => {
      if (!parsed) settle(crashed(`PDF parser exited unexpectedly with code ${code}`, undefined, 'exited'));
    });
  });
}

// A callback may throw anything; a non-Error is wrapped so the promise still rejects with an Error.
function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function failureToError(
  failure: Extract<WorkerMessage, { type: 'failed' }>,
  crashed: (message: string, cause?: unknown) => QuarryError,
): QuarryError {
  const cause = Object.assign(new Error(failure.message), { name: failure.name });
  if (failure.stage === 'load' || failure.stage === 'worker') {
    return crashed(`PDF parser failed to run: ${failure.name}: ${failure.message}`, cause);
  }
  if (failure.name === 'PasswordException') {
    return new QuarryError('encrypted_pdf', 'The PDF is password-protected', { cause });
  }
  const where = failure.pageNumber === undefined ? '' : ` on page ${failure.pageNumber}`;
  return new QuarryError('corrupt_pdf', `The PDF could not be parsed${where}: ${failure.message}`, {
    cause,
    details: {
      pdfjsError: failure.name,
      ...(failure.pageNumber === undefined ? {} : { pageNumber: failure.pageNumber }),
    },
  });
}
