import { rm } from 'node:fs/promises';
import type { PageImage } from '../formats/types';
import { abortReason } from '../native/abort-reason';
import type { ExtractedPage } from '../types';
import type { OcrEngine, OcrOptions, OcrResult } from './ocr-engine';

export interface OcrPagesOptions {
  languages: readonly string[];
  /**
   * Resolution of the images when known (rendered PDF pages), for all of them or per image (a page rendered lower to
   * fit the pixel budget); otherwise tesseract estimates it from the text.
   */
  dpi?: number | ((image: PageImage) => number | undefined);
  /** Per OCR call (a page, or its orientation check). */
  timeoutMs: number;
  maxMemoryMb: number;
  /** Below this mean word confidence (0–100) a page is checked for being sideways or upside down. */
  minConfidence: number;
  signal?: AbortSignal;
  /**
   * Writes the image turned `degrees` clockwise and returns the new file's path (sharp's `rotateImage`); without
   * it pages are never turned.
   */
  rotate?: (imagePath: string, degrees: number) => Promise<string>;
}

// Fewer words than this and a page is suspected of lying on its side even when the few it has look confident.
const FEW_WORDS = 5;
// Tesseract's orientation confidence below which its answer is too often wrong to act on.
const MIN_ORIENTATION_CONFIDENCE = 2;

/**
 * OCRs page images, up to `engine.concurrency` at once, and hands the pages to `onPage` strictly in the order the
 * images came, each as soon as it and all before it are done. Images are pulled lazily, one ahead of the free OCR
 * slots, so a 300-page document never has more than about concurrency + 1 page images on disk; each image file is
 * deleted once its page is recognised (and on failure). The first failure stops everything and is thrown once
 * the running OCR calls have been cancelled and their files removed.
 *
 * A page that reads badly (low confidence, or almost no words) is asked for its orientation and, when tesseract is
 * confident it lies on its side or upside down, turned and read again; the better reading is kept. Skew of a few
 * degrees needs no such help: tesseract's layout analysis follows text lines at their own angle.
 */
export async function ocrPageImages(
  images: AsyncIterable<PageImage> | Iterable<PageImage>,
  engine: OcrEngine,
  options: OcrPagesOptions,
  onPage: (page: ExtractedPage) => void | Promise<void>,
): Promise<void> {
  const iterator = toAsyncIterator(images);
  const stop = new AbortController();
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([stop.signal, options.signal]);
  const slots = Math.max(1, engine.concurrency);
  const running = new Set<Promise<void>>();
  const finished = new Map<number, ExtractedPage>();
  let failure: { error: unknown } | undefined;
  let sequence = 0;
  let delivered = 0;
  let delivery: Promise<void> = Promise.resolve();

  const fail = (error: unknown): void => {
    if (failure !== undefined) return;
    failure = { error };
    stop.abort(error);
  };

  // Delivery runs behind recognition: later pages keep being recognised while onPage awaits an earlier one.
  const deliverReady = (): void => {
    delivery = delivery.then(async () => {
      for (let page = finished.get(delivered); page !== undefined; page = finished.get(delivered)) {
        if (failure !== undefined) return;
        finished.delete(delivered);
        delivered++;
        await onPage(page);
      }
    });
    delivery.catch(fail);
  };

  const start = (image: PageImage, index: number): void => {
    const task = recognizePage(image, engine, options, signal).then((page) => {
      finished.set(index, page);
      deliverReady();
    }, fail);
    running.add(task);
    void task.finally(() => running.delete(task));
  };

  let next: Promise<IteratorResult<PageImage>> | undefined;
  let exhausted = false;
  try {
    while (failure === undefined) {
      // The look-ahead: the next image is rendered (or read) while the slots are busy.
      if (next === undefined) {
        next = iterator.next();
        // Handled where it is awaited; this only keeps a failure that comes while the slots are busy from being
        // reported as unhandled in the meantime.
        next.catch(() => undefined);
      }
      if (running.size >= slots) {
        await Promise.race(running);
        continue;
      }
      const result = await next;
      next = undefined;
      if (result.done === true) {
        exhausted = true;
        break;
      }
      if (failure !== undefined) {
        await removeFile(result.value.path);
        break;
      }
      start(result.value, sequence++);
    }
  } catch (error) {
    fail(error);
  }
  await Promise.allSettled(running);
  await delivery.catch(fail);

  if (failure !== undefined) {
    if (next !== undefined) {
      // The prefetched image is finished rendering or failing; either way its file must not stay behind.
      const pending = await next.then(
        (r) => r,
        () => undefined,
      );
      if (pending?.done === false) await removeFile(pending.value.path);
    }
    // Lets the image source clean up (a renderer's temporary files); its own failure must not hide the first one.
    if (!exhausted) await iterator.return?.().catch(() => undefined);
    // Cancelled by the caller: whatever the pages in flight died of, the caller's reason is the answer.
    throw options.signal?.aborted === true ? abortReason(options.signal) : failure.error;
  }
  if (delivered !== sequence) {
    // Unreachable unless a page went missing between recognition and delivery: never silently drop one.
    throw new Error(`OCR delivered ${delivered} of ${sequence} pages`);
  }
}

/** OCR of one page image, turning it when it reads like a page on its side; the image file is removed after. */
async function recognizePage(
  image: PageImage,
  engine: OcrEngine,
  options: OcrPagesOptions,
  signal: AbortSignal,
): Promise<ExtractedPage> {
  const ocr: OcrOptions = {
    languages: options.languages,
    dpi: typeof options.dpi === 'function' ? options.dpi(image) : options.dpi,
    timeoutMs: options.timeoutMs,
    maxMemoryMb: options.maxMemoryMb,
    signal,
  };
  let turned: string | undefined;
  try {
    let best = await engine.recognize(image.path, ocr);
    const { rotate } = options;
    if (rotate !== undefined && (best.confidence < options.minConfidence || best.words < FEW_WORDS)) {
      const orientation = await engine.detectOrientation(image.path, ocr);
      if (
        orientation !== null &&
        orientation.rotate !== 0 &&
        orientation.confidence >= MIN_ORIENTATION_CONFIDENCE
      ) {
        turned = await turn(rotate, image.path, orientation.rotate, signal);
        if (turned !== undefined) {
          const second = await engine.recognize(turned, ocr);
          if (better(second, best)) best = second;
        }
      }
    }
    return { pageNumber: image.pageNumber, text: best.text, method: 'ocr', ocrConfidence: best.confidence };
  } finally {
    await removeFile(image.path);
    if (turned !== undefined) await removeFile(turned);
  }
}

/**
 * The turned image, or undefined when it cannot be made (sharp reads no BMP, which tesseract was given as it is):
 * turning is a second chance, so the page keeps its first reading rather than failing the document.
 */
async function turn(
  rotate: (imagePath: string, degrees: number) => Promise<string>,
  imagePath: string,
  degrees: number,
  signal: AbortSignal,
): Promise<string | undefined> {
  try {
    return await rotate(imagePath, degrees);
  } catch (error) {
    if (signal.aborted) throw error;
    return undefined;
  }
}

/**
 * The turned page wins when the sum of its word confidences is higher: a sideways page read as it lies gives either
 * few words or many fragments of low confidence, and the same page turned upright gives many confident words.
 */
function better(candidate: OcrResult, current: OcrResult): boolean {
  return candidate.confidence * candidate.words > current.confidence * current.words;
}

async function removeFile(filePath: string): Promise<void> {
  await rm(filePath, { force: true });
}

function toAsyncIterator<T>(source: AsyncIterable<T> | Iterable<T>): AsyncIterator<T> {
  if (Symbol.asyncIterator in source) return source[Symbol.asyncIterator]();
  const sync = source[Symbol.iterator]();
  return {
    next: () => Promise.resolve(sync.next()),
    return: () => Promise.resolve(sync.return?.() ?? { done: true, value: undefined }),
  };
}
