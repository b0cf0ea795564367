import { parseFlowingDocument } from './flowing-document';
import type { FormatParser } from './types';

/** Rich Text Format (RTF): one page with heading sections (from `heading N` styles); footnotes after the text. */
export const parseRtf: FormatParser = (input, sink) => parseFlowingDocument(input, sink, 'rtf');
