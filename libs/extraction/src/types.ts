import type { PageMethod } from '@quarry/contracts';

/**
 * A change of heading path inside a page's text: from `offset` (UTF-16 code units into `text`) on, the text sits
 * under `path` (outermost heading first). The first entry of a page is at offset 0 when the page starts under a
 * heading carried over from an earlier page.
 */
export interface PageSection {
  offset: number;
  path: string[];
}

export interface ExtractedPage {
  /** 1-based, in document order. */
  pageNumber: number;
  text: string;
  /** How the text was obtained; absent means `parsed` (a format parser, or plain text). */
  method?: PageMethod;
  /** Tesseract's mean word confidence for the page, 0–100; only for `ocr` pages. */
  ocrConfidence?: number;
  /** The natural unit's own name: a slide's title, a sheet's name, a chapter's title, an e-mail part. */
  label?: string;
  /** Heading paths inside the page, in offset order (see PageSection). */
  sections?: PageSection[];
}

export interface ExtractedDocument {
  pageCount: number;
  pages: ExtractedPage[];
  /** The document's own title where the format has one (HTML <title>, e-mail subject, DOCX core title). */
  title?: string;
}

export interface ExtractOptions {
  /** Wall-clock limit for the parser, start-up included; the parser is killed when it passes. */
  timeoutMs: number;
  /** V8 old-generation heap limit for the parser thread. */
  maxMemoryMb: number;
  /** Called once per page in page order, as soon as the page is parsed, so progress can be reported. */
  onPage?: (page: ExtractedPage) => void | Promise<void>;
}
