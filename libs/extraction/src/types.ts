export interface ExtractedPage {
  /** 1-based, in document order. */
  pageNumber: number;
  text: string;
}

export interface ExtractedDocument {
  pageCount: number;
  pages: ExtractedPage[];
}

export interface ExtractOptions {
  /** Wall-clock limit for the parser, start-up included; the parser is killed when it passes. */
  timeoutMs: number;
  /** V8 old-generation heap limit for the parser thread. */
  maxMemoryMb: number;
  /** Called once per page in page order, as soon as the page is parsed, so progress can be reported. */
  onPage?: (page: ExtractedPage) => void | Promise<void>;
}
