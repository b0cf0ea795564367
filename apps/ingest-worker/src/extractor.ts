import type { DetectedType } from '@quarry/contracts';
import {
  detectType,
  DETECT_HEAD_BYTES,
  extractDocument,
  type ExtractedDocument,
  type ExtractOptions,
} from '@quarry/extraction';

/** Port over the document parsers, so the handler unit-tests without pdf.js. */
export interface DocumentExtractor {
  detect(bytes: Uint8Array, filename: string): DetectedType;
  extract(bytes: Uint8Array, detected: DetectedType, options: ExtractOptions): Promise<ExtractedDocument>;
}

export const DOCUMENT_EXTRACTOR = Symbol('DOCUMENT_EXTRACTOR');

export const parsersExtractor: DocumentExtractor = {
  detect: (bytes, filename) => detectType(bytes.subarray(0, DETECT_HEAD_BYTES), filename),
  extract: (bytes, detected, options) => extractDocument(bytes, detected, options),
};
