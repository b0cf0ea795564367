import { uuidv7 } from '@quarry/contracts';
import { ExtractionRepository, JobControlRepository } from '@quarry/persistence';
import { waitFor } from '@quarry/testing';
import { jetstream, type JsMsg } from '@nats-io/jetstream';
import { GatewayHarness, type UploadBody } from '../testing/gateway-harness';

// What GET /v1/jobs/:id and GET /v1/jobs?stuck=true say of jobs that have not ended (ADR 33), on PostgreSQL and
// NATS. The harness runs no worker, so every command sits in the work queue with nobody consuming it: the
// no-worker case. A test that needs a worker busy holds a message with a raw pull.

const NO_WORKER_AFTER_MS = 3000;
const STUCK_AFTER_MS = 500;

interface JobBody {
  id: string;
  status: string;
  lane: string;
  position: number | null;
  waiting: string | null;
  eta: number | null;
}
interface StuckItem {
  id: string;
  status: string;
  waiting: string | null;
  stuck: { reason: string; since: string };
}

let h: GatewayHarness;

beforeAll(async () => {
  h = await GatewayHarness.start('liveness_view', {
    NO_WORKER_AFTER_MS: String(NO_WORKER_AFTER_MS),
    STUCK_AFTER_MS: String(STUCK_AFTER_MS),
  });
});
afterAll(async () => {
  await h?.close();
});

async function upload(
  apiKey: string,
  options: { files?: number; lane?: 'interactive' | 'bulk' } = {},
): Promise<{ jobId: string; documentIds: string[] }> {
  const parts = Array.from({ length: options.files ?? 1 }, (_, i) => ({
    filename: `f${i}.txt`,
    content: `text ${i} ${uuidv7()}`,
  }));
  const res = await h.upload<UploadBody>(parts, {
    apiKey,
    headers: options.lane ? { 'quarry-lane': options.lane } : {},
  });
  expect(res.status).toBe(202);
  return { jobId: res.body.id, documentIds: res.body.documents.map((d) => d.id) };
}

async function view(jobId: string, apiKey = h.apiKey): Promise<JobBody> {
  const res = await h.request<JobBody>('GET', `/v1/jobs/${jobId}`, { apiKey });
  expect(res.status).toBe(200);
  return res.body;
}

async function stuckList(apiKey: string, query = ''): Promise<StuckItem[]> {
  const res = await h.request<{ items: StuckItem[] }>('GET', `/v1/jobs?stuck=true${query}`, { apiKey });
  expect(res.status).toBe(200);
  return res.body.items;
}

describe('queue position', () => {
  it("counts only the same tenant's queued jobs of the same lane ahead of it", async () => {
    const a = await h.createTenant('position-a');
    const b = await h.createTenant('position-b');
    const a1 = await upload(a.apiKey);
    const b1 = await upload(b.apiKey);
    const a2 = await upload(a.apiKey);
    const b2 = await upload(b.apiKey);
    const aBulk = await upload(a.apiKey, { lane: 'bulk' });
    const a3 = await upload(a.apiKey);

    expect((await view(a1.jobId, a.apiKey)).position).toBe(0);
    // Two of A's interactive jobs ahead; B's two (queued in between) and A's bulk job are not counted.
    expect(await view(a3.jobId, a.apiKey)).toMatchObject({
      status: 'queued',
      lane: 'interactive',
      position: 2,
    });
    expect((await view(b2.jobId, b.apiKey)).position).toBe(1);
    expect(await view(aBulk.jobId, a.apiKey)).toMatchObject({ lane: 'bulk', position: 0 });

    // A job ahead that leaves the queue moves it up.
    expect((await h.request('POST', `/v1/jobs/${a2.jobId}/cancel`, { apiKey: a.apiKey })).status).toBe(200);
    expect((await view(a3.jobId, a.apiKey)).position).toBe(1);
    // An ended job has no position and does not wait.
    expect(await view(a2.jobId, a.apiKey)).toMatchObject({ position: null, waiting: null, eta: null });
    expect((await view(b1.jobId, b.apiKey)).position).toBe(0);
  });
});

describe('waiting', () => {
  it('says queue at first and no_worker once its command waited NO_WORKER_AFTER_MS with nobody consuming', async () => {
    const t = await h.createTenant('waiting');
    const { jobId } = await upload(t.apiKey);
    expect((await view(jobId, t.apiKey)).waiting).toBe('queue');
    const later = await waitFor(
      async () => {
        const v = await view(jobId, t.apiKey);
        return v.waiting === 'no_worker' ? v : null;
      },
      { timeoutMs: NO_WORKER_AFTER_MS + 10_000, description: 'waiting: no_worker' },
    );
    // Nobody consumes it, so it has no end to estimate.
    expect(later).toMatchObject({ status: 'queued', position: 0, eta: null });
  });

  it('says queue, not no_worker, while a worker is on long work of the consumer, and no_worker once it is gone', async () => {
    const t = await h.createTenant('busy');
    const { jobId } = await upload(t.apiKey);
    const uploadedAt = Date.now();
    const consumer = await jetstream(h.ns.nc).consumers.get(
      h.ns.topology.jobsStream,
      h.ns.topology.consumerName('ingestDocument'),
    );
    // A worker takes whatever message is first in line and works on it for long: it pulls and acknowledges nothing
    // meanwhile, but keeps its message and reports progress, as a worker on a long document does.
    const held: JsMsg | null = await consumer.next({ expires: 5000 });
    expect(held).not.toBeNull();
    const cmd = held!.json<{ tenantId: string; jobId: string; documentId: string }>();
    expect(
      (await h.app.get(ExtractionRepository).claimForExtraction(cmd.tenantId, cmd.documentId)).claimed,
    ).toBe(true);
    const control = h.app.get(JobControlRepository);
    const progress = setInterval(() => {
      held!.working();
      void control.reportProgress(cmd.jobId, { step: 'ingest', done: 0, total: 1 });
    }, 200);
    try {
      // Past the threshold, and past the delivery JetStream last saw, it still only waits its turn.
      await waitFor(
        async () => {
          expect((await view(jobId, t.apiKey)).waiting).toBe('queue');
          return Date.now() - uploadedAt > NO_WORKER_AFTER_MS + 1500;
        },
        {
          timeoutMs: NO_WORKER_AFTER_MS + 10_000,
          description: 'the threshold to pass with the job waiting its turn',
        },
      );
    } finally {
      clearInterval(progress);
    }
    // The worker dies: its message stays out until a pull comes, but nobody is left to pull.
    await waitFor(async () => (await view(jobId, t.apiKey)).waiting === 'no_worker', {
      timeoutMs: NO_WORKER_AFTER_MS + 10_000,
      description: 'waiting: no_worker once the worker is gone',
    });
  });
});

describe('eta', () => {
  it("estimates from the tenant's measured step rates in the lane, and is null before any was measured", async () => {
    const t = await h.createTenant('eta');
    const first = await upload(t.apiKey, { files: 2 });
    expect((await view(first.jobId, t.apiKey)).eta).toBeNull();

    // Two finished jobs of the tenant's interactive lane: ingest 2 s and index 1 s per document (median), and one of
    // the bulk lane that must not count.
    await h.pg.query(
      `WITH j AS (
         INSERT INTO jobs (tenant_id, type, lane, status, created_at, started_at, finished_at)
         VALUES ($1, 'ingest', 'interactive', 'succeeded', now() - interval '2 hours', now() - interval '2 hours', now() - interval '1 hour'),
                ($1, 'ingest', 'interactive', 'completed_with_failures', now() - interval '3 hours', now() - interval '3 hours', now() - interval '2 hours'),
                ($1, 'ingest', 'bulk', 'succeeded', now() - interval '4 hours', now() - interval '4 hours', now() - interval '3 hours')
         RETURNING id, lane, status)
       INSERT INTO job_steps (job_id, tenant_id, name, status, done, total, started_at, finished_at)
       SELECT j.id, $1, s.name, 'succeeded', 2, 2, now() - interval '1 day',
              now() - interval '1 day' + make_interval(secs => CASE WHEN j.lane = 'bulk' THEN 100 ELSE s.secs END)
       FROM j CROSS JOIN (VALUES ('ingest', 4), ('index', 2)) AS s(name, secs)`,
      [t.tenantId],
    );
    const second = await upload(t.apiKey, { files: 1 });
    // Everything up to it: 2 + 1 documents, each 2 s of ingest and 1 s of index.
    const v = await view(second.jobId, t.apiKey);
    if (v.waiting === 'no_worker')
      throw new Error('the machine took longer than NO_WORKER_AFTER_MS to answer');
    expect(v).toMatchObject({ position: 1, waiting: 'queue', eta: 9 });
    expect((await view(first.jobId, t.apiKey)).eta).toBe(6);
  });
});

describe('GET /v1/jobs?stuck=true', () => {
  it("lists the tenant's active jobs with no sign of life for STUCK_AFTER_MS, each with its reason and since", async () => {
    const t = await h.createTenant('stuck');
    const other = await h.createTenant('stuck-other');
    const silent = await upload(t.apiKey);
    const orphan = await upload(t.apiKey);
    const waiting = await upload(t.apiKey);
    await upload(other.apiKey);

    // A worker claimed it, then fell silent an hour ago.
    const claim = await h.app
      .get(ExtractionRepository)
      .claimForExtraction(t.tenantId, silent.documentIds[0]!);
    expect(claim.claimed).toBe(true);
    const { rows } = await h.pg.query<{ since: Date }>(
      `UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1 RETURNING heartbeat_at AS since`,
      [silent.jobId],
    );
    // Every document finished, yet still running (the sweeper ends it; see the maintenance tests).
    await h.pg.query(`UPDATE documents SET status = 'indexed' WHERE job_id = $1`, [orphan.jobId]);
    await h.pg.query(`UPDATE jobs SET status = 'running' WHERE id = $1`, [orphan.jobId]);

    const items = await waitFor(
      async () => {
        const list = await stuckList(t.apiKey);
        const byId = new Map(list.map((i) => [i.id, i]));
        return byId.get(waiting.jobId)?.stuck.reason === 'no_worker' ? list : null;
      },
      { timeoutMs: NO_WORKER_AFTER_MS + 10_000, description: 'the queued job to be stuck with no worker' },
    );
    // Newest first; the other tenant's job is not there.
    expect(items.map((i) => [i.id, i.stuck.reason, i.waiting])).toEqual([
      [waiting.jobId, 'no_worker', 'no_worker'],
      [orphan.jobId, 'no_open_documents', null],
      [silent.jobId, 'worker_silent', null],
    ]);
    expect(new Date(items[2]!.stuck.since).getTime()).toBe(Math.trunc(rows[0]!.since.getTime()));

    expect((await stuckList(t.apiKey, '&status=running')).map((i) => i.id)).toEqual([
      orphan.jobId,
      silent.jobId,
    ]);
    expect((await stuckList(t.apiKey, '&limit=1')).map((i) => i.id)).toEqual([waiting.jobId]);
    const bad = await h.request<{ code: string }>('GET', '/v1/jobs?stuck=true&status=succeeded', {
      apiKey: t.apiKey,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('validation_failed');

    // A job that just came in is not stuck; and stuck=false is the plain list.
    const fresh = await upload(t.apiKey);
    expect((await stuckList(t.apiKey)).map((i) => i.id)).not.toContain(fresh.jobId);
    const plain = await h.request<{ items: { id: string }[] }>('GET', '/v1/jobs?stuck=false', {
      apiKey: t.apiKey,
    });
    expect(plain.body.items.map((i) => i.id)).toContain(fresh.jobId);
  });
});

describe('tenant capacity', () => {
  it('says tenant_capacity while the tenant runs a job of the lane and another tenant waits there too', async () => {
    // The earlier tests' jobs end first: this one needs to know who else is in the lane.
    await h.pg.query(
      `UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE status IN ('queued', 'running')`,
    );
    const a = await h.createTenant('capacity-a');
    const b = await h.createTenant('capacity-b');
    const running = await upload(a.apiKey);
    await h.pg.query(`UPDATE jobs SET status = 'running', started_at = now() WHERE id = $1`, [running.jobId]);
    const next = await upload(a.apiKey);
    // Alone in the lane, A's next job waits for the queue, not for its share.
    expect((await view(next.jobId, a.apiKey)).waiting).toBe('queue');
    const other = await upload(b.apiKey);
    expect((await view(next.jobId, a.apiKey)).waiting).toBe('tenant_capacity');
    // B has nothing running: it waits for the queue, and the fair share gives it the next free slot.
    expect((await view(other.jobId, b.apiKey)).waiting).toBe('queue');
    // Another lane is another share.
    const bulk = await upload(a.apiKey, { lane: 'bulk' });
    expect((await view(bulk.jobId, a.apiKey)).waiting).toBe('queue');
    await h.pg.query(`UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE id = ANY($1::uuid[])`, [
      [running.jobId, next.jobId, other.jobId, bulk.jobId],
    ]);
  });
});
