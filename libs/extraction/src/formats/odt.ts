import { parseFlowingDocument } from './flowing-document';
import type { FormatParser } from './types';

/** OpenDocument text (ODT): one page with heading sections; footnotes after the text. */
export const parseOdt: FormatParser = (input, sink) => parseFlowingDocument(input, sink, 'odt');
