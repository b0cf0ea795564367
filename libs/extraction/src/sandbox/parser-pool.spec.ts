import type { DetectedType } from '@quarry/contracts';
import { QuarryError } from '@quarry/contracts';
import { waitFor } from '@quarry/test-kit';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ExtractedPage } from '../types';
import type { ExtractedAttachment, ParseInput } from '../formats/types';
import { ParserPool } from './parser-pool';

const hostScript = path.join(__dirname, '__fixtures__', 'test-host.ts');
const limits = { maxPages: 10, maxPixels: 1e6, maxArchiveEntries: 10, maxUncompressedBytes: 1e6 };

describe('ParserPool (real child processes)', () => {
  let dir: string;
  let file: string;
  let pool: ParserPool;

  const input = (type: DetectedType): ParseInput => ({ path: file, type, workDir: dir, limits });

  async function failure(type: DetectedType, timeoutMs = 10_000): Promise<QuarryError> {
    const error: unknown = await pool.run(input(type), { timeoutMs }).then(
      () => new Error('expected a failure'),
      (e: unknown) => e,
    );
    if (!(error instanceof QuarryError)) throw error;
    return error;
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'quarry-pool-'));
    file = path.join(dir, 'doc.txt');
    await writeFile(file, 'first page\fsecond page');
    pool = new ParserPool({ size: 2, maxMemoryMb: 256, hostScript });
  });

  afterAll(async () => {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers pages and attachments in order and returns the parser meta', async () => {
    const pages: ExtractedPage[] = [];
    const attachments: ExtractedAttachment[] = [];
    const meta = await pool.run(input('text'), {
      timeoutMs: 10_000,
      onPage: async (page) => {
        await new Promise((r) => setImmediate(r));
        pages.push(page);
      },
      onAttachment: (a) => void attachments.push(a),
    });
    expect(meta).toEqual({ title: 'echo' });
    expect(pages.map((p) => p.text)).toEqual(['first page', 'second page']);
    expect(attachments.map((a) => a.filename)).toEqual(['inner.txt']);
  });

  it('kills a parser that hangs at the deadline: parser_timeout, and the next document parses', async () => {
    const started = performance.now();
    const error = await failure('html', 500);
    expect(error.code).toBe('parser_timeout');
    expect(performance.now() - started).toBeLessThan(5000);
    await expect(pool.run(input('text'), { timeoutMs: 10_000 })).resolves.toEqual({ title: 'echo' });
  });

  it('kills a parser whose resident memory passes the limit: parser_out_of_memory', async () => {
    expect((await failure('png')).code).toBe('parser_out_of_memory');
  });

  it('reports a parser that exhausts its heap as parser_out_of_memory', async () => {
    expect((await failure('gif', 30_000)).code).toBe('parser_out_of_memory');
  });

  it('reports a host killed by a signal as parser_crashed', async () => {
    const error = await failure('bmp');
    expect(error.code).toBe('parser_crashed');
    expect(error.details).toMatchObject({ exit: 'SIGSEGV' });
  });

  it('reports an exception thrown outside the parser as parser_crashed', async () => {
    const error = await failure('rtf');
    expect(error.code).toBe('parser_crashed');
    expect(error.message).toContain('stray callback');
  });

  it("keeps a parser's own failure code, and classifies a library's exception as a corrupt document", async () => {
    expect((await failure('epub')).code).toBe('encrypted');
    const corrupt = await failure('docx');
    expect(corrupt.code).toBe('corrupt_docx');
    expect(corrupt.message).toContain('Cannot read properties');
    expect((await failure('pdf')).code).toBe('unsupported_type');
  });

  it('kills the host when the caller aborts, rejecting with the reason', async () => {
    const controller = new AbortController();
    const run = pool.run(input('html'), { timeoutMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('shutting down')), 50);
    await expect(run).rejects.toThrow('shutting down');
  });

  it('lets an idle host exit after the idle timeout and starts a fresh one for the next document', async () => {
    const brief = new ParserPool({ size: 1, maxMemoryMb: 256, hostScript, idleTimeoutMs: 50 });
    const live = () => (brief as unknown as { live: number }).live;
    try {
      await brief.run(input('text'), { timeoutMs: 10_000 });
      expect(live()).toBe(1);
      await waitFor(() => live() === 0, { timeoutMs: 5000, description: 'the idle host exits' });
      await expect(brief.run(input('text'), { timeoutMs: 10_000 })).resolves.toEqual({ title: 'echo' });
    } finally {
      await brief.close();
    }
  });

  it('runs at most `size` parsers at once; further callers wait for a free host', async () => {
    const small = new ParserPool({ size: 1, maxMemoryMb: 256, hostScript });
    try {
      const order: string[] = [];
      const hang = small.run(input('html'), { timeoutMs: 800 }).catch(() => order.push('hang ended'));
      const next = small.run(input('text'), { timeoutMs: 10_000 }).then(() => order.push('text parsed'));
      await Promise.all([hang, next]);
      expect(order).toEqual(['hang ended', 'text parsed']);
    } finally {
      await small.close();
    }
  });
});
