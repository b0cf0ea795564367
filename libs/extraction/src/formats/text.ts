import { readFile } from 'node:fs/promises';
import { extractText } from '../extract-text';
import { checkPageCount } from './pages';
import type { FormatParser } from './types';

/**
 * Plain text in the sandbox like every other format: charset detection over a large file is the kind of work
 * whose time and memory a hostile upload chooses, so it gets the same limits.
 */
export const parseText: FormatParser = async (input, sink) => {
  const { pageCount, pages } = extractText(new Uint8Array(await readFile(input.path)));
  checkPageCount(pageCount, input.limits, 'pages');
  for (const page of pages) sink.page(page);
  return {};
};
