import { waitFor } from '@quarry/testing';
import { GatewayHarness, type ErrorBody, type UploadBody } from '../testing/gateway-harness';

interface RetryBody extends UploadBody {
  retryOfJobId: string;
}

let h: GatewayHarness;

beforeAll(async () => {
  h = await GatewayHarness.start('retry');
});
afterAll(async () => {
  await h?.close();
});

/** An upload whose documents are then given the statuses a finished job would have. */
async function finishedJob(status: string, documents: [string, string][], apiKey = h.apiKey) {
  const res = await h.upload<UploadBody>(
    documents.map(([filename]) => ({ filename, content: `bytes of ${filename}` })),
    { apiKey },
  );
  expect(res.status).toBe(202);
  for (const [i, [, docStatus]] of documents.entries()) {
    await h.pg.query(`UPDATE documents SET status = $2::document_status WHERE id = $1`, [
      res.body.documents[i]?.id,
      docStatus,
    ]);
  }
  await h.pg.query(`UPDATE jobs SET status = $2::job_status, finished_at = now() WHERE id = $1`, [
    res.body.id,
    status,
  ]);
  return res.body;
}

async function documentsOf(jobId: string) {
  const { rows } = await h.pg.query<{
    id: string;
    filename: string;
    status: string;
    blob_key: string;
    sha256: string;
  }>(
    `SELECT id, filename, status::text, blob_key, sha256 FROM documents WHERE job_id = $1 ORDER BY created_at, id`,
    [jobId],
  );
  return rows;
}

describe('POST /v1/jobs/:id/retry', () => {
  it('makes a new job with copies of only the failed documents, and leaves the finished job alone', async () => {
    const source = await finishedJob('completed_with_failures', [
      ['ok.txt', 'indexed'],
      ['bad-1.txt', 'failed'],
      ['bad-2.txt', 'failed'],
    ]);
    const res = await h.request<RetryBody>('POST', `/v1/jobs/${source.id}/retry`);
    expect(res.status).toBe(202);
    expect(res.headers['location']).toBe(`/v1/jobs/${res.body.id}`);
    expect(res.body).toMatchObject({ retryOfJobId: source.id, status: 'queued' });
    expect(res.body.documents.map((d) => [d.filename, d.status])).toEqual([
      ['bad-1.txt', 'queued'],
      ['bad-2.txt', 'queued'],
    ]);

    const [copies, originals] = await Promise.all([documentsOf(res.body.id), documentsOf(source.id)]);
    expect(copies.map((c) => [c.blob_key, c.sha256])).toEqual(
      originals.slice(1).map((o) => [o.blob_key, o.sha256]),
    );
    expect(copies.map((c) => c.id)).not.toEqual(expect.arrayContaining(originals.map((o) => o.id)));
    expect(originals.map((o) => o.status)).toEqual(['indexed', 'failed', 'failed']);

    const commands = await waitFor(async () => {
      const c = await h.ingestCommands(res.body.id);
      return c.length === 2 ? c : null;
    });
    expect(commands.map((m) => m.json<{ documentId: string }>().documentId).sort()).toEqual(
      copies.map((c) => c.id).sort(),
    );

    const job = await h.request<{ retryOfJobId: string | null; status: string }>(
      'GET',
      `/v1/jobs/${res.body.id}`,
    );
    expect(job.body.retryOfJobId).toBe(source.id);
    const old = await h.request<{ retryOfJobId: string | null; status: string }>(
      'GET',
      `/v1/jobs/${source.id}`,
    );
    expect(old.body).toMatchObject({ retryOfJobId: null, status: 'completed_with_failures' });
  });

  it('retries every document of a failed job, and answers the same job for a repeated Idempotency-Key', async () => {
    const source = await finishedJob('failed', [['only.txt', 'failed']]);
    const send = () =>
      h.request<RetryBody>('POST', `/v1/jobs/${source.id}/retry`, {
        headers: { 'idempotency-key': `r-${source.id}` },
      });
    const first = await send();
    const second = await send();
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers['idempotent-replayed']).toBe('true');
    const { rows } = await h.pg.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM jobs WHERE retry_of_job_id = $1`,
      [source.id],
    );
    expect(rows[0]?.n).toBe(1);
  });

  it.each([
    ['still queued', 'queued', [['q.txt', 'queued']], /is queued/],
    ['running', 'running', [['r.txt', 'extracting']], /is running/],
    ['succeeded', 'succeeded', [['s.txt', 'indexed']], /is succeeded/],
    ['failed without a failed document', 'failed', [['c.txt', 'cancelled']], /no failed documents/],
  ] as const)('answers 409 conflict for a job %s', async (_name, status, docs, message) => {
    const source = await finishedJob(
      status,
      docs.map(([f, s]) => [f, s] as [string, string]),
    );
    const before = await h.count('jobs');
    const res = await h.request<ErrorBody>('POST', `/v1/jobs/${source.id}/retry`);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('conflict');
    expect(res.body.message).toMatch(message);
    expect(await h.count('jobs')).toBe(before);
  });

  it("answers 404 for another tenant's job or an unknown one, and 400 for a bad id", async () => {
    const other = await h.createTenant('retry-other');
    const source = await finishedJob('failed', [['theirs.txt', 'failed']], other.apiKey);
    const res = await h.request<ErrorBody>('POST', `/v1/jobs/${source.id}/retry`);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
    const unknown = await h.request<ErrorBody>('POST', '/v1/jobs/0194f3b0-0000-7000-8000-000000000000/retry');
    expect(unknown.status).toBe(404);
    const bad = await h.request<ErrorBody>('POST', '/v1/jobs/nope/retry');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('validation_failed');
  });
});
