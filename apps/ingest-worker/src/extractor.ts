import type { DetectedType } from '@quarry/contracts';
import type { Extraction, ExtractionCall } from '@quarry/extraction';
import type { FetchedResource } from '@quarry/safe-fetch';

/** Port over parsers and OCR, so the handler unit-tests without them. */
export interface DocumentExtractor {
  /**
   * The parser version and the settings that shape what extraction gives (OCR languages and engine, DPI, the PDF
   * OCR threshold): the same bytes reuse earlier pages only under the same key.
   */
  readonly extractionKey: string;
  detect(path: string, filenameHint: string): Promise<DetectedType>;
  /** The work folder is the handler's (it removes it); `call.onPage` errors abort the extraction. */
  extract(path: string, detected: DetectedType, call: ExtractionCall): Promise<Extraction>;
}

export const DOCUMENT_EXTRACTOR = Symbol('DOCUMENT_EXTRACTOR');

/** Port over the SSRF-guarded fetcher (@quarry/safe-fetch), so the handler unit-tests without a network. */
export interface UrlFetcher {
  fetchToFile(url: string, destPath: string, options?: { signal?: AbortSignal }): Promise<FetchedResource>;
}

export const URL_FETCHER = Symbol('URL_FETCHER');
