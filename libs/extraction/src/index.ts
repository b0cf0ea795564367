export { detectType, detectFileType, describeType, DETECT_HEAD_BYTES } from './detect-type';
export { decodeText, type DecodedText } from './decode-text';
export { extractText } from './extract-text';
export { extractPdfPages, PDF_MIN_MEMORY_MB } from './pdf/extract-pdf';
export { extractPdfDocument } from './pdf/extract-pdf-document';
export { popplerAvailable } from './pdf/poppler';
export {
  Extractor,
  extractionKey,
  EXTRACTION_VERSION,
  type Extraction,
  type ExtractionCall,
  type ExtractorSettings,
} from './extractor';
export { ParserPool, type ParserPoolOptions } from './sandbox/parser-pool';
export { useToolSpawner, type StartedTool, type ToolSpawner } from './native/run-tool';
export { ToolLauncher } from './native/tool-launcher';
export { createOcrEngine, type DescribedOcrEngine } from './ocr/create-ocr-engine';
export type { OcrEngine, OcrResult } from './ocr/ocr-engine';
export type { ExtractedAttachment, PageImage, ParseLimits } from './formats/types';
export type { ExtractedDocument, ExtractedPage, ExtractOptions, PageSection } from './types';
