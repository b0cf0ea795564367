import {
  assemblePdf,
  makeEncryptedPdf,
  makeManyPagePdf,
  makePdfWithJavaScript,
  makeTestPdf,
  quarryFailure,
} from '@quarry/test-kit';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { degrees, PDFDocument } from 'pdf-lib';
import { fittingDpi, pdfPageSizes, pdfTextPages, popplerAvailable, renderPdfPage } from './poppler';

const limits = { timeoutMs: 15_000, maxMemoryMb: 256 };

describe('poppler wrappers (the real pdftotext, pdfinfo and pdftoppm)', () => {
  let dir: string;
  let n = 0;
  const file = async (bytes: Uint8Array): Promise<string> => {
    const target = path.join(dir, `doc-${++n}.pdf`);
    await writeFile(target, bytes);
    return target;
  };
  const texts = async (pdf: string, maxPages = 100): Promise<string[]> => {
    const out: string[] = [];
    const { pageCount } = await pdfTextPages(pdf, { ...limits, maxPages }, (pageNumber, text) => {
      expect(pageNumber).toBe(out.length + 1);
      out.push(text);
    });
    expect(pageCount).toBe(out.length);
    return out;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'quarry-poppler-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is available on this machine', async () => {
    await expect(popplerAvailable()).resolves.toBe(true);
  });

  it('gives each page its own text, lines kept, empty pages included', async () => {
    const pdf = await file(
      await makeTestPdf([
        ['The quick brown fox jumps over the lazy dog.', 'A second line.', '', 'A new paragraph.'],
        [],
        ['Page three speaks of quarries and stone.'],
      ]),
    );
    await expect(texts(pdf)).resolves.toEqual([
      'The quick brown fox jumps over the lazy dog.\nA second line.\nA new paragraph.',
      '',
      'Page three speaks of quarries and stone.',
    ]);
  });

  it('puts back the paragraph breaks plain text loses, where a short line ends a sentence', async () => {
    const wrapped = 'Quarry workers cut granite blocks from the hillside every morning before the heat';
    const pdf = await file(
      await makeTestPdf([
        [
          wrapped,
          'of the day made the work unbearable for the crews.',
          '',
          wrapped,
          'arrived, and then they rested in the shade until evening.',
          '',
          'Results',
          wrapped,
          'became too much.',
        ],
      ]),
    );
    await expect(texts(pdf)).resolves.toEqual([
      `${wrapped}\nof the day made the work unbearable for the crews.\n\n` +
        `${wrapped}\narrived, and then they rested in the shade until evening.\n\n` +
        `Results\n${wrapped}\nbecame too much.`,
    ]);
  });

  it('awaits a slow consumer page by page and fails with its error', async () => {
    const pdf = await file(await makeManyPagePdf(20));
    const seen: number[] = [];
    const boom = new Error('progress store down');
    const error: unknown = await pdfTextPages(pdf, { ...limits, maxPages: 100 }, async (pageNumber) => {
      seen.push(pageNumber);
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (pageNumber === 5) throw boom;
    }).catch((e: unknown) => e);
    expect(error).toBe(boom);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  it('stops reading at maxPages + 1 with too_many_pages', async () => {
    const pdf = await file(await makeManyPagePdf(30));
    await expect(texts(pdf, 30)).resolves.toHaveLength(30);
    const error = await quarryFailure(texts(pdf, 10));
    expect(error.code).toBe('too_many_pages');
    expect(error.details).toMatchObject({ maxPages: 10 });
  });

  it('extracts the text of a PDF that runs JavaScript when opened, without running it', async () => {
    const pdf = await file(await makePdfWithJavaScript(['Scripts are never run here.']));
    await expect(texts(pdf)).resolves.toEqual(['Scripts are never run here.']);
  });

  it('gives encrypted_pdf for a password-protected PDF', async () => {
    const pdf = await file(makeEncryptedPdf('Top secret.', 'hunter2'));
    expect((await quarryFailure(texts(pdf))).code).toBe('encrypted_pdf');
    expect((await quarryFailure(pdfPageSizes(pdf, limits))).code).toBe('encrypted_pdf');
  });

  it('reads a PDF with only an owner password (opening it needs none)', async () => {
    const pdf = await file(makeEncryptedPdf('Open to all.', ''));
    await expect(texts(pdf)).resolves.toEqual(['Open to all.']);
  });

  it('gives corrupt_pdf for a truncated file, garbage behind a header and a document without pages', async () => {
    const whole = await makeTestPdf([['hello'], ['world']]);
    const truncated = await quarryFailure(texts(await file(whole.subarray(0, 400))));
    expect(truncated.code).toBe('corrupt_pdf');
    expect(truncated.message).toContain("Couldn't read xref table");

    const garbage = await quarryFailure(
      texts(await file(Buffer.from('%PDF-1.7\n' + 'nonsense '.repeat(100)))),
    );
    expect(garbage.code).toBe('corrupt_pdf');

    const noPages = assemblePdf([
      Buffer.from('<< /Type /Catalog /Pages 2 0 R >>'),
      Buffer.from('<< /Type /Pages /Kids [] /Count 0 >>'),
    ]);
    const empty = await quarryFailure(texts(await file(noPages)));
    expect(empty.code).toBe('corrupt_pdf');
    expect(empty.details).toMatchObject({ reason: 'no_pages' });
  });

  it('reports page count, sizes and rotation', async () => {
    const doc = await PDFDocument.create();
    doc.addPage([612, 792]);
    doc.addPage([842, 595.5]).setRotation(degrees(90));
    const pdf = await file(await doc.save());
    await expect(pdfPageSizes(pdf, limits)).resolves.toEqual({
      pageCount: 2,
      pages: [
        { pageNumber: 1, widthPts: 612, heightPts: 792, rotation: 0 },
        { pageNumber: 2, widthPts: 842, heightPts: 595.5, rotation: 90 },
      ],
    });
    const second = await pdfPageSizes(pdf, { ...limits, firstPage: 2, lastPage: 2 });
    expect(second.pages.map((page) => page.pageNumber)).toEqual([2]);
  });

  it('renders a page as PGM or PNG at the asked resolution', async () => {
    const pdf = await file(await makeTestPdf([['one'], ['two']]));
    const pgm = await renderPdfPage(pdf, 2, {
      ...limits,
      dpi: 300,
      maxPixels: 50_000_000,
      outPath: path.join(dir, 'page-2.pgm'),
    });
    expect(pgm).toEqual({ path: path.join(dir, 'page-2.pgm'), width: 2550, height: 3300, dpi: 300 });
    expect((await readFile(pgm.path)).subarray(0, 2).toString()).toBe('P5');

    const png = await renderPdfPage(pdf, 1, {
      ...limits,
      dpi: 72,
      maxPixels: 50_000_000,
      outPath: path.join(dir, 'page-1.png'),
    });
    expect(png).toMatchObject({ width: 612, height: 792, dpi: 72 });

    const missing = await quarryFailure(
      renderPdfPage(pdf, 3, {
        ...limits,
        dpi: 72,
        maxPixels: 50_000_000,
        outPath: path.join(dir, 'page-3.pgm'),
      }),
    );
    expect(missing.code).toBe('corrupt_pdf');
  });

  it('lowers the resolution of a page of absurd size to stay within the pixel budget', async () => {
    // 200 × 200 inches: at 300 dpi that would be 3.6 gigapixels.
    const doc = await PDFDocument.create();
    doc.addPage([14_400, 14_400]);
    const pdf = await file(await doc.save());
    const started = performance.now();
    const page = await renderPdfPage(pdf, 1, {
      ...limits,
      dpi: 300,
      maxPixels: 4_000_000,
      outPath: path.join(dir, 'huge.pgm'),
    });
    expect(page.width * page.height).toBeLessThanOrEqual(4_000_000);
    expect(page.width).toBeGreaterThan(1900);
    expect(page.dpi).toBeLessThanOrEqual(10);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('fittingDpi', () => {
  it('keeps the resolution when the page fits and lowers it, rounding sides up as pdftoppm does, when not', () => {
    expect(fittingDpi({ widthPts: 612, heightPts: 792 }, 300, 8_415_000)).toBe(300);
    const lowered = fittingDpi({ widthPts: 612, heightPts: 792 }, 300, 8_000_000);
    expect(lowered).toBeLessThan(300);
    const pixels = Math.ceil((612 * lowered) / 72) * Math.ceil((792 * lowered) / 72);
    expect(pixels).toBeLessThanOrEqual(8_000_000);
    expect(pixels).toBeGreaterThan(7_990_000);
  });
});
