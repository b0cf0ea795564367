export { detectType, DETECT_HEAD_BYTES } from './detect-type';
export { decodeText, type DecodedText } from './decode-text';
export { extractText } from './extract-text';
export { extractPdfPages, PDF_MIN_MEMORY_MB } from './pdf/extract-pdf';
export { extractDocument } from './extract-document';
export type { ExtractedDocument, ExtractedPage, ExtractOptions } from './types';
