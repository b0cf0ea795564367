import { uuidv7 } from '@quarry/contracts';
import { GatewayHarness, type ErrorBody } from '../testing/gateway-harness';
import { RetentionService } from './retention';

// Retention and DELETE /v1/documents/:id on the real gateway, PostgreSQL and the JetStream object
// store. No worker runs: tests move jobs to terminal states (and back in time) with SQL.

let h: GatewayHarness;

beforeAll(async () => {
  h = await GatewayHarness.start('retention');
});
afterAll(async () => {
  await h?.close();
});

interface Uploaded {
  jobId: string;
  documentId: string;
  blobKey: string;
}

async function upload(apiKey?: string): Promise<Uploaded> {
  const res = await h.upload(
    [{ filename: 'r.txt', content: `retention ${uuidv7()}` }],
    apiKey ? { apiKey } : {},
  );
  expect(res.status).toBe(202);
  const documentId = res.body.documents[0]!.id;
  const { rows } = await h.pg.query<{ blob_key: string }>('SELECT blob_key FROM documents WHERE id = $1', [
    documentId,
  ]);
  return { jobId: res.body.id, documentId, blobKey: rows[0]!.blob_key };
}

async function finish(jobId: string, daysAgo = 0): Promise<void> {
  await h.pg.query(
    `UPDATE jobs SET status = 'succeeded', finished_at = now() - make_interval(days => $2) WHERE id = $1`,
    [jobId, daysAgo],
  );
  await h.pg.query(`UPDATE documents SET status = 'indexed' WHERE job_id = $1`, [jobId]);
}

async function addPage(u: Uploaded): Promise<void> {
  await h.pg.query(
    `INSERT INTO pages (tenant_id, document_id, page_number, text, char_count)
     SELECT tenant_id, id, 1, 'text', 4 FROM documents WHERE id = $1`,
    [u.documentId],
  );
}

/** Makes `to` use the bytes of `from`, as a retry of the same upload does. */
async function shareBlob(from: Uploaded, to: Uploaded): Promise<void> {
  await h.pg.query('UPDATE documents SET blob_key = $2 WHERE id = $1', [to.documentId, from.blobKey]);
}

async function rowsOf(table: string, column: string, id: string): Promise<number> {
  const { rows } = await h.pg.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${table} WHERE ${column} = $1`,
    [id],
  );
  return rows[0]!.n;
}

async function hasDeadLetters(): Promise<boolean> {
  const { rows } = await h.pg.query<{ present: boolean }>(
    `SELECT to_regclass('dead_letters') IS NOT NULL AS present`,
  );
  return rows[0]!.present;
}

async function insertDeadLetter(daysAgo: number): Promise<string> {
  const id = uuidv7();
  await h.pg.query(
    `INSERT INTO dead_letters (id, tenant_id, command, origin_subject, origin_msg_id, dlq_stream_seq, code, reason,
                               delivery_count, payload, created_at)
     VALUES ($1, $2, 'ingestDocument', 's', 'm', (SELECT coalesce(max(dlq_stream_seq), 0) + 1 FROM dead_letters),
             'internal', 'r', 1, '{}', now() - make_interval(days => $3))`,
    [id, h.tenantId, daysAgo],
  );
  return id;
}

describe('retention', () => {
  it('purges old terminal jobs with their rows and unshared blobs, and keeps everything younger', async () => {
    const old = await upload();
    const oldShared = await upload();
    const young = await upload();
    const active = await upload();
    await addPage(old);
    await finish(old.jobId, 40);
    await finish(oldShared.jobId, 40);
    await finish(young.jobId, 1);
    await shareBlob(oldShared, young);
    // Sent two days ago: gone for a finished job; kept for an active one (the sweeper reads it).
    await h.pg.query(`UPDATE outbox SET sent_at = now() - interval '2 days' WHERE job_id = ANY($1::uuid[])`, [
      [old.jobId, active.jobId],
    ]);
    const deadLetters = await hasDeadLetters();
    const oldLetter = deadLetters ? await insertDeadLetter(100) : undefined;
    const youngLetter = deadLetters ? await insertDeadLetter(10) : undefined;
    expect(await h.blobNames()).toEqual(
      expect.arrayContaining([old.blobKey, oldShared.blobKey, young.blobKey, active.blobKey]),
    );

    const report = await h.app.get(RetentionService).run();

    expect(report).toMatchObject({ jobs: 2, blobs: 1 });
    expect(report.outboxRows).toBeGreaterThanOrEqual(1);
    for (const gone of [old, oldShared]) {
      expect(await rowsOf('jobs', 'id', gone.jobId)).toBe(0);
      expect(await rowsOf('documents', 'job_id', gone.jobId)).toBe(0);
      expect(await rowsOf('job_steps', 'job_id', gone.jobId)).toBe(0);
      expect(await rowsOf('job_events', 'job_id', gone.jobId)).toBe(0);
    }
    expect(await rowsOf('pages', 'document_id', old.documentId)).toBe(0);
    expect(await rowsOf('outbox', 'job_id', old.jobId)).toBe(0);
    for (const kept of [young, active]) expect(await rowsOf('jobs', 'id', kept.jobId)).toBe(1);
    expect(await rowsOf('outbox', 'job_id', active.jobId)).toBe(1);
    expect(await rowsOf('outbox', 'job_id', young.jobId)).toBe(1);

    const blobs = await h.blobNames();
    expect(blobs).not.toContain(old.blobKey);
    // The young job's document still reads these bytes.
    expect(blobs).toContain(oldShared.blobKey);
    expect(blobs).toEqual(expect.arrayContaining([young.blobKey, active.blobKey]));

    if (deadLetters) {
      expect(await rowsOf('dead_letters', 'id', oldLetter!)).toBe(0);
      expect(await rowsOf('dead_letters', 'id', youngLetter!)).toBe(1);
      expect(report.deadLetters).toBeGreaterThanOrEqual(1);
    } else {
      expect(report.deadLetters).toBeNull();
    }

    // A second pass finds nothing more.
    expect(await h.app.get(RetentionService).run()).toMatchObject({ jobs: 0, blobs: 0 });
  });
});

describe('DELETE /v1/documents/:id', () => {
  it('deletes a finished document with its pages and its blob; the job stays', async () => {
    const u = await upload();
    await addPage(u);
    await finish(u.jobId);

    const res = await h.request('DELETE', `/v1/documents/${u.documentId}`);

    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(await rowsOf('documents', 'id', u.documentId)).toBe(0);
    expect(await rowsOf('pages', 'document_id', u.documentId)).toBe(0);
    expect(await rowsOf('jobs', 'id', u.jobId)).toBe(1);
    expect(await h.blobNames()).not.toContain(u.blobKey);
    expect((await h.request('GET', `/v1/documents/${u.documentId}`)).status).toBe(404);
    expect((await h.request('DELETE', `/v1/documents/${u.documentId}`)).status).toBe(404);
  });

  it('keeps a blob another document still uses, and deletes it with the last one', async () => {
    const first = await upload();
    const retry = await upload();
    await finish(first.jobId);
    await finish(retry.jobId);
    await shareBlob(first, retry);

    expect((await h.request('DELETE', `/v1/documents/${first.documentId}`)).status).toBe(204);
    expect(await h.blobNames()).toContain(first.blobKey);

    expect((await h.request('DELETE', `/v1/documents/${retry.documentId}`)).status).toBe(204);
    expect(await h.blobNames()).not.toContain(first.blobKey);
  });

  it('answers 409 conflict while the job is queued or running, and deletes nothing', async () => {
    const u = await upload();

    const queued = await h.request<ErrorBody>('DELETE', `/v1/documents/${u.documentId}`);
    expect(queued.status).toBe(409);
    expect(queued.body.code).toBe('conflict');
    expect(queued.body.message).toContain('queued');

    await h.pg.query(`UPDATE jobs SET status = 'running' WHERE id = $1`, [u.jobId]);
    expect((await h.request<ErrorBody>('DELETE', `/v1/documents/${u.documentId}`)).status).toBe(409);
    expect(await rowsOf('documents', 'id', u.documentId)).toBe(1);
    expect(await h.blobNames()).toContain(u.blobKey);
  });

  it("answers 404 for another tenant's document and 400 for a malformed id", async () => {
    const other = await h.createTenant('retention-other');
    const u = await upload(other.apiKey);
    await finish(u.jobId);

    const res = await h.request<ErrorBody>('DELETE', `/v1/documents/${u.documentId}`);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
    expect(await rowsOf('documents', 'id', u.documentId)).toBe(1);
    expect(await h.blobNames()).toContain(u.blobKey);

    expect((await h.request<ErrorBody>('DELETE', '/v1/documents/nope')).status).toBe(400);
  });
});
