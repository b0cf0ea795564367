import { makeTestPdf, waitFor } from '@quarry/testing';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { QuarryStack } from './stack';

const PAGE_TWO_SENTENCE =
  'Arctic terns migrate from pole to pole every year, the longest migration of any bird.';

/** A born-digital PDF whose second page holds the sentence the search must find. */
async function reportPdf(): Promise<Uint8Array> {
  return makeTestPdf([
    [
      'Quarterly logistics report',
      '',
      'Invoices were reconciled and the warehouse inventory was counted twice.',
    ],
    ['Field notes', '', PAGE_TWO_SENTENCE, '', 'Observers logged sightings along the coast.'],
    ['Appendix', '', 'Budget tables and staffing plans for the next quarter.'],
  ]);
}

describe('the spine: upload to search across three processes', () => {
  let stack: QuarryStack;

  beforeAll(async () => {
    stack = await QuarryStack.start('spine');
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('answers 202 with the job at once, then reaches succeeded; search finds page 2 of the PDF in the top 3', async () => {
    const text = new TextEncoder().encode(
      'Meeting notes.\n\nThe quarterly budget review is moved to Friday.\n',
    );
    const upload = await stack.upload([
      { name: 'report.pdf', bytes: await reportPdf(), type: 'application/pdf' },
      { name: 'notes.txt', bytes: text, type: 'text/plain' },
    ]);
    expect(upload.status).toBe(202);
    expect(upload.headers.get('location')).toBe(`/v1/jobs/${upload.body.id}`);
    expect(upload.body.status).toBe('queued');
    expect(upload.body.documents.map((d) => d.filename)).toEqual(['report.pdf', 'notes.txt']);

    const job = await stack.waitForTerminal(upload.body.id);
    expect(job.status).toBe('succeeded');
    expect(job.documents.every((d) => d.status === 'indexed')).toBe(true);
    expect(job.traceId).toMatch(/^[0-9a-f]{32}$/);
    // Nothing was redelivered: every step of every document ran once.
    expect(job.attempts).toBe(1);

    const pdfDoc = job.documents.find((d) => d.filename === 'report.pdf');
    const doc = await stack.request<{
      pageCount: number;
      chunkCount: number;
      detectedType: string;
      pages: { pageNumber: number; text: string }[];
    }>('GET', `/v1/documents/${pdfDoc?.id}`);
    expect(doc.status).toBe(200);
    expect(doc.body.detectedType).toBe('pdf');
    expect(doc.body.pageCount).toBe(3);
    expect(doc.body.chunkCount).toBeGreaterThan(0);
    expect(doc.body.pages[1]?.text).toContain('Arctic terns migrate');

    const search = await stack.request<{ results: { documentId: string; page: number; text: string }[] }>(
      'POST',
      '/v1/search',
      {
        json: { query: 'Which bird has the longest migration between the poles?', topK: 3 },
      },
    );
    expect(search.status).toBe(200);
    expect(search.body.results.length).toBeLessThanOrEqual(3);
    const hit = search.body.results.find((r) => r.documentId === pdfDoc?.id && r.page === 2);
    expect(hit?.text).toContain('Arctic terns');
  });

  it('a corrupt PDF beside a good file gives completed_with_failures with the error on the corrupt one', async () => {
    const good = await reportPdf();
    const corrupt = good.slice(0, Math.floor(good.length / 3));
    const upload = await stack.upload([
      { name: 'broken.pdf', bytes: corrupt, type: 'application/pdf' },
      { name: 'fine.pdf', bytes: good, type: 'application/pdf' },
    ]);
    expect(upload.status).toBe(202);
    const job = await stack.waitForTerminal(upload.body.id);
    expect(job.status).toBe('completed_with_failures');
    const broken = job.documents.find((d) => d.filename === 'broken.pdf');
    const fine = job.documents.find((d) => d.filename === 'fine.pdf');
    expect(broken?.status).toBe('failed');
    expect(broken?.error?.code).toBe('corrupt_pdf');
    expect(fine?.status).toBe('indexed');
    expect(fine?.error).toBeNull();
  });

  it('SIGKILL of the ingest worker while it holds a message, then a restart, still ends succeeded without duplicate chunks', async () => {
    // Long enough that extraction is still running when the worker is killed.
    const pages = Array.from({ length: 400 }, (_, i) => [
      `Section ${i + 1}`,
      '',
      `Paragraph ${i + 1} describes shipment ${i * 7 + 3} and the customs forms it needed at the border crossing.`,
    ]);
    const upload = await stack.upload([
      { name: 'long.pdf', bytes: await makeTestPdf(pages), type: 'application/pdf' },
    ]);
    expect(upload.status).toBe(202);
    const documentId = upload.body.documents[0]?.id;

    const db = new Client({ connectionString: stack.db.url });
    await db.connect();
    try {
      const status = async () =>
        (await db.query<{ status: string }>('SELECT status::text FROM documents WHERE id = $1', [documentId]))
          .rows[0]?.status;
      await waitFor(async () => (await status()) === 'extracting', {
        timeoutMs: 30_000,
        intervalMs: 20,
        description: 'extraction started',
      });
      await stack.apps['ingest-worker'].kill();
      // The kill must have landed mid-extraction, with the message unacknowledged.
      expect(await status()).toBe('extracting');

      stack.apps['ingest-worker'].start();
      const job = await stack.waitForTerminal(upload.body.id, 180_000);
      expect(job.status).toBe('succeeded');
      // The job shows that its document needed a second delivery.
      expect(job.attempts).toBeGreaterThanOrEqual(2);

      const { rows } = await db.query<{
        chunks: number;
        distinct_ordinals: number;
        distinct_texts: number;
        pages: number;
        chunk_count: number;
      }>(
        `SELECT (SELECT count(*)::int FROM chunks WHERE document_id = $1) AS chunks,
                (SELECT count(DISTINCT ordinal)::int FROM chunks WHERE document_id = $1) AS distinct_ordinals,
                (SELECT count(DISTINCT (page_number, text))::int FROM chunks WHERE document_id = $1) AS distinct_texts,
                (SELECT count(*)::int FROM pages WHERE document_id = $1) AS pages,
                d.chunk_count
         FROM documents d WHERE d.id = $1`,
        [documentId],
      );
      const r = rows[0]!;
      expect(r.pages).toBe(400);
      expect(r.chunks).toBeGreaterThanOrEqual(400);
      expect(r.chunks).toBe(r.chunk_count);
      expect(r.distinct_ordinals).toBe(r.chunks);
      expect(r.distinct_texts).toBe(r.chunks);
    } finally {
      await db.end();
    }
  });

  it('SIGTERM stops the ingest worker within its deadline, and the job still ends succeeded after a restart', async () => {
    const pages = Array.from({ length: 300 }, (_, i) => [
      `Chapter ${i + 1}`,
      '',
      `Ledger entry ${i + 1} for freight.`,
    ]);
    const upload = await stack.upload([{ name: 'ledger.pdf', bytes: await makeTestPdf(pages) }]);
    expect(upload.status).toBe(202);
    const db = new Client({ connectionString: stack.db.url });
    await db.connect();
    try {
      await waitFor(
        async () =>
          (
            await db.query<{ status: string }>('SELECT status::text FROM documents WHERE job_id = $1', [
              upload.body.id,
            ])
          ).rows[0]?.status === 'extracting',
        { timeoutMs: 30_000, intervalMs: 20, description: 'extraction started' },
      );
      const worker = stack.apps['ingest-worker'];
      const started = Date.now();
      const code = await worker.terminate();
      // SHUTDOWN_TIMEOUT_MS is 5 s in the stack: finish or hand back in-flight work, then exit cleanly.
      expect(Date.now() - started).toBeLessThan(12_000);
      expect(code).toBe(0);
      const log = readFileSync(worker.logFile, 'utf8');
      expect(log).toContain('consumers stopped');
      expect(log).toContain('shut down cleanly');

      worker.start();
      const job = await stack.waitForTerminal(upload.body.id, 180_000);
      expect(job.status).toBe('succeeded');
      const { rows } = await db.query<{ pages: number }>(
        'SELECT count(*)::int AS pages FROM pages p JOIN documents d ON d.id = p.document_id WHERE d.job_id = $1',
        [upload.body.id],
      );
      expect(rows[0]?.pages).toBe(300);
    } finally {
      await db.end();
    }
  });
});
