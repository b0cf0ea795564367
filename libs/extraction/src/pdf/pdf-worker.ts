// The pdf.js worker thread's program, started by `extractPdfPages` with its own heap limit. From the build it runs
// as compiled JavaScript; from the sources (Jest, in-repo tooling) Node 24 runs this file directly, stripping the
// types, so it uses only erasable TypeScript syntax and imports nothing of Quarry at run time: a TypeScript
// loader in the thread would cost heap the parser's 16 MB minimum does not have. Everything it needs (the
// absolute pdf.js URL, the local font and cMap folders, the bytes) comes in through workerData.
//
// Protocol, worker → parent, in order: `open` {pageCount}, one `page` {pageNumber, items} per page, then exactly
// one of `done` or `failed` {name, message, stage, pageNumber?}. The loading task is always destroyed before the
// final message.
import { parentPort, workerData } from 'node:worker_threads';
import type { PackedTextItems } from './join-text';

export type PdfFailureStage = 'load' | 'open' | 'page' | 'worker';

export type PdfWorkerMessage =
  | { type: 'open'; pageCount: number }
  | { type: 'page'; pageNumber: number; items: PackedTextItems }
  | { type: 'done' }
  | {
      type: 'failed';
      stage: PdfFailureStage;
      name: string;
      message: string;
      pageNumber?: number;
      code?: unknown;
    };

export interface PdfWorkerData {
  pdfjsUrl: string;
  standardFontDataUrl: string;
  cMapUrl: string;
  wasmUrl: string;
  iccUrl: string;
  data: ArrayBuffer;
}

/** The part of pdf.js this program uses. */
interface TextItem {
  str?: unknown;
  transform: number[];
  width: number;
  height: number;
  hasEOL?: boolean;
}
interface PdfPage {
  getTextContent(): Promise<{ items: TextItem[] }>;
  cleanup(): void;
}
interface PdfDocument {
  numPages: number;
  getPage(pageNumber: number): Promise<PdfPage>;
}
interface PdfJs {
  getDocument(options: Record<string, unknown>): { promise: Promise<PdfDocument>; destroy(): Promise<void> };
}

function describe(error: unknown): { name: string; message: string; code?: unknown } {
  // pdf.js's own exceptions are objects with a name and a message; anything else is described as it prints.
  if (error !== null && typeof error === 'object') {
    const e = error as { name?: unknown; message?: unknown; code?: unknown };
    const name = typeof e.name === 'string' && e.name !== '' ? e.name : 'Error';
    const message = typeof e.message === 'string' && e.message !== '' ? e.message : JSON.stringify(error);
    return { name, message, ...(e.code === undefined ? {} : { code: e.code }) };
  }
  return { name: 'Error', message: String(error) };
}

function pack(items: TextItem[]): PackedTextItems {
  const strings = items.filter((item): item is TextItem & { str: string } => typeof item.str === 'string');
  const lengths = new Uint32Array(strings.length);
  const geometry = new Float64Array(strings.length * 4);
  const eol = new Uint8Array(strings.length);
  strings.forEach((item, i) => {
    lengths[i] = item.str.length;
    geometry[i * 4] = item.transform[4] ?? 0;
    geometry[i * 4 + 1] = item.transform[5] ?? 0;
    geometry[i * 4 + 2] = item.width;
    geometry[i * 4 + 3] = item.height;
    eol[i] = item.hasEOL ? 1 : 0;
  });
  return { text: strings.map((item) => item.str).join(''), lengths, geometry, eol };
}

async function run(port: NonNullable<typeof parentPort>, input: PdfWorkerData): Promise<void> {
  const post = (message: PdfWorkerMessage, transfer: ArrayBuffer[] = []): void =>
    port.postMessage(message, transfer);
  let pdfjs: PdfJs;
  try {
    pdfjs = (await import(input.pdfjsUrl)) as PdfJs;
  } catch (error) {
    post({ type: 'failed', stage: 'load', ...describe(error) });
    return;
  }
  const loadingTask = pdfjs.getDocument({
    data: new Uint8Array(input.data),
    standardFontDataUrl: input.standardFontDataUrl,
    cMapUrl: input.cMapUrl,
    cMapPacked: true,
    wasmUrl: input.wasmUrl,
    iccUrl: input.iccUrl,
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    disableAutoFetch: true,
    disableStream: true,
    stopAtErrors: false,
    verbosity: 0,
  });
  let final: PdfWorkerMessage = { type: 'done' };
  let stage: PdfFailureStage = 'open';
  let pageNumber = 0;
  try {
    const doc = await loadingTask.promise;
    post({ type: 'open', pageCount: doc.numPages });
    stage = 'page';
    for (pageNumber = 1; pageNumber <= doc.numPages; pageNumber++) {
      const page = await doc.getPage(pageNumber);
      const items = pack((await page.getTextContent()).items);
      page.cleanup();
      post({ type: 'page', pageNumber, items }, [
        items.lengths.buffer as ArrayBuffer,
        items.geometry.buffer as ArrayBuffer,
        items.eol.buffer as ArrayBuffer,
      ]);
    }
  } catch (error) {
    final = { type: 'failed', stage, ...(stage === 'page' ? { pageNumber } : {}), ...describe(error) };
  } finally {
    await loadingTask.destroy();
  }
  post(final);
}

if (parentPort) {
  const port = parentPort;
  run(port, workerData as PdfWorkerData).catch((error: unknown) => {
    port.postMessage({ type: 'failed', stage: 'worker', ...describe(error) } satisfies PdfWorkerMessage);
  });
}
