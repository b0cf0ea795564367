import { isContentFree, repeatedLines, withoutContentFree } from './content-free';
import type { Chunk } from './chunk-pages';

const chunk = (ordinal: number, text: string): Chunk => ({
  ordinal,
  pageNumber: 1,
  text,
  tokenCount: 1,
  charStart: 0,
  charEnd: text.length,
});

describe('content-free chunks', () => {
  it('finds page numbers, separators and empty cells', () => {
    for (const text of [
      '3',
      '- 12 -',
      'Page 4 of 10',
      'Seite 2 von 9',
      'iv',
      '| | |',
      '---',
      '  \n  ',
      '• •',
    ])
      expect([text, isContentFree(text)]).toEqual([text, true]);
  });

  it('keeps anything with words or identifiers', () => {
    for (const text of [
      'INV-20931',
      'Total: 42 EUR',
      'Page layout guidelines',
      '42 is the answer',
      'x = 10',
      'a',
    ])
      expect([text, isContentFree(text)]).toEqual([text, false]);
  });

  it('drops running headers and footers repeated on most pages, not lines that repeat on a few', () => {
    const pages = [1, 2, 3, 4].map((n) => ({
      pageNumber: n,
      text:
        `ACME Corp — Confidential\nSection ${n} body text about topic ${n}.\n` +
        (n <= 2 ? 'See the appendix.\n' : '') +
        `Page ${n} of 4`,
    }));
    const repeated = repeatedLines(pages);
    expect(repeated.has('acme corp — confidential')).toBe(true);
    expect(repeated.has('page # of #')).toBe(true);
    expect(repeated.has('see the appendix.')).toBe(false);
    const kept = withoutContentFree(
      [
        chunk(0, 'ACME Corp — Confidential'),
        chunk(1, 'Section 1 body text about topic 1.'),
        chunk(2, 'Page 3 of 4\nACME Corp — Confidential'),
        chunk(3, 'See the appendix.'),
      ],
      pages,
    );
    expect(kept.map((c) => c.ordinal)).toEqual([1, 3]);
  });

  it('needs three pages before calling a line furniture', () => {
    const pages = [1, 2].map((n) => ({ pageNumber: n, text: 'Minutes of the meeting' }));
    expect(repeatedLines(pages).size).toBe(0);
  });
});
