import type { DetectedType } from '@quarry/contracts';
import type { ExtractedAttachment, ExtractedPage } from '@quarry/extraction';
import type { FetchedResource } from '@quarry/safe-fetch';

/** What extracting one document gave. */
export interface ExtractionOutput {
  pageCount: number;
  pages: ExtractedPage[];
  title?: string;
  /** Documents found inside this one (e-mail attachments), written to the work folder. */
  attachments: ExtractedAttachment[];
}

export interface ExtractCall {
  /** A private folder for this document's files (page images, attachments); the handler removes it. */
  workDir: string;
  /** Breaks ties the bytes leave open (Markdown or text); never decides the type. */
  filenameHint: string;
  /** Aborted on shutdown: parsers and OCR are killed, the call rejects with the signal's reason. */
  signal: AbortSignal;
  /** Each page in order as soon as it is ready; `total` once the page count is known. Its errors abort the call. */
  onPage: (page: ExtractedPage, total: number | undefined) => Promise<void>;
}

/** Port over parsers and OCR, so the handler unit-tests without them. */
export interface DocumentExtractor {
  /**
   * The parser version and the settings that shape what extraction gives (OCR languages and engine, DPI, the PDF
   * OCR threshold): the same bytes reuse earlier pages only under the same key.
   */
  readonly extractionKey: string;
  detect(path: string, filenameHint: string): Promise<DetectedType>;
  extract(path: string, detected: DetectedType, call: ExtractCall): Promise<ExtractionOutput>;
}

export const DOCUMENT_EXTRACTOR = Symbol('DOCUMENT_EXTRACTOR');

/** Port over the SSRF-guarded fetcher (@quarry/safe-fetch), so the handler unit-tests without a network. */
export interface UrlFetcher {
  fetchToFile(url: string, destPath: string, options?: { signal?: AbortSignal }): Promise<FetchedResource>;
}

export const URL_FETCHER = Symbol('URL_FETCHER');
