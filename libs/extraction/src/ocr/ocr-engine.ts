/** One page's OCR result. */
export interface OcrResult {
  /** Words joined by spaces, lines by a newline, paragraphs and blocks by a blank line. */
  text: string;
  /** Mean word confidence, 0–100; 0 when no word was recognised. */
  confidence: number;
  /** How many words were recognised (a page with almost none may be upside down or sideways). */
  words: number;
}

export interface OcrOptions {
  /** Tesseract language codes (eng, deu, …), all tried at once. */
  languages: readonly string[];
  /** The image's resolution when it is known (a rendered PDF page); otherwise tesseract estimates it. */
  dpi?: number;
  timeoutMs: number;
  /** Memory limit of the OCR process (the CLI engine; the tesseract.js engine cannot enforce one). */
  maxMemoryMb: number;
  signal?: AbortSignal;
}

export interface Orientation {
  /** Clockwise rotation that makes the page upright. */
  rotate: 0 | 90 | 180 | 270;
  /** Tesseract's orientation confidence; about 2 and above is worth acting on. */
  confidence: number;
}

/** The port between document code and an OCR implementation (the tesseract binary, or tesseract.js). */
export interface OcrEngine {
  readonly kind: 'tesseract-cli' | 'tesseract-js';
  /** How many pages it usefully recognises at once. */
  readonly concurrency: number;
  recognize(imagePath: string, options: OcrOptions): Promise<OcrResult>;
  /** Null when the engine cannot tell (too little text on the page, or no orientation model). */
  detectOrientation(imagePath: string, options: OcrOptions): Promise<Orientation | null>;
  close(): Promise<void>;
}
