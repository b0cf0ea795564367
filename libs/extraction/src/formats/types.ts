import type { DetectedType } from '@quarry/contracts';
import type { ExtractedPage } from '../types';

/** Limits a parser enforces itself, each failing the document with its own code. */
export interface ParseLimits {
  /** Pages, slides, sheets, chapters, image frames or e-mail parts: past it, `too_many_pages`. */
  maxPages: number;
  /** Pixels of one image or frame (width × height), checked before it is decoded: past it, `too_many_pixels`. */
  maxPixels: number;
  /** Entries of an archive-based format (DOCX, XLSX, EPUB, …) or attachments of an e-mail: `archive_too_large`. */
  maxArchiveEntries: number;
  /** Bytes an archive may expand to, by its own directory and as actually inflated: `archive_too_large`. */
  maxUncompressedBytes: number;
}

export interface ParseInput {
  /** The document's bytes, on disk. */
  path: string;
  type: DetectedType;
  /** A private folder for the files a parser writes (attachments, page images); removed by the caller. */
  workDir: string;
  limits: ParseLimits;
  /** Only breaks ties the bytes leave open (never decides the type). */
  filenameHint?: string;
}

/** A file found inside a document (an e-mail attachment), written to the work folder. */
export interface ExtractedAttachment {
  filename: string;
  /** What the container said; never trusted for parsing. */
  contentType: string | null;
  path: string;
  sizeBytes: number;
}

/** A page that is a picture: its text comes from OCR, done by the caller. PNG in the work folder. */
export interface PageImage {
  pageNumber: number;
  path: string;
  width: number;
  height: number;
}

/** Where a parser delivers its results, in page order. */
export interface ParserSink {
  page(page: ExtractedPage): void;
  image(image: PageImage): void;
  attachment(attachment: ExtractedAttachment): void;
}

export interface ParsedMeta {
  title?: string;
}

/**
 * One format's parser: reads `input.path`, reports pages (or page images, or attachments) to the sink as it goes,
 * and throws a QuarryError with the document's failure code (`corrupt_<type>`, `encrypted`, `too_many_pages`, …)
 * when the document cannot be read. Runs inside the sandbox host process, never in the worker itself.
 */
export type FormatParser = (input: ParseInput, sink: ParserSink) => Promise<ParsedMeta>;
