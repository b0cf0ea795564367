import { QuarryError } from '@quarry/contracts';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PageImage, ParseLimits } from '../formats/types';
import { rotateImage } from '../images/rasterize-image';
import type { OcrEngine } from '../ocr/ocr-engine';
import { ocrPageImages } from '../ocr/ocr-pages';
import type { ExtractedDocument, ExtractedPage } from '../types';
import { extractPdfPages, PDF_MIN_MEMORY_MB } from './extract-pdf';
import { pdfPageSizes, pdfTextPages, popplerAvailable, renderPdfPage, type PdfPageSize } from './poppler';

export interface PdfOcrOptions {
  engine: OcrEngine;
  languages: readonly string[];
  /** Resolution pages are rendered at for OCR (default 300), lowered for a page too large for `maxPixels`. */
  dpi?: number;
  /** A page whose text layer has fewer non-whitespace characters than this is OCR'd (default 20). */
  minChars?: number;
  /** Below this mean word confidence an OCR'd page is checked for lying on its side (default 50). */
  minConfidence?: number;
  /** Limit on rendering one page, and on each OCR call for it. */
  pageTimeoutMs: number;
}

export interface ExtractPdfDocumentOptions {
  limits: Pick<ParseLimits, 'maxPages' | 'maxPixels'>;
  /** For the whole document, text layer and OCR together. */
  timeoutMs: number;
  /** Memory limit of each poppler and tesseract process, and the heap of the pdf.js thread. */
  maxMemoryMb: number;
  /** Without it pages without a text layer come back with empty text. */
  ocr?: PdfOcrOptions;
  /** Where page images are rendered (default a temporary folder of its own, removed afterwards). */
  workDir?: string;
  signal?: AbortSignal;
  /** Called once, before the first page, as soon as the page count is known (progress reporting). */
  onPageCount?: (pageCount: number) => void;
  /** Called once per page, in page order, as soon as the page and every page before it are done. */
  onPage?: (page: ExtractedPage) => void | Promise<void>;
  /** Whether to use poppler (default: when its tools are installed); pdf.js is used otherwise. */
  poppler?: boolean;
}

const DEFAULT_DPI = 300;
const DEFAULT_MIN_CHARS = 20;
const DEFAULT_MIN_CONFIDENCE = 50;

/**
 * A PDF's text, page by page: the text layer where there is one (poppler's pdftotext, or pdf.js where poppler is not
 * installed or cannot read the file), and OCR of the rendered page where there is (almost) none, so a scanned PDF,
 * a born-digital one and a mix of both all come out whole, each page marked `text_layer` or `ocr`.
 *
 * OCR'd pages are rendered one ahead of the engine's free slots and deleted once read, so a 300-page scan holds a
 * handful of page images at a time, and the process tree stays at the engine's processes plus one pdftoppm.
 * Without poppler nothing can be rendered: pages without a text layer then come back with empty text, for the
 * caller to judge (`no_text`).
 */
export async function extractPdfDocument(
  pdfPath: string,
  options: ExtractPdfDocumentOptions,
): Promise<ExtractedDocument> {
  const deadline = new AbortController();
  let ends = performance.now() + options.timeoutMs;
  let budgetMs = options.timeoutMs;
  const fire = (): void =>
    deadline.abort(
      new QuarryError('parser_timeout', `PDF extraction did not finish within ${budgetMs} ms`, {
        details: { timeoutMs: budgetMs },
      }),
    );
  let timer = setTimeout(fire, options.timeoutMs);
  const clock: Clock = {
    remaining: () => Math.max(1, Math.round(ends - performance.now())),
    // A scan of hundreds of pages takes minutes by nature: each page to OCR adds its own budget to the deadline.
    extend: (ms) => {
      ends += ms;
      budgetMs += ms;
      clearTimeout(timer);
      timer = setTimeout(fire, Math.max(1, ends - performance.now()));
    },
  };
  const signal =
    options.signal === undefined ? deadline.signal : AbortSignal.any([deadline.signal, options.signal]);
  try {
    return await extract(pdfPath, options, signal, clock);
  } catch (error) {
    // A tool stopped by the deadline reports the abort; the deadline's own error says what happened.
    throw signal.aborted && signal.reason instanceof Error ? signal.reason : error;
  } finally {
    clearTimeout(timer);
  }
}

/** The document's deadline: what is left of it, and more of it for the pages that need OCR. */
interface Clock {
  remaining(): number;
  extend(ms: number): void;
}

async function extract(
  pdfPath: string,
  options: ExtractPdfDocumentOptions,
  signal: AbortSignal,
  clock: Clock,
): Promise<ExtractedDocument> {
  const remaining = (): number => clock.remaining();
  const usePoppler = options.poppler ?? (await popplerAvailable());
  const layer = usePoppler
    ? await popplerTextLayer(pdfPath, options, signal, remaining)
    : { ...(await pdfjsTextLayer(pdfPath, options, remaining)), renderable: false };
  const { texts, renderable } = layer;
  const pageCount = texts.length;
  options.onPageCount?.(pageCount);

  const pages: ExtractedPage[] = [];
  const ordered = new InOrder(pageCount, async (page) => {
    pages.push(page);
    await options.onPage?.(page);
  });
  const { ocr } = options;
  const minChars = ocr?.minChars ?? DEFAULT_MIN_CHARS;
  const needsOcr = texts.map((text) => ocr !== undefined && renderable && !hasVisibleChars(text, minChars));
  texts.forEach((text, i) => {
    if (!needsOcr[i]) ordered.set(i, { pageNumber: i + 1, text, method: 'text_layer' });
  });
  // The text-layer pages before the first page that needs OCR go out now, not after the OCR.
  await ordered.flushed();

  if (ocr !== undefined && needsOcr.some(Boolean)) {
    // Pages are read `concurrency` at once, each bounded by pageTimeoutMs (rendering and OCR, orientation retry).
    const ocrPageCount = needsOcr.filter(Boolean).length;
    clock.extend(Math.ceil(ocrPageCount / Math.max(1, ocr.engine.concurrency)) * ocr.pageTimeoutMs * 2);
    const sizes = await pdfPageSizes(pdfPath, {
      lastPage: pageCount,
      timeoutMs: remaining(),
      maxMemoryMb: options.maxMemoryMb,
      signal,
    });
    const workDir = options.workDir ?? (await mkdtemp(path.join(tmpdir(), 'quarry-pdf-')));
    try {
      await ocrPages(
        pdfPath,
        { ...options, ocr },
        { texts, needsOcr, sizes: sizes.pages, workDir, ordered },
        signal,
        remaining,
      );
    } finally {
      if (options.workDir === undefined) await rm(workDir, { recursive: true, force: true });
    }
  }
  await ordered.drained();
  return { pageCount, pages };
}

interface OcrPlan {
  texts: readonly string[];
  needsOcr: readonly boolean[];
  sizes: readonly PdfPageSize[];
  workDir: string;
  ordered: InOrder;
}

async function ocrPages(
  pdfPath: string,
  options: ExtractPdfDocumentOptions & { ocr: PdfOcrOptions },
  plan: OcrPlan,
  signal: AbortSignal,
  remaining: () => number,
): Promise<void> {
  const { ocr } = options;
  const dpiOf = new Map<number, number>();
  const sizeOf = new Map(plan.sizes.map((size) => [size.pageNumber, size]));

  async function* rendered(): AsyncGenerator<PageImage> {
    for (let i = 0; i < plan.texts.length; i++) {
      if (!plan.needsOcr[i]) continue;
      const pageNumber = i + 1;
      const page = await renderPdfPage(pdfPath, pageNumber, {
        dpi: ocr.dpi ?? DEFAULT_DPI,
        maxPixels: options.limits.maxPixels,
        outPath: path.join(plan.workDir, `page-${pageNumber}.pgm`),
        size: sizeOf.get(pageNumber),
        timeoutMs: Math.min(ocr.pageTimeoutMs, remaining()),
        maxMemoryMb: options.maxMemoryMb,
        signal,
      });
      dpiOf.set(pageNumber, page.dpi);
      yield { pageNumber, path: page.path, width: page.width, height: page.height };
    }
  }

  await ocrPageImages(
    rendered(),
    ocr.engine,
    {
      languages: ocr.languages,
      dpi: (image) => dpiOf.get(image.pageNumber),
      timeoutMs: ocr.pageTimeoutMs,
      maxMemoryMb: options.maxMemoryMb,
      minConfidence: ocr.minConfidence ?? DEFAULT_MIN_CONFIDENCE,
      signal,
      rotate: (imagePath, degrees) => rotateImage(imagePath, degrees, `${imagePath}.turned.png`),
    },
    async (page) => {
      const layerText = plan.texts[page.pageNumber - 1] ?? '';
      // The OCR text replaces the layer's only when it has more to say (a page whose layer holds just a header).
      const useOcr = visibleChars(page.text) > visibleChars(layerText) || visibleChars(layerText) === 0;
      plan.ordered.set(
        page.pageNumber - 1,
        useOcr ? page : { pageNumber: page.pageNumber, text: layerText, method: 'text_layer' },
      );
      await plan.ordered.flushed();
    },
  );
}

async function popplerTextLayer(
  pdfPath: string,
  options: ExtractPdfDocumentOptions,
  signal: AbortSignal,
  remaining: () => number,
): Promise<{ texts: string[]; renderable: boolean }> {
  const texts: string[] = [];
  try {
    await pdfTextPages(
      pdfPath,
      { maxPages: options.limits.maxPages, timeoutMs: remaining(), maxMemoryMb: options.maxMemoryMb, signal },
      (_pageNumber, text) => void texts.push(text),
    );
    return { texts, renderable: true };
  } catch (error) {
    if (!QuarryError.is(error, 'corrupt_pdf')) throw error;
    // pdf.js recovers some files poppler gives up on (and the other way round): a second opinion before failing.
    const second = await pdfjsTextLayer(pdfPath, options, remaining).then(
      (result) => result,
      () => undefined,
    );
    if (second === undefined || second.texts.length === 0) throw error;
    // poppler could not open the file, so its pages cannot be rendered for OCR either.
    return { texts: second.texts, renderable: false };
  }
}

async function pdfjsTextLayer(
  pdfPath: string,
  options: ExtractPdfDocumentOptions,
  remaining: () => number,
): Promise<{ texts: string[] }> {
  const document = await extractPdfPages(await readFile(pdfPath), {
    timeoutMs: remaining(),
    maxMemoryMb: Math.max(options.maxMemoryMb, PDF_MIN_MEMORY_MB),
  });
  if (document.pageCount > options.limits.maxPages) {
    throw new QuarryError(
      'too_many_pages',
      `The PDF has ${document.pageCount} pages, more than the ${options.limits.maxPages} allowed`,
      { details: { pages: document.pageCount, maxPages: options.limits.maxPages } },
    );
  }
  if (document.pageCount === 0) {
    throw new QuarryError('corrupt_pdf', 'The PDF has no pages', { details: { reason: 'no_pages' } });
  }
  return { texts: document.pages.map((page) => page.text) };
}

const UNICODE_SPACES = new Set([
  0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028,
  0x2029, 0x202f, 0x205f, 0x3000, 0xfeff,
]);

/** Whether the text has at least `count` non-whitespace characters; stops counting there (most pages have many). */
function hasVisibleChars(text: string, count: number): boolean {
  let seen = 0;
  for (let i = 0; i < text.length && seen < count; i++) {
    const c = text.charCodeAt(i);
    // ASCII space and controls, NBSP and the Unicode spaces count as whitespace, as \s does.
    if (c > 32 && c !== 0xa0 && !(c >= 0x1680 && UNICODE_SPACES.has(c))) seen++;
  }
  return seen >= count;
}

function visibleChars(text: string): number {
  return text.replace(/\s+/g, '').length;
}

/**
 * Pages finish out of order (text-layer pages at once, OCR'd ones later) and leave strictly in order: each page is
 * delivered as soon as it and every page before it are set, one delivery at a time.
 */
class InOrder {
  private readonly slots: Array<ExtractedPage | undefined>;
  private next = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly count: number,
    private readonly deliver: (page: ExtractedPage) => Promise<void>,
  ) {
    this.slots = new Array<ExtractedPage | undefined>(count);
  }

  set(index: number, page: ExtractedPage): void {
    this.slots[index] = page;
  }

  /** Delivers every page that is now ready; resolves when they are delivered. */
  flushed(): Promise<void> {
    this.chain = this.chain.then(async () => {
      for (let page = this.slots[this.next]; page !== undefined; page = this.slots[this.next]) {
        this.slots[this.next] = undefined;
        this.next++;
        await this.deliver(page);
      }
    });
    return this.chain;
  }

  async drained(): Promise<void> {
    await this.flushed();
    if (this.next !== this.count) {
      throw new Error(`PDF pages delivered out of step: ${this.next} of ${this.count}`);
    }
  }
}
