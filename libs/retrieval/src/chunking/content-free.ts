import type { Chunk, PageText } from './chunk-pages';

// "3", "- 3 -", "Page 3", "page 3 of 10", "Seite 3 von 10", "p. 3", "3/10", "iv": a page's number and nothing else.
const PAGE_NUMBER =
  /^[\s\-–—|[\]()]*(?:(?:page|p\.|pg\.?|seite|página|pagina|pagină|sida|side|strona)\s*)?(?:\d{1,5}|[ivxlcdm]{1,7})(?:\s*(?:of|von|de|di|\/|sur|van|av|z)\s*\d{1,5})?[\s\-–—|[\]()]*$/iu;
// A letter or a digit somewhere: without one a chunk is separators, empty table cells or stray marks. (A number
// alone is a page number, which PAGE_NUMBER tells; a lone letter may be the whole of a tiny document.)
const WORDISH = /[\p{L}\p{N}]/u;

/** A line as it repeats on every page: case, spacing and numbers (page numbers, dates) do not tell copies apart. */
function lineKey(line: string): string {
  return line.trim().toLowerCase().replace(/\d+/g, '#').replace(/\s+/g, ' ');
}

/**
 * Lines repeated at the top or bottom of most pages of a document (running headers and footers: a title, a
 * confidentiality notice, a "page N of M"), as keys of {@link lineKey}. Needs at least three pages: on fewer, a repeated line is as likely
 * content as furniture.
 */
export function repeatedLines(pages: readonly PageText[]): Set<string> {
  const repeated = new Set<string>();
  if (pages.length < 3) return repeated;
  const pagesWith = new Map<string, number>();
  for (const page of pages) {
    const lines = page.text
      .split('\n')
      .map(lineKey)
      .filter((k) => k.length > 0);
    // Headers and footers sit at a page's edges; a body line that matches on most pages once its numbers are
    // masked ("Step 1 …", "Step 2 …") is content.
    const edge = lines.length >= 5 ? 2 : 1;
    const keys = new Set([...lines.slice(0, edge), ...lines.slice(-edge)]);
    for (const key of keys) pagesWith.set(key, (pagesWith.get(key) ?? 0) + 1);
  }
  const threshold = Math.max(3, Math.ceil(pages.length / 2));
  for (const [key, count] of pagesWith) if (count >= threshold) repeated.add(key);
  return repeated;
}

/**
 * Whether a chunk carries nothing to search for: only page numbers, separators or empty cells, or only lines that
 * repeat on most pages. Such chunks match every query about their document equally and crowd real hits out.
 */
export function isContentFree(text: string, repeated: ReadonlySet<string> = new Set()): boolean {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return lines.every((line) => !WORDISH.test(line) || PAGE_NUMBER.test(line) || repeated.has(lineKey(line)));
}

/** The chunks worth indexing: content-free ones (see {@link isContentFree}) dropped, ordinals kept. */
export function withoutContentFree(chunks: readonly Chunk[], pages: readonly PageText[]): Chunk[] {
  const repeated = repeatedLines(pages);
  return chunks.filter((c) => !isContentFree(c.text, repeated));
}
