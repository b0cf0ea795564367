import { makeEncryptedPdf, quarryFailure } from '@quarry/test-kit';
import { makeDeflateBombPdf, makeTextItemBombPdf } from '@quarry/test-kit';
import { makeTestPdf } from '@quarry/test-kit';
import type { ExtractedPage } from '../types';
import { extractPdfPages, PDF_MIN_MEMORY_MB } from './extract-pdf';

const limits = { timeoutMs: 15_000, maxMemoryMb: 256 };

describe('extractPdfPages (real pdf.js in a worker thread)', () => {
  let twoPages: Uint8Array;
  beforeAll(async () => {
    twoPages = await makeTestPdf([
      ['The quick brown fox jumps over the lazy dog.', 'A second line on page one.', '', 'A new paragraph.'],
      ['Page two speaks of quarries and stone.', 'x '.repeat(80) + 'wrapped at the margin.'],
    ]);
  });

  it('returns each page with its own sentences and streams pages to onPage in order', async () => {
    const seen: ExtractedPage[] = [];
    const input = Buffer.from(twoPages);
    const result = await extractPdfPages(input, { ...limits, onPage: (page) => void seen.push(page) });

    expect(result.pageCount).toBe(2);
    expect(result.pages.map((p) => p.pageNumber)).toEqual([1, 2]);
    expect(result.pages[0]?.text).toBe(
      'The quick brown fox jumps over the lazy dog.\nA second line on page one.\n\nA new paragraph.',
    );
    expect(result.pages[1]?.text).toContain('Page two speaks of quarries and stone.');
    expect(result.pages[1]?.text).toContain('wrapped at the margin.');
    expect(result.pages[1]?.text).not.toContain('fox');
    expect(seen).toEqual(result.pages);
    // The caller's bytes are copied, never transferred away.
    expect(input.byteLength).toBe(twoPages.byteLength);
  });

  it('awaits an async onPage and fails with its error', async () => {
    const boom = new Error('progress store down');
    await expect(
      extractPdfPages(twoPages, {
        ...limits,
        onPage: async () => {
          await new Promise((r) => setTimeout(r, 5));
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
  });

  it('reads a PDF behind a junk prefix', async () => {
    const prefixed = Buffer.concat([Buffer.from('Content-Type: application/pdf\r\n\r\n'), twoPages]);
    const result = await extractPdfPages(prefixed, limits);
    expect(result.pages[0]?.text).toContain('quick brown fox');
  });

  it('gives corrupt_pdf for a truncated PDF and for garbage behind a PDF header', async () => {
    const truncated = await quarryFailure(extractPdfPages(twoPages.subarray(0, 400), limits));
    expect(truncated.code).toBe('corrupt_pdf');
    const garbage = await quarryFailure(
      extractPdfPages(Buffer.from('%PDF-1.7\n' + 'nonsense '.repeat(100)), limits),
    );
    expect(garbage.code).toBe('corrupt_pdf');
  });

  it('gives encrypted_pdf for a password-protected PDF', async () => {
    const error = await quarryFailure(extractPdfPages(makeEncryptedPdf('Top secret.', 'hunter2'), limits));
    expect(error.code).toBe('encrypted_pdf');
  });

  it('gives parser_timeout when the deadline passes', async () => {
    const error = await quarryFailure(extractPdfPages(twoPages, { timeoutMs: 1, maxMemoryMb: 256 }));
    expect(error.code).toBe('parser_timeout');
  });

  it('gives parser_out_of_memory when the document exhausts the memory limit, and the process lives on', async () => {
    const bomb = makeTextItemBombPdf(200_000);
    expect(bomb.byteLength).toBeLessThan(20_000);
    const error = await quarryFailure(extractPdfPages(bomb, { timeoutMs: 15_000, maxMemoryMb: 32 }));
    expect(error.code).toBe('parser_out_of_memory');
    expect(error.details).toMatchObject({ maxMemoryMb: 32 });
    await expect(extractPdfPages(twoPages, limits)).resolves.toMatchObject({ pageCount: 2 });
  });

  it('gives parser_out_of_memory for a decompression bomb, whose decoded data lives outside the V8 heap', async () => {
    // 1 GiB of spaces from about 1 MB: before the parent sampled external memory, pdf.js inflated all of it
    // (2.4 GB of process RSS) and the document came back as an empty page.
    const bomb = makeDeflateBombPdf(1024);
    expect(bomb.byteLength).toBeLessThan(1_200_000);
    const started = performance.now();
    const error = await quarryFailure(extractPdfPages(bomb, { timeoutMs: 60_000, maxMemoryMb: 64 }));
    expect(error.code).toBe('parser_out_of_memory');
    expect(error.details).toMatchObject({ maxMemoryMb: 64 });
    expect(performance.now() - started).toBeLessThan(10_000);
    await expect(extractPdfPages(twoPages, limits)).resolves.toMatchObject({ pageCount: 2 });
  });

  it('refuses a memory limit too small to start pdf.js safely', async () => {
    await expect(
      extractPdfPages(twoPages, { timeoutMs: 1000, maxMemoryMb: PDF_MIN_MEMORY_MB - 1 }),
    ).rejects.toThrow(RangeError);
  });
});
