import { IMAGE_TYPES, QuarryError, type DetectedType } from '@quarry/contracts';
import { createHash } from 'node:crypto';
import { describeType, detectFileType } from './detect-type';
import type { ExtractedAttachment, PageImage, ParseLimits } from './formats/types';
import { rotateImage } from './images/rasterize-image';
import type { OcrEngine } from './ocr/ocr-engine';
import { ocrPageImages } from './ocr/ocr-pages';
import { extractPdfDocument } from './pdf/extract-pdf-document';
import type { ParserPool } from './sandbox/parser-pool';
import type { ExtractedPage } from './types';
import path from 'node:path';

/**
 * Bumped whenever a parser change alters what the same bytes give, so documents extracted before the change are
 * parsed again instead of reused (see `extractionKey`).
 */
export const EXTRACTION_VERSION = 2;

export interface ExtractorSettings {
  /** One parser run (a DOCX, a PDF's text layer). */
  timeoutMs: number;
  /** Memory of each parser process or OCR process. */
  maxMemoryMb: number;
  limits: ParseLimits;
  ocr: {
    languages: readonly string[];
    dpi: number;
    /** Below it a page is flagged, and first checked for lying on its side. */
    minConfidence: number;
    pageTimeoutMs: number;
    /** A PDF page with fewer non-blank characters in its text layer is OCR'd. */
    pdfMinChars: number;
  };
}

export interface ExtractionCall {
  workDir: string;
  filenameHint: string;
  signal?: AbortSignal;
  /** In page order, as soon as each page is ready; `total` once the page count is known. */
  onPage?: (page: ExtractedPage, total: number | undefined) => void | Promise<void>;
}

export interface Extraction {
  pageCount: number;
  pages: ExtractedPage[];
  title?: string;
  attachments: ExtractedAttachment[];
}

/**
 * From a document's bytes on disk to its pages: PDFs through poppler (pdf.js as the fallback) with OCR of pages
 * without text, images decoded in a sandbox process and OCR'd, everything else (plain text included) through the
 * sandboxed parser processes. Every parser and OCR call runs with a time and memory limit; what exceeds one fails with its reason.
 */
export class Extractor {
  readonly extractionKey: string;

  constructor(
    private readonly pool: ParserPool,
    private readonly ocr: OcrEngine,
    private readonly settings: ExtractorSettings,
  ) {
    this.extractionKey = extractionKey(settings, ocr.kind);
  }

  detect(file: string, filenameHint: string): Promise<DetectedType> {
    return detectFileType(file, filenameHint);
  }

  async extract(file: string, type: DetectedType, call: ExtractionCall): Promise<Extraction> {
    if (type === 'pdf') return this.pdf(file, call);
    if (IMAGE_TYPES.includes(type)) return this.image(file, type, call);
    if (type === 'zip' || type === 'unknown') {
      throw new QuarryError(
        'unsupported_type',
        `Extracting text from ${describeType(type)} is not supported`,
        {
          details: { detectedType: type },
        },
      );
    }
    return this.parse(file, type, call);
  }

  private async pdf(file: string, call: ExtractionCall): Promise<Extraction> {
    const { ocr, timeoutMs, maxMemoryMb, limits } = this.settings;
    let total: number | undefined;
    const doc = await extractPdfDocument(file, {
      limits,
      timeoutMs,
      maxMemoryMb,
      workDir: call.workDir,
      ...(call.signal ? { signal: call.signal } : {}),
      ocr: {
        engine: this.ocr,
        languages: ocr.languages,
        dpi: ocr.dpi,
        minChars: ocr.pdfMinChars,
        minConfidence: ocr.minConfidence,
        pageTimeoutMs: ocr.pageTimeoutMs,
      },
      onPageCount: (n: number) => {
        total = n;
      },
      onPage: (page) => call.onPage?.(page, total),
    });
    return { pageCount: doc.pageCount, pages: doc.pages, attachments: [] };
  }

  /** The sandbox host decodes the image (and each TIFF frame) to page images; OCR reads them here. */
  private async image(file: string, type: DetectedType, call: ExtractionCall): Promise<Extraction> {
    const images: PageImage[] = [];
    await this.pool.run(this.input(file, type, call), {
      timeoutMs: this.settings.timeoutMs,
      ...(call.signal ? { signal: call.signal } : {}),
      onImage: (image) => void images.push(image),
    });
    const pages: ExtractedPage[] = [];
    const { ocr, maxMemoryMb } = this.settings;
    await ocrPageImages(
      images,
      this.ocr,
      {
        languages: ocr.languages,
        timeoutMs: ocr.pageTimeoutMs,
        maxMemoryMb,
        minConfidence: ocr.minConfidence,
        ...(call.signal ? { signal: call.signal } : {}),
        rotate: (imagePath, degrees) =>
          rotateImage(
            imagePath,
            degrees,
            path.join(call.workDir, `rotated-${degrees}-${path.basename(imagePath)}`),
          ),
      },
      async (page) => {
        pages.push(page);
        await call.onPage?.(page, images.length);
      },
    );
    return { pageCount: pages.length, pages, attachments: [] };
  }

  private async parse(file: string, type: DetectedType, call: ExtractionCall): Promise<Extraction> {
    const pages: ExtractedPage[] = [];
    const attachments: ExtractedAttachment[] = [];
    const meta = await this.pool.run(this.input(file, type, call), {
      timeoutMs: this.settings.timeoutMs,
      ...(call.signal ? { signal: call.signal } : {}),
      onPage: async (page) => {
        pages.push(page);
        await call.onPage?.(page, undefined);
      },
      onAttachment: (attachment) => void attachments.push(attachment),
    });
    return { pageCount: pages.length, pages, attachments, ...(meta.title ? { title: meta.title } : {}) };
  }

  private input(file: string, type: DetectedType, call: ExtractionCall) {
    return {
      path: file,
      type,
      workDir: call.workDir,
      limits: this.settings.limits,
      filenameHint: call.filenameHint,
    };
  }
}

/**
 * What decides the pages the same bytes give: the parser version, the OCR engine and languages, the rendering
 * resolution and the PDF OCR threshold. Limits are left out: they decide whether a document fails, not its pages.
 */
export function extractionKey(settings: ExtractorSettings, engine: OcrEngine['kind']): string {
  const shaping = {
    v: EXTRACTION_VERSION,
    engine,
    languages: [...settings.ocr.languages].sort(),
    dpi: settings.ocr.dpi,
    pdfMinChars: settings.ocr.pdfMinChars,
  };
  return `v${EXTRACTION_VERSION}:${createHash('sha256').update(JSON.stringify(shaping)).digest('hex').slice(0, 16)}`;
}
