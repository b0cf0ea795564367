import { makeTestPdf } from '@quarry/testing';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { QuarryStack, type JobBody } from '../stack';
import { CORPUS, CORPUS_LIMITS, type CorpusCase, type Expect } from './cases';
import { ELF_HEAD, utf8 } from './fixtures';
import { multipart, type FilePart } from './multipart';

// Every case of the bad-input corpus (cases.ts) through the three built apps: refused at upload with the
// right status and code, or accepted and ending in the right document status, error code, detected type,
// stored text and stored file name. Accepted cases travel in a few multi-file jobs, so one bad file
// also shows it does not drag its neighbours down.

const BATCH = 10;

interface UploadReply {
  id?: string;
  code?: string;
  message?: string;
  documents?: { id: string; filename: string; status: string }[];
}

interface DocumentBody {
  id: string;
  filename: string;
  status: string;
  error: { code: string; message: string } | null;
  detectedType: string | null;
  pageCount: number | null;
  chunkCount: number;
  pages: { pageNumber: number; text: string }[];
}

interface Verdict {
  name: string;
  ok: boolean;
  expected: string;
  actual: string;
}

function describeExpect(c: CorpusCase): string {
  const e: Expect = c.expect;
  const name = `as ${JSON.stringify(c.storedAs ?? c.filename)}`;
  if ('rejected' in e) return `HTTP ${e.rejected.status} ${e.rejected.code}`;
  if ('failed' in e)
    return `failed ${typeof e.failed === 'string' ? e.failed : e.failed.join(' or ')} ${name}`;
  const text =
    e.indexed.text === undefined ? '' : ` text ${String(JSON.stringify(e.indexed.text)).slice(0, 80)}`;
  return `indexed (${e.indexed.detectedType})${text} ${name}`;
}

/** What a document ended as, in one line: status, code, type, stored name, then text or error message. */
function describeDocument(d: DocumentBody): string {
  const head = `${d.status}${d.error ? ` ${d.error.code}` : ''} (${d.detectedType ?? 'no type'}) as ${JSON.stringify(d.filename)}`;
  if (d.error) return `${head}: ${d.error.message.slice(0, 100)}`;
  const text = d.pages.map((p) => p.text).join('|');
  return `${head} text ${JSON.stringify(text.slice(0, 60))}`;
}

function textMatches(expected: string[] | RegExp | undefined, pages: string[]): boolean {
  if (expected === undefined) return pages.some((p) => p.trim() !== '');
  if (expected instanceof RegExp) return expected.test(pages.join('\n'));
  return pages.length === expected.length && pages.every((p, i) => p === expected[i]);
}

describe('the bad-input corpus through the real pipeline', () => {
  let stack: QuarryStack;
  let db: Client;

  beforeAll(async () => {
    stack = await QuarryStack.start('corpus', {
      MAX_UPLOAD_BYTES: String(CORPUS_LIMITS.maxUploadBytes),
      MAX_FILES_PER_UPLOAD: String(CORPUS_LIMITS.maxFiles),
      PDF_TIMEOUT_MS: String(CORPUS_LIMITS.pdfTimeoutMs),
      PARSER_MAX_MEMORY_MB: String(CORPUS_LIMITS.parserMaxMemoryMb),
      // The three slow PDFs (bombs, thousands of pages) must not hold every slot.
      INGEST_CONCURRENCY: '5',
      // Small documents need not wait behind the two long texts being embedded.
      ANALYSIS_CONCURRENCY: '3',
    });
    db = new Client({ connectionString: stack.db.url });
    await db.connect();
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await stack?.stop();
  });

  async function post(parts: FilePart[]): Promise<{ status: number; body: UploadReply }> {
    const { body, contentType } = multipart(parts);
    const response = await fetch(`${stack.baseUrl}/v1/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': contentType },
      body,
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as UploadReply };
  }

  const partOf = (c: CorpusCase, bytes: Uint8Array): FilePart => ({
    filename: c.filename,
    bytes,
    ...(c.type === undefined ? {} : { type: c.type }),
    ...(c.extendedName ? { extendedName: true } : {}),
    ...(c.field === undefined ? {} : { field: c.field }),
  });

  async function documentBody(id: string): Promise<DocumentBody> {
    const r = await stack.request<DocumentBody>('GET', `/v1/documents/${id}`);
    if (r.status !== 200) throw new Error(`GET /v1/documents/${id} answered ${r.status}`);
    return r.body;
  }

  it(`every case ends exactly as the table says (${CORPUS.length} cases)`, async () => {
    const prepared = await Promise.all(
      CORPUS.map(async (c) => ({ c, bytes: typeof c.bytes === 'function' ? await c.bytes() : c.bytes })),
    );
    expect(new Set(CORPUS.map((c) => c.name)).size).toBe(CORPUS.length);
    const accepted = prepared.filter(({ c }) => !('rejected' in c.expect));
    // Identical bytes would reuse each other's extraction and test one case twice.
    expect(new Set(accepted.map(({ bytes }) => Buffer.from(bytes).toString('base64'))).size).toBe(
      accepted.length,
    );
    const verdicts: Verdict[] = [];
    const verdict = (c: CorpusCase, ok: boolean, actual: string) =>
      verdicts.push({ name: c.name, ok, expected: describeExpect(c), actual });

    // Refusals first, each a request of its own: none may leave a job behind.
    await Promise.all(
      prepared
        .filter(({ c }) => 'rejected' in c.expect)
        .map(async ({ c, bytes }) => {
          const want = (c.expect as Extract<Expect, { rejected: unknown }>).rejected;
          const r = await post([partOf(c, bytes), ...(c.alongside ?? [])]);
          verdict(
            c,
            r.status === want.status && r.body.code === want.code,
            `HTTP ${r.status} ${r.body.code ?? ''}`.trim(),
          );
        }),
    );
    const jobsAfterRefusals = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs');
    expect(jobsAfterRefusals.rows[0]?.n).toBe(0);

    // Then the accepted cases, a few jobs of up to BATCH files, all in flight at once.
    const batches: (typeof accepted)[] = [];
    for (let i = 0; i < accepted.length; i += BATCH) batches.push(accepted.slice(i, i + BATCH));
    const uploads = await Promise.all(
      batches.map((batch) => post(batch.map(({ c, bytes }) => partOf(c, bytes)))),
    );
    const started = performance.now();
    const jobs = await Promise.all(
      uploads.map(async (u, b) => {
        if (u.status !== 202 || !u.body.id) {
          throw new Error(`batch ${b} was refused: HTTP ${u.status} ${JSON.stringify(u.body)}`);
        }
        return stack.waitForTerminal(u.body.id, 90_000);
      }),
    );
    const processingMs = Math.round(performance.now() - started);

    for (const [b, job] of jobs.entries()) {
      const batch = batches[b] ?? [];
      expect(job.documents).toHaveLength(batch.length);
      for (const [i, { c }] of batch.entries()) {
        const summary = job.documents[i];
        if (!summary) throw new Error(`job ${job.id} lost the document of "${c.name}"`);
        const d = await documentBody(summary.id);
        const actual = describeDocument(d);
        const nameOk = d.filename === (c.storedAs ?? c.filename);
        const e = c.expect;
        let ok = false;
        if ('failed' in e) {
          const codes: readonly string[] = typeof e.failed === 'string' ? [e.failed] : e.failed;
          ok = d.status === 'failed' && codes.includes(d.error?.code ?? '');
        } else if ('indexed' in e) {
          ok =
            d.status === 'indexed' &&
            d.detectedType === e.indexed.detectedType &&
            d.chunkCount > 0 &&
            d.pageCount === d.pages.length &&
            textMatches(
              e.indexed.text,
              d.pages.map((p) => p.text),
            );
        }
        verdict(c, ok && nameOk, actual);
      }
      // The job's own status follows from its documents.
      const failed = job.documents.filter((d) => d.status === 'failed').length;
      const expectedStatus =
        failed === 0 ? 'succeeded' : failed === job.documents.length ? 'failed' : 'completed_with_failures';
      expect(job.status).toBe(expectedStatus);
    }

    const order = new Map(CORPUS.map((c, i) => [c.name, i]));
    verdicts.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0));
    const good = verdicts.filter((v) => v.ok).length;
    const report = verdicts.map((v) => `${v.ok ? 'ok      ' : 'MISMATCH'} ${v.name}: ${v.actual}`).join('\n');
    writeFileSync(path.join(stack.logDir, 'corpus.txt'), `${report}\n`);
    process.stdout.write(
      `corpus: ${verdicts.length} cases, ${good} as expected ` +
        `(${jobs.length} jobs processed in ${processingMs} ms; report in ${path.relative(process.cwd(), stack.logDir)}/corpus.txt)\n`,
    );
    expect(
      verdicts.filter((v) => !v.ok).map((v) => `${v.name}: expected ${v.expected}, got ${v.actual}`),
    ).toEqual([]);
    expect(verdicts).toHaveLength(CORPUS.length);
  }, 180_000);

  it('the same bytes uploaded again reuse the earlier extraction and chunks; a failed document is parsed again', async () => {
    const pdf = await makeTestPdf([
      ['Reuse check', '', 'Serpentine slabs were polished for the lobby floor.'],
    ]);
    const text = utf8(`Reuse check for plain text ${Date.now()}: travertine.\n`);
    const elf = new Uint8Array([...ELF_HEAD, 0x42]);
    const files = (suffix: string): FilePart[] => [
      { filename: `slabs-${suffix}.pdf`, bytes: pdf, type: 'application/pdf' },
      { filename: `travertine-${suffix}.txt`, bytes: text, type: 'text/plain' },
      { filename: `tool-${suffix}.txt`, bytes: elf, type: 'text/plain' },
    ];
    const run = async (suffix: string): Promise<JobBody> => {
      const u = await post(files(suffix));
      expect(u.status).toBe(202);
      return stack.waitForTerminal(u.body.id ?? '', 60_000);
    };
    const first = await run('first');
    const second = await run('second');
    for (const job of [first, second]) {
      expect(job.status).toBe('completed_with_failures');
      expect(job.documents.map((d) => [d.status, d.error?.code ?? null])).toEqual([
        ['indexed', null],
        ['indexed', null],
        ['failed', 'unsupported_type'],
      ]);
    }

    const { rows } = await db.query<{ data: { documentId: string; fromDocumentId: string } }>(
      `SELECT data FROM job_events WHERE job_id = $1 AND kind = 'extraction_reused' ORDER BY id`,
      [second.id],
    );
    const reused = new Map(rows.map((r) => [r.data.documentId, r.data.fromDocumentId]));
    expect(reused).toEqual(
      new Map([
        [second.documents[0]?.id, first.documents[0]?.id],
        [second.documents[1]?.id, first.documents[1]?.id],
      ]),
    );
    for (const i of [0, 1]) {
      const [before, after] = await Promise.all([
        documentBody(first.documents[i]?.id ?? ''),
        documentBody(second.documents[i]?.id ?? ''),
      ]);
      expect(after.pages).toEqual(before.pages);
      expect([after.detectedType, after.pageCount]).toEqual([before.detectedType, before.pageCount]);
      expect(after.chunkCount).toBe(before.chunkCount);
    }
    // The index step took the earlier chunks and vectors too (same model): nothing was embedded again.
    const chunkEvents = await db.query<{ data: { documentId: string; fromDocumentId: string } }>(
      `SELECT data FROM job_events WHERE job_id = $1 AND kind = 'chunks_reused' ORDER BY id`,
      [second.id],
    );
    expect(new Map(chunkEvents.rows.map((r) => [r.data.documentId, r.data.fromDocumentId]))).toEqual(reused);
    // The first upload had nothing to reuse: it was parsed and embedded.
    const { rows: events } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM job_events WHERE job_id = $1 AND kind IN ('extraction_reused', 'chunks_reused')`,
      [first.id],
    );
    expect(events[0]?.n).toBe(0);
  }, 150_000);
});
