import { JobEvent, MessageIds, uuidv7 } from '@quarry/contracts';
import { waitFor } from '@quarry/testing';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { GatewayHarness, type UploadBody } from '../testing/gateway-harness';
import { MaintenanceRepository } from '@quarry/persistence';
import { MaintenanceScheduler } from './maintenance.scheduler';
import { StuckJobSweeper } from './stuck-job-sweeper';

// The stuck-job sweeper inside the real gateway, on PostgreSQL and NATS. No worker runs, so every
// command stays in the work queue unless a test deletes it (what a lost message looks like).

const STALL_AFTER_MS = 400;

let h: GatewayHarness;
let jsm: JetStreamManager;
let sweeper: StuckJobSweeper;

beforeAll(async () => {
  h = await GatewayHarness.start('sweeper', {
    SWEEP_INTERVAL_MS: '100',
    STALL_AFTER_MS: String(STALL_AFTER_MS),
    MAX_REDRIVES: '1',
  });
  jsm = await jetstreamManager(h.ns.nc);
  sweeper = h.app.get(StuckJobSweeper);
});
afterAll(async () => {
  await h?.close();
});

async function upload(): Promise<{ jobId: string; documentId: string }> {
  const res = await h.upload([{ filename: 'stuck.txt', content: `stuck ${uuidv7()}` }]);
  expect(res.status).toBe(202);
  const body: UploadBody = res.body;
  return { jobId: body.id, documentId: body.documents[0]!.id };
}

interface CommandRow {
  msg_id: string;
  seq: number | null;
  payload: Record<string, unknown>;
}

/** The document's newest command row, once the relay has recorded where JetStream stored it. */
function publishedCommand(jobId: string, documentId: string, generation: number): Promise<CommandRow> {
  const msgId = MessageIds.command('ingestDocument', jobId, documentId, generation);
  return waitFor(
    async () => {
      const { rows } = await h.pg.query<CommandRow>(
        `SELECT msg_id, published_seq::int AS seq, payload FROM outbox
         WHERE document_id = $1 ORDER BY id DESC LIMIT 1`,
        [documentId],
      );
      return rows[0]?.msg_id === msgId && rows[0].seq !== null ? rows[0] : null;
    },
    { timeoutMs: 10_000, description: `command ${msgId} to be published` },
  );
}

/** The message a stream holds at `seq`, or null. */
async function storedAt(seq: number) {
  return jsm.streams.getMessage(h.ns.topology.jobsStream, { seq });
}

async function job(jobId: string) {
  const { rows } = await h.pg.query<{ status: string; redrives: number; code: string | null }>(
    `SELECT status::text AS status, redrives, error->>'code' AS code FROM jobs WHERE id = $1`,
    [jobId],
  );
  return rows[0];
}

describe('stuck-job sweeper', () => {
  it('runs on the gateway that holds the leader lock', async () => {
    await waitFor(() => h.app.get(MaintenanceScheduler).isLeader, { description: 'leadership' });
    await waitFor(() => sweeper.stats.sweeps >= 2, { description: 'two sweeps' });
  });

  it('leaves a quiet job alone while its command is still waiting in the work queue', async () => {
    const { jobId, documentId } = await upload();
    const gen0 = await publishedCommand(jobId, documentId, 0);
    const judgedWaiting = () =>
      sweeper.lastReport?.jobs.some((j) => j.jobId === jobId && j.decision === 'waiting') === true;

    await waitFor(judgedWaiting, {
      timeoutMs: STALL_AFTER_MS + 5000,
      description: 'the sweeper to examine it',
    });
    const seen = sweeper.stats.sweeps;
    await waitFor(() => sweeper.stats.sweeps >= seen + 3 && judgedWaiting(), {
      description: 'three more sweeps that found it waiting',
    });

    const { rows } = await h.pg.query<{ msg_id: string }>(
      'SELECT msg_id FROM outbox WHERE document_id = $1',
      [documentId],
    );
    expect(rows.map((r) => r.msg_id)).toEqual([gen0.msg_id]);
    expect((await storedAt(gen0.seq!))?.header?.get('Nats-Msg-Id')).toBe(gen0.msg_id);
    expect(await job(jobId)).toEqual({ status: 'queued', redrives: 0, code: null });
    const res = await h.request<{ status: string; position: number | null }>('GET', `/v1/jobs/${jobId}`);
    expect(res.body.status).toBe('queued');
    expect(typeof res.body.position).toBe('number');
  });

  it('re-publishes a command lost from the work queue with the next message id generation', async () => {
    const { jobId, documentId } = await upload();
    const gen0 = await publishedCommand(jobId, documentId, 0);
    expect(await jsm.streams.deleteMessage(h.ns.topology.jobsStream, gen0.seq!)).toBe(true);

    const gen1 = await publishedCommand(jobId, documentId, 1);

    const stored = await storedAt(gen1.seq!);
    expect(stored?.subject).toBe(h.ns.topology.commandSubject('ingestDocument'));
    expect(stored?.header?.get('Nats-Msg-Id')).toBe(gen1.msg_id);
    // The same command as before, trace context included; only the message id is new.
    expect(stored?.json()).toEqual(gen0.payload);
    expect(gen1.payload).toEqual(gen0.payload);
    expect(await job(jobId)).toEqual({ status: 'queued', redrives: 1, code: null });
    const { rows } = await h.pg.query<{ data: { documents: { documentId: string }[] } }>(
      `SELECT data FROM job_events WHERE job_id = $1 AND kind = 'redriven'`,
      [jobId],
    );
    expect(rows.map((r) => r.data.documents.map((d) => d.documentId))).toEqual([[documentId]]);
  });

  it('pages through stalled jobs in the order it sweeps them', async () => {
    for (let i = 0; i < 3; i++) await upload();
    const repo = h.app.get(MaintenanceRepository);
    const all = await repo.findStalledJobs(0, 1000);
    expect(all.length).toBeGreaterThanOrEqual(3);

    const paged: string[] = [];
    let page = await repo.findStalledJobs(0, 2);
    while (page.length > 0) {
      paged.push(...page.map((j) => j.id));
      const last = page[page.length - 1]!;
      page = await repo.findStalledJobs(0, 2, { since: last.since, id: last.id });
    }
    // Microsecond heartbeats included: no job repeats at a page boundary, none is skipped.
    expect(paged).toEqual(all.map((j) => j.id));
  });

  it('fails the document as stalled when the re-driven command is lost too (MAX_REDRIVES=1)', async () => {
    const { jobId, documentId } = await upload();
    const gen0 = await publishedCommand(jobId, documentId, 0);
    await jsm.streams.deleteMessage(h.ns.topology.jobsStream, gen0.seq!);
    const gen1 = await publishedCommand(jobId, documentId, 1);
    await jsm.streams.deleteMessage(h.ns.topology.jobsStream, gen1.seq!);

    await waitFor(async () => (await job(jobId))?.status === 'failed', {
      timeoutMs: STALL_AFTER_MS + 8000,
      description: 'the job to fail',
    });

    expect(await job(jobId)).toEqual({ status: 'failed', redrives: 1, code: 'stalled' });
    const { rows: docs } = await h.pg.query<{ status: string; code: string }>(
      `SELECT status::text AS status, error->>'code' AS code FROM documents WHERE id = $1`,
      [documentId],
    );
    expect(docs).toEqual([{ status: 'failed', code: 'stalled' }]);
    const { rows: outbox } = await h.pg.query('SELECT 1 FROM outbox WHERE document_id = $1', [documentId]);
    expect(outbox).toHaveLength(2); // no third generation
    const failed = await waitFor(async () => {
      const all = await h.streamMessages(h.ns.topology.eventsStream, h.ns.topology.eventSubject('failed'));
      return all.find((m) => m.json<{ jobId?: string }>().jobId === jobId) ?? null;
    });
    expect(JobEvent.parse(failed.json())).toMatchObject({
      status: 'failed',
      error: { code: 'stalled' },
      documents: { total: 1, succeeded: 0, failed: 1 },
    });
  });
});
