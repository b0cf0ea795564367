import { QuarryError } from '@quarry/contracts';
import { chunkPages, type Chunk, type PageText } from './chunk-pages';
import { countTokens } from './tokens';

const sentence = (i: number): string =>
  `Sentence number ${i} talks about quarry operations and the weather near the harbour.`;
const paragraph = (from: number, count: number): string =>
  Array.from({ length: count }, (_, k) => sentence(from + k)).join(' ');

function expectWellFormed(pages: PageText[], chunks: Chunk[], maxTokens: number): void {
  chunks.forEach((chunk, i) => {
    expect(chunk.ordinal).toBe(i);
    const page = pages.find((p) => p.pageNumber === chunk.pageNumber);
    expect(page).toBeDefined();
    expect(page!.text.slice(chunk.charStart, chunk.charEnd)).toBe(chunk.text);
    expect(chunk.tokenCount).toBe(countTokens(chunk.text));
    expect(chunk.tokenCount).toBeLessThanOrEqual(maxTokens);
    expect(chunk.text).toBe(chunk.text.trim());
    expect(chunk.text.length).toBeGreaterThan(0);
  });
}

describe('chunkPages', () => {
  it('keeps short paragraphs of a page together in one chunk', () => {
    const pages = [{ pageNumber: 1, text: 'First paragraph.\n\nSecond paragraph.\n' }];
    const chunks = chunkPages(pages, { maxTokens: 100, overlapTokens: 10 });
    expect(chunks).toEqual([
      {
        ordinal: 0,
        pageNumber: 1,
        text: 'First paragraph.\n\nSecond paragraph.',
        tokenCount: countTokens('First paragraph.\n\nSecond paragraph.'),
        charStart: 0,
        charEnd: 35,
      },
    ]);
  });

  it('never lets a chunk span two pages, and numbers chunks across pages', () => {
    const pages = [
      { pageNumber: 1, text: 'Short page one.' },
      { pageNumber: 2, text: 'Short page two.' },
      { pageNumber: 3, text: paragraph(0, 30) },
    ];
    const chunks = chunkPages(pages, { maxTokens: 64, overlapTokens: 0 });
    expectWellFormed(pages, chunks, 64);
    expect(chunks.slice(0, 2).map((c) => [c.pageNumber, c.text])).toEqual([
      [1, 'Short page one.'],
      [2, 'Short page two.'],
    ]);
    expect(chunks.slice(2).every((c) => c.pageNumber === 3)).toBe(true);
    expect(chunks.length).toBeGreaterThan(3);
  });

  it('respects the token limit and splits an over-long paragraph at sentence ends', () => {
    const pages = [{ pageNumber: 7, text: paragraph(0, 40) }];
    const chunks = chunkPages(pages, { maxTokens: 80, overlapTokens: 0 });
    expectWellFormed(pages, chunks, 80);
    for (const c of chunks) {
      expect(c.text).toMatch(/^Sentence number \d+/);
      expect(c.text).toMatch(/harbour\.$/);
    }
    // Without overlap the chunks tile the page: every sentence appears exactly once.
    expect(chunks.map((c) => c.text).join(' ')).toBe(pages[0]!.text);
  });

  it('keeps a paragraph whole in the next chunk rather than splitting it', () => {
    const first = paragraph(0, 3);
    const second = paragraph(3, 3);
    const pages = [{ pageNumber: 1, text: `${first}\n\n${second}` }];
    const max = Math.max(countTokens(first), countTokens(second)) + 5;
    const chunks = chunkPages(pages, { maxTokens: max, overlapTokens: 0 });
    expect(chunks.map((c) => c.text)).toEqual([first, second]);
  });

  it('starts a new chunk at markdown headings and heading-like lines, keeping the heading with its text', () => {
    const text = [
      '# Introduction',
      'Quarry indexes documents.',
      '',
      '## Scope',
      '',
      'It covers PDFs and images.',
      '',
      '2.1 Storage Layout',
      'Blobs live in the object store.',
      '',
      'APPENDIX',
      '',
      'Nothing else.',
    ].join('\n');
    const pages = [{ pageNumber: 1, text }];
    const chunks = chunkPages(pages, { maxTokens: 200, overlapTokens: 20 });
    expectWellFormed(pages, chunks, 200);
    expect(chunks.map((c) => c.text)).toEqual([
      '# Introduction\nQuarry indexes documents.',
      '## Scope\n\nIt covers PDFs and images.',
      '2.1 Storage Layout\nBlobs live in the object store.',
      'APPENDIX\n\nNothing else.',
    ]);
  });

  it('treats setext headings and short title lines standing alone as headings, not wrapped prose', () => {
    const text =
      'Overview\n========\nFirst part.\n\nDetails Of The Design\n\nSecond part.\nwith a wrapped Line';
    const chunks = chunkPages([{ pageNumber: 1, text }], { maxTokens: 200, overlapTokens: 0 });
    expect(chunks.map((c) => c.text)).toEqual([
      'Overview\n========\nFirst part.',
      'Details Of The Design\n\nSecond part.\nwith a wrapped Line',
    ]);
  });

  it('does not take comments in fenced code for headings', () => {
    const text = 'Install it:\n\n```bash\n# fetch the deps\nnpm ci\n\nSTAGE=2 npm test\n```\n\nDone.';
    const chunks = chunkPages([{ pageNumber: 1, text }], { maxTokens: 200, overlapTokens: 0 });
    expect(chunks.map((c) => c.text)).toEqual([text]);
  });

  it('carries whole tail sentences within overlapTokens into the next chunk of the same page', () => {
    const pages = [{ pageNumber: 1, text: paragraph(0, 40) }];
    const one = countTokens(sentence(10));
    const overlapTokens = one * 2 + 2;
    const chunks = chunkPages(pages, { maxTokens: 120, overlapTokens });
    expectWellFormed(pages, chunks, 120);
    expect(chunks.length).toBeGreaterThan(3);
    for (let i = 1; i < chunks.length; i++) {
      const prev = chunks[i - 1]!;
      const next = chunks[i]!;
      expect(next.charStart).toBeLessThan(prev.charEnd);
      expect(next.charEnd).toBeGreaterThan(prev.charEnd);
      const shared = prev.text.slice(next.charStart - prev.charStart);
      expect(next.text.startsWith(shared)).toBe(true);
      expect(countTokens(shared)).toBeLessThanOrEqual(overlapTokens);
      // Two whole sentences fit in the budget, three do not.
      expect(shared.match(/Sentence number/g)).toHaveLength(2);
    }
  });

  it('carries no overlap across a heading or into another page', () => {
    const body = paragraph(0, 6);
    const pages = [
      { pageNumber: 1, text: `${body}\n\n# Next section\n\n${paragraph(100, 2)}` },
      { pageNumber: 2, text: paragraph(200, 2) },
    ];
    const chunks = chunkPages(pages, { maxTokens: 400, overlapTokens: 100 });
    expect(chunks.map((c) => c.text)).toEqual([
      body,
      `# Next section\n\n${paragraph(100, 2)}`,
      paragraph(200, 2),
    ]);
  });

  it('splits text without sentence boundaries by tokens as a last resort', () => {
    const words = Array.from({ length: 600 }, (_, i) => `token${i}`).join(' ');
    const unspaced = 'x'.repeat(5000);
    const pages = [
      { pageNumber: 1, text: words },
      { pageNumber: 2, text: unspaced },
    ];
    const chunks = chunkPages(pages, { maxTokens: 50, overlapTokens: 10 });
    expectWellFormed(pages, chunks, 50);
    const onFirst = chunks.filter((c) => c.pageNumber === 1);
    // Cut between words, never inside one.
    for (const c of onFirst) expect(c.text).toMatch(/^token\d+( token\d+)*$/);
    expect(onFirst.map((c) => c.text).join(' ')).toBe(words);
    expect(
      chunks
        .filter((c) => c.pageNumber === 2)
        .map((c) => c.text)
        .join(''),
    ).toBe(unspaced);
  });

  it('does not cut a surrogate pair when splitting by tokens', () => {
    const text = '😀'.repeat(400);
    const chunks = chunkPages([{ pageNumber: 1, text }], { maxTokens: 20, overlapTokens: 0 });
    for (const c of chunks) expect(c.text).toMatch(/^(?:😀)+$/u);
    expect(chunks.map((c) => c.text).join('')).toBe(text);
  });

  it('counts special-token strings in user text as plain text instead of throwing', () => {
    const text = 'Logs contain <|endoftext|> and <|im_start|> markers.\n\nThey are just text.';
    const pages = [{ pageNumber: 1, text }];
    const chunks = chunkPages(pages, { maxTokens: 100, overlapTokens: 0 });
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.text).toBe(text);
    expect(chunks[0]!.tokenCount).toBeGreaterThan(10);
  });

  it('gives no chunks for empty or whitespace-only pages', () => {
    const pages = [
      { pageNumber: 1, text: '' },
      { pageNumber: 2, text: ' \n\n\t \r\n ' },
      { pageNumber: 3, text: '  Real text.  ' },
    ];
    const chunks = chunkPages(pages, { maxTokens: 50, overlapTokens: 5 });
    expect(chunks).toEqual([
      {
        ordinal: 0,
        pageNumber: 3,
        text: 'Real text.',
        tokenCount: countTokens('Real text.'),
        charStart: 2,
        charEnd: 12,
      },
    ]);
    expect(chunkPages([], { maxTokens: 50, overlapTokens: 5 })).toEqual([]);
  });

  it('is deterministic', () => {
    const pages = [
      { pageNumber: 1, text: `# Title\n\n${paragraph(0, 25)}\n\n${paragraph(50, 3)}` },
      { pageNumber: 2, text: `CHAPTER TWO\n${paragraph(80, 12)}` },
    ];
    const options = { maxTokens: 90, overlapTokens: 30 };
    const a = chunkPages(pages, options);
    const b = chunkPages(structuredClone(pages), options);
    expect(b).toEqual(a);
    expectWellFormed(pages, a, 90);
  });

  it('handles CRLF line endings and CJK sentence ends', () => {
    const crlf = 'First line.\r\n\r\nSecond paragraph.\r\n';
    const cjk = '这是第一句。这是第二句。这是第三句。'.repeat(20);
    const pages = [
      { pageNumber: 1, text: crlf },
      { pageNumber: 2, text: cjk },
    ];
    const chunks = chunkPages(pages, { maxTokens: 40, overlapTokens: 0 });
    expectWellFormed(pages, chunks, 40);
    expect(chunks[0]!.text).toBe('First line.\r\n\r\nSecond paragraph.');
    for (const c of chunks.filter((c) => c.pageNumber === 2)) expect(c.text).toMatch(/。$/);
  });

  it('covers every non-space character of every page, whatever the structure (seeded random pages)', () => {
    let seed = 42;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const pieces = [
      'Alpha beta gamma. ',
      'Delta epsilon zeta! ',
      'eta theta ',
      '\n',
      '\n\n',
      '# Heading\n',
      'SECTION TITLE\n',
      '3.2 Results\n',
      '```\n',
      'x'.repeat(120),
      '数据。',
      '<|endoftext|>',
      '  \t',
      '😀',
    ];
    for (let round = 0; round < 40; round++) {
      const text = Array.from({ length: 20 + random(400) }, () => pieces[random(pieces.length)]).join('');
      const pages = [{ pageNumber: round, text }];
      const maxTokens = 8 + random(120);
      const options = { maxTokens, overlapTokens: random(maxTokens) };
      const chunks = chunkPages(pages, options);
      expectWellFormed(pages, chunks, maxTokens);
      const covered = new Uint8Array(text.length);
      for (const c of chunks) covered.fill(1, c.charStart, c.charEnd);
      const uncovered: number[] = [];
      for (let i = 0; i < text.length; i++) if (covered[i] === 0 && !/\s/.test(text[i]!)) uncovered.push(i);
      expect(uncovered).toEqual([]);
      for (let i = 1; i < chunks.length; i++)
        expect(chunks[i]!.charEnd).toBeGreaterThan(chunks[i - 1]!.charEnd);
    }
  });

  it('rejects invalid options', () => {
    const pages = [{ pageNumber: 1, text: 'x' }];
    expect(() => chunkPages(pages, { maxTokens: 4, overlapTokens: 0 })).toThrow(QuarryError);
    expect(() => chunkPages(pages, { maxTokens: 64, overlapTokens: 64 })).toThrow(/overlapTokens/);
    expect(() => chunkPages(pages, { maxTokens: 64.5, overlapTokens: 0 })).toThrow(/maxTokens/);
  });

  it('chunks a 200 kB line without a single space quickly (BPE over one long word is quadratic)', () => {
    const text = 'x'.repeat(200_000);
    const started = performance.now();
    const chunks = chunkPages([{ pageNumber: 1, text }], { maxTokens: 256, overlapTokens: 32 });
    const elapsed = performance.now() - started;
    expect(chunks.map((c) => c.text).join('')).toBe(text);
    for (const c of chunks) expect(c.tokenCount).toBeLessThanOrEqual(256);
    // 56 s before spans longer than the last-resort window stopped being encoded whole.
    expect(elapsed).toBeLessThan(5000);
  });

  it('chunks a large document quickly', () => {
    const pages = Array.from({ length: 200 }, (_, p) => ({
      pageNumber: p + 1,
      text: Array.from({ length: 6 }, (_, k) => paragraph(p * 100 + k * 10, 5)).join('\n\n'),
    }));
    const started = performance.now();
    const chunks = chunkPages(pages, { maxTokens: 256, overlapTokens: 32 });
    const elapsed = performance.now() - started;
    expectWellFormed(pages, chunks, 256);
    expect(elapsed).toBeLessThan(5000);
  });
});
