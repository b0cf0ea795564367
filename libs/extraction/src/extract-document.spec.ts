import { QuarryError, type DetectedType } from '@quarry/contracts';
import { extractDocument } from './extract-document';
import { makeTestPdf } from '@quarry/test-kit';
import type { ExtractedPage } from './types';

const limits = { timeoutMs: 15_000, maxMemoryMb: 256 };

describe('extractDocument', () => {
  it('extracts PDFs through pdf.js', async () => {
    const pdf = await makeTestPdf([['Hello from a PDF.']]);
    await expect(extractDocument(pdf, 'pdf', limits)).resolves.toEqual({
      pageCount: 1,
      pages: [{ pageNumber: 1, text: 'Hello from a PDF.' }],
    });
  });

  it('returns empty pages, not an error, for a PDF without any text', async () => {
    const blank = await makeTestPdf([[], []]);
    await expect(extractDocument(blank, 'pdf', limits)).resolves.toEqual({
      pageCount: 2,
      pages: [
        { pageNumber: 1, text: '' },
        { pageNumber: 2, text: '' },
      ],
    });
  });

  it('extracts text and Markdown as pages split on form feeds, reporting each page', async () => {
    const seen: ExtractedPage[] = [];
    const result = await extractDocument(Buffer.from('# One\f# Two'), 'markdown', {
      ...limits,
      onPage: (page) => void seen.push(page),
    });
    expect(result).toEqual({
      pageCount: 2,
      pages: [
        { pageNumber: 1, text: '# One' },
        { pageNumber: 2, text: '# Two' },
      ],
    });
    expect(seen).toEqual(result.pages);
    await expect(extractDocument(Buffer.from(''), 'text', limits)).resolves.toEqual({
      pageCount: 1,
      pages: [{ pageNumber: 1, text: '' }],
    });
  });

  it.each<DetectedType>(['html', 'docx', 'png', 'jpeg', 'tiff', 'unknown'])(
    'rejects %s as unsupported_type for now',
    async (type) => {
      const error: unknown = await extractDocument(Buffer.from('x'), type, limits).catch((e: unknown) => e);
      expect(QuarryError.is(error, 'unsupported_type')).toBe(true);
    },
  );
});
