import { GatewayHarness, type ErrorBody, type UploadBody } from '../testing/gateway-harness';

interface JobItem {
  id: string;
  status: string;
  type: string;
  documents: { id: string; filename: string }[];
  createdAt: string;
}
interface JobPage {
  items: JobItem[];
  nextCursor: string | null;
}

let h: GatewayHarness;
/** A tenant of its own, so the list holds exactly the jobs this file made. */
let pager: { tenantId: string; apiKey: string };
/** Job ids in creation order. */
const created: string[] = [];

beforeAll(async () => {
  h = await GatewayHarness.start('jobs');
  pager = await h.createTenant('pager');
  for (let i = 0; i < 7; i++) {
    const res = await h.upload([{ filename: `job-${i}.txt`, content: `job ${i}` }], { apiKey: pager.apiKey });
    expect(res.status).toBe(202);
    created.push(res.body.id);
  }
});
afterAll(async () => {
  await h?.close();
});

async function listAll(query: Record<string, string>, apiKey: string): Promise<{ pages: JobItem[][] }> {
  const pages: JobItem[][] = [];
  let cursor: string | null = null;
  do {
    const res: Awaited<ReturnType<typeof h.request<JobPage>>> = await h.request<JobPage>('GET', '/v1/jobs', {
      apiKey,
      query: { ...query, ...(cursor ? { cursor } : {}) },
    });
    expect(res.status).toBe(200);
    pages.push(res.body.items);
    cursor = res.body.nextCursor;
    expect(pages.length).toBeLessThan(20);
  } while (cursor);
  return { pages };
}

describe('GET /v1/jobs/:id', () => {
  it('answers a job with its documents and no internal columns', async () => {
    const res = await h.request<Record<string, unknown>>('GET', `/v1/jobs/${created[0]}`, {
      apiKey: pager.apiKey,
    });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(
      [
        'acceptingDocuments',
        'attempts',
        'createdAt',
        'documents',
        'error',
        'eta',
        'finishedAt',
        'id',
        'lane',
        'position',
        'progress',
        'retryOfJobId',
        'startedAt',
        'status',
        'steps',
        'traceId',
        'type',
        'waiting',
      ].sort(),
    );
    expect(res.body).toMatchObject({
      id: created[0],
      type: 'ingest',
      status: 'queued',
      // The first job of its tenant: nothing queued ahead of it. No worker runs, yet it came a moment ago.
      position: 0,
      waiting: 'queue',
      eta: null,
      attempts: 0,
      error: null,
      progress: { step: 'ingest', done: 0, total: 1 },
      documents: [{ filename: 'job-0.txt', status: 'queued', error: null }],
    });
    // Its steps, not started yet: nothing has run, so no timings.
    const steps = res.body['steps'] as {
      name: string;
      startedAt: string | null;
      durationMs: number | null;
    }[];
    expect(steps.map((s) => [s.name, s.startedAt, s.durationMs]).sort()).toEqual([
      ['index', null, null],
      ['ingest', null, null],
    ]);
  });

  it("gives each step's timings once it ran", async () => {
    const jobId = created[1] as string;
    await h.pg.query(
      `UPDATE job_steps SET status = 'succeeded', done = total, started_at = now() - interval '1500 milliseconds',
                            finished_at = now() - interval '500 milliseconds'
       WHERE job_id = $1 AND name = 'ingest'`,
      [jobId],
    );
    await h.pg.query(
      `UPDATE job_steps SET status = 'running', started_at = now() WHERE job_id = $1 AND name = 'index'`,
      [jobId],
    );
    const res = await h.request<{ steps: { name: string; status: string; durationMs: number | null }[] }>(
      'GET',
      `/v1/jobs/${jobId}`,
      { apiKey: pager.apiKey },
    );
    expect(res.body.steps.map((s) => s.name)).toEqual(['ingest', 'index']);
    expect(res.body.steps[0]).toMatchObject({ status: 'succeeded', durationMs: 1000 });
    // A running step's duration runs until now.
    expect(res.body.steps[1]?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('answers 404 not_found for an unknown id', async () => {
    const res = await h.request<ErrorBody>('GET', '/v1/jobs/0194f3b0-0000-7000-8000-000000000000');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'not_found' });
  });

  it.each(['not-a-uuid', '123', "1' OR '1'='1"])(
    'answers 400 validation_failed for the id %j',
    async (id) => {
      const res = await h.request<ErrorBody>('GET', `/v1/jobs/${encodeURIComponent(id)}`);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'validation_failed' });
    },
  );
});

describe('GET /v1/jobs', () => {
  it('pages through 7 jobs 3 at a time: 3 + 3 + 1, newest first, no duplicates or gaps', async () => {
    const { pages } = await listAll({ limit: '3' }, pager.apiKey);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat().map((j) => j.id)).toEqual([...created].reverse());
    const times = pages.flat().map((j) => Date.parse(j.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it('answers one full page with a null cursor when everything fits', async () => {
    const res = await h.request<JobPage>('GET', '/v1/jobs', { apiKey: pager.apiKey });
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(7);
    expect(res.body.nextCursor).toBeNull();
  });

  it('filters by status, also across pages', async () => {
    await h.pg.query(`UPDATE jobs SET status = 'failed' WHERE id = ANY($1::uuid[])`, [
      [created[1], created[4], created[5]],
    ]);
    await h.pg.query(`UPDATE jobs SET status = 'succeeded' WHERE id = $1`, [created[6]]);
    try {
      const failed = await listAll({ status: 'failed', limit: '2' }, pager.apiKey);
      expect(failed.pages.map((p) => p.length)).toEqual([2, 1]);
      expect(failed.pages.flat().map((j) => [j.id, j.status])).toEqual([
        [created[5], 'failed'],
        [created[4], 'failed'],
        [created[1], 'failed'],
      ]);
      const queued = await listAll({ status: 'queued' }, pager.apiKey);
      expect(queued.pages.flat().map((j) => j.id)).toEqual([created[3], created[2], created[0]]);
      const cancelled = await listAll({ status: 'cancelled' }, pager.apiKey);
      expect(cancelled.pages).toEqual([[]]);
    } finally {
      await h.pg.query(`UPDATE jobs SET status = 'queued' WHERE id = ANY($1::uuid[])`, [created]);
    }
  });

  // jobs.created_at is stored in milliseconds, exactly what a cursor (a JavaScript Date) carries; with
  // microseconds, jobs of one millisecond fell out of the page sequence.
  it('pages without gaps through jobs created within the same millisecond', async () => {
    // Under load several jobs share a millisecond; PostgreSQL keeps microseconds, JavaScript dates do not.
    const burst = await h.createTenant('burst');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await h.upload<UploadBody>([{ filename: `b${i}.txt`, content: `b${i}` }], {
        apiKey: burst.apiKey,
      });
      ids.push(res.body.id);
    }
    await h.pg.query(
      `UPDATE jobs SET created_at = '2025-06-01T12:00:00.123Z'::timestamptz + (ord * interval '1 microsecond')
         FROM unnest($1::uuid[]) WITH ORDINALITY AS x(id, ord) WHERE jobs.id = x.id`,
      [ids],
    );
    const { pages } = await listAll({ limit: '2' }, burst.apiKey);
    expect(pages.flat().map((j) => j.id)).toEqual([...ids].reverse());
  });

  it.each([
    ['limit=0', { limit: '0' }],
    ['limit=101', { limit: '101' }],
    ['limit=abc', { limit: 'abc' }],
    ['limit=1.5', { limit: '1.5' }],
    ['limit=-1', { limit: '-1' }],
    ['an unknown status', { status: 'done' }],
    ['an unknown query parameter', { sort: 'asc' }],
    ['a garbage cursor', { cursor: 'garbage' }],
    [
      'a cursor with a bad id',
      { cursor: Buffer.from('2025-01-01T00:00:00.000Z|nope').toString('base64url') },
    ],
    [
      'a cursor with a bad date',
      { cursor: Buffer.from('yesterday|0194f3b0-0000-7000-8000-000000000000').toString('base64url') },
    ],
    ['an over-long cursor', { cursor: 'A'.repeat(201) }],
  ])('answers 400 validation_failed for %s', async (_name, query) => {
    const res = await h.request<ErrorBody>('GET', '/v1/jobs', { query });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'validation_failed', message: expect.any(String) as unknown });
  });

  it('answers 400 for a repeated status parameter', async () => {
    const res = await h.request<ErrorBody>('GET', '/v1/jobs?status=queued&status=failed');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'validation_failed' });
  });
});
