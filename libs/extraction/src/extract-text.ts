import { decodeText } from './decode-text';
import type { ExtractedDocument, ExtractedPage } from './types';

/**
 * A text or Markdown document as pages: form feeds (as left by `pdftotext` and line printers) separate pages,
 * anything else is one page.
 */
export function extractText(bytes: Uint8Array): ExtractedDocument & { encoding: string } {
  const { text, encoding } = decodeText(bytes);
  const parts = text.split('\f');
  // A trailing form feed ends the last page rather than starting an empty one.
  if (parts.length > 1 && parts[parts.length - 1]?.trim() === '') parts.pop();
  const pages: ExtractedPage[] = parts.map((part, i) => ({ pageNumber: i + 1, text: part }));
  return { pageCount: pages.length, pages, encoding };
}
