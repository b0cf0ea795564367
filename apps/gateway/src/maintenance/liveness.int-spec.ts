import { commandEnvelope, JobEvent, uuidv7 } from '@quarry/contracts';
import { JetStreamServer } from '@quarry/messaging';
import {
  AnalysesRepository,
  ExtractionRepository,
  JobControlRepository,
  type DocumentWork,
} from '@quarry/persistence';
import { waitFor } from '@quarry/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { GatewayHarness, type UploadBody } from '../testing/gateway-harness';
import { StepDeadlineEnforcer } from './step-deadlines';
import { StrandedMessageScan } from './stranded-message-scan';
import { StuckJobSweeper } from './stuck-job-sweeper';

// Every job ends (ADR 33), inside the real gateway on PostgreSQL and NATS: a step past its deadline fails however
// alive its worker says it is, an active job with nothing open is ended, and a message stranded at its delivery
// limit while no gateway heard the advisory is found by the leader's scan. No worker runs: the tests play the worker
// through the repositories it uses, and JetStream's consumer through raw pulls.

const DEADLINE_MS = 1500;

let h: GatewayHarness;

beforeAll(async () => {
  h = await GatewayHarness.start('liveness', {
    SWEEP_INTERVAL_MS: '100',
    STEP_DEADLINE_MS_INGEST: String(DEADLINE_MS),
    STEP_DEADLINE_MS_ANALYZE: String(DEADLINE_MS),
    // Long enough that the stuck-job sweeper never re-drives a command these tests take out of the work queue
    // themselves; the job the sweeper must end is made quiet by hand.
    STALL_AFTER_MS: '600000',
  });
});
afterAll(async () => {
  await h?.close();
});

async function upload(filename = 'doc.txt'): Promise<{ jobId: string; documentId: string }> {
  const res = await h.upload<UploadBody>([{ filename, content: `text of ${filename} ${uuidv7()}` }]);
  expect(res.status).toBe(202);
  return { jobId: res.body.id, documentId: res.body.documents[0]!.id };
}

async function jobRow(jobId: string) {
  const { rows } = await h.pg.query<{ status: string; code: string | null; heartbeat_at: Date | null }>(
    `SELECT status::text AS status, error->>'code' AS code, heartbeat_at FROM jobs WHERE id = $1`,
    [jobId],
  );
  return rows[0];
}

async function documentRow(documentId: string) {
  const { rows } = await h.pg.query<{ status: string; code: string | null; message: string | null }>(
    `SELECT status::text AS status, error->>'code' AS code, error->>'message' AS message
     FROM documents WHERE id = $1`,
    [documentId],
  );
  return rows[0];
}

/** The job's final event in the events stream. */
function finalEvent(jobId: string, kind: 'completed' | 'failed') {
  return waitFor(
    async () => {
      const all = await h.streamMessages(h.ns.topology.eventsStream, h.ns.topology.eventSubject(kind));
      const m = all.find((e) => e.json<{ jobId?: string }>().jobId === jobId);
      return m ? JobEvent.parse(m.json()) : null;
    },
    { description: `events.job.${kind} of ${jobId}` },
  );
}

/** A hung handler: its heartbeat goes on (progress every 100 ms) while its step never ends. */
function heartbeat(jobId: string): { stop(): void; last(): number } {
  const control = h.app.get(JobControlRepository);
  let last = Date.now();
  const timer = setInterval(() => {
    void control.reportProgress(jobId, { step: 'ingest', done: 0, total: 1 }).then(() => {
      last = Date.now();
    });
  }, 100);
  return { stop: () => clearInterval(timer), last: () => last };
}

describe('step deadlines', () => {
  it('fails a document whose step ran past its deadline with deadline_exceeded although its heartbeat is fresh', async () => {
    const { jobId, documentId } = await upload('hangs.txt');
    const claim = await h.app.get(ExtractionRepository).claimForExtraction(h.tenantId, documentId);
    expect(claim.claimed).toBe(true);
    const work = (claim as { work: DocumentWork }).work;
    const beat = heartbeat(jobId);
    let failedAt: number;
    try {
      await waitFor(async () => (await jobRow(jobId))?.status === 'failed', {
        timeoutMs: DEADLINE_MS + 10_000,
        description: 'the job to fail at its deadline',
      });
      failedAt = Date.now();
    } finally {
      beat.stop();
    }
    // The handler was reporting progress up to the end: the deadline, not silence, ended it.
    expect(failedAt - beat.last()).toBeLessThan(1000);
    expect(await documentRow(documentId)).toEqual({
      status: 'failed',
      code: 'deadline_exceeded',
      message: 'the ingest step ran longer than its deadline of 1.5 s',
    });
    expect((await jobRow(jobId))?.code).toBe('deadline_exceeded');
    expect(await finalEvent(jobId, 'failed')).toMatchObject({
      status: 'failed',
      error: { code: 'deadline_exceeded' },
      documents: { total: 1, succeeded: 0, failed: 1 },
    });
    const { rows: events } = await h.pg.query<{ data: { error: { code: string } } }>(
      `SELECT data FROM job_events WHERE job_id = $1 AND kind = 'document_failed'`,
      [jobId],
    );
    expect(events.map((e) => e.data.error.code)).toEqual(['deadline_exceeded']);

    // The hung handler finishing late changes nothing: its completion is conditional on the step it claimed.
    const late = await h.app
      .get(ExtractionRepository)
      .completeExtraction(
        work,
        { detectedType: 'text', pages: [{ pageNumber: 1, text: 'late' }] },
        commandEnvelope(h.ns.topology, 'indexDocument', { v: 1, jobId, tenantId: h.tenantId, documentId }),
      );
    expect(late).toBeNull();
    expect((await documentRow(documentId))?.status).toBe('failed');
    expect(await h.app.get(ExtractionRepository).claimForExtraction(h.tenantId, documentId)).toMatchObject({
      claimed: false,
    });
    expect(h.app.get(StepDeadlineEnforcer).stats.failedDocuments).toBeGreaterThanOrEqual(1);
  });

  it('counts the deadline from the step’s first claim: a redelivery’s claim does not restart it', async () => {
    const { jobId, documentId } = await upload('redelivered.txt');
    const extraction = h.app.get(ExtractionRepository);
    expect((await extraction.claimForExtraction(h.tenantId, documentId)).claimed).toBe(true);
    const { rows: first } = await h.pg.query<{ at: Date }>(
      'SELECT step_started_at AS at FROM documents WHERE id = $1',
      [documentId],
    );
    // A redelivery after a worker died claims the same step again.
    expect((await extraction.claimForExtraction(h.tenantId, documentId)).claimed).toBe(true);
    const { rows: again } = await h.pg.query<{ at: Date; attempts: number }>(
      'SELECT step_started_at AS at, attempts FROM documents WHERE id = $1',
      [documentId],
    );
    expect(again[0]).toEqual({ at: first[0]!.at, attempts: 2 });
    await waitFor(async () => (await documentRow(documentId))?.code === 'deadline_exceeded', {
      timeoutMs: DEADLINE_MS + 10_000,
      description: 'the document to fail at its deadline',
    });
    expect((await jobRow(jobId))?.status).toBe('failed');
  });

  it('fails a running analysis past its deadline as a whole, while it keeps saving progress', async () => {
    const res = await h.request<{ id: string }>('POST', '/v1/analyses', {
      payload: { type: 'answer', question: 'What never ends?' },
    });
    expect(res.status).toBe(202);
    const jobId = res.body.id;
    const analyses = h.app.get(AnalysesRepository);
    expect(await analyses.claimAnalysis(h.tenantId, jobId)).toMatchObject({ claimed: true });
    const beat = heartbeat(jobId);
    try {
      await waitFor(async () => (await jobRow(jobId))?.status === 'failed', {
        timeoutMs: DEADLINE_MS + 10_000,
        description: 'the analysis to fail at its deadline',
      });
    } finally {
      beat.stop();
    }
    expect((await jobRow(jobId))?.code).toBe('deadline_exceeded');
    expect(await finalEvent(jobId, 'failed')).toMatchObject({
      type: 'analyze',
      error: { code: 'deadline_exceeded', message: 'the analyze step ran longer than its deadline of 1.5 s' },
    });
    // The worker's own ending, late, is refused.
    expect(
      await analyses.finishAnalysis(h.tenantId, jobId, { error: { code: 'internal', message: 'late' } }),
    ).toBe(false);
  });
});

describe('jobs with nothing open', () => {
  it('ends an active job whose documents all finished on a path that did not end it', async () => {
    const { jobId, documentId } = await upload('orphaned.txt');
    // Indexed, but the job left running and quiet: what a crash between the two used to leave behind.
    await h.pg.query(`UPDATE documents SET status = 'indexed', updated_at = now() WHERE id = $1`, [
      documentId,
    ]);
    await h.pg.query(
      `UPDATE jobs SET status = 'running', heartbeat_at = now() - interval '1 hour' WHERE id = $1`,
      [jobId],
    );
    await waitFor(async () => (await jobRow(jobId))?.status === 'succeeded', {
      description: 'the sweeper to end the job',
    });
    expect(await finalEvent(jobId, 'completed')).toMatchObject({
      status: 'succeeded',
      documents: { total: 1, succeeded: 1, failed: 0 },
    });
    expect(h.app.get(StuckJobSweeper).stats.settledJobs).toBeGreaterThanOrEqual(1);
  });
});

describe('messages stranded while no gateway listened', () => {
  it('finds a message stranded at its delivery limit with the periodic scan and dead-letters it', async () => {
    // This gateway stops listening (advisories, dead-letter recording); its leader keeps sweeping.
    await h.app.get(JetStreamServer).close();
    const t = h.ns.topology;
    const jsm = await jetstreamManager(h.ns.nc);
    // The earlier tests' commands (their jobs ended) would come first out of the work queue.
    await jsm.streams.purge(t.jobsStream, { filter: t.commandSubject('ingestDocument') });
    const { jobId, documentId } = await upload('stranded.txt');
    await waitFor(async () => (await h.ingestCommands(jobId)).length === 1, {
      description: 'the command in the work queue',
    });
    const durable = t.consumerName('ingestDocument');
    const { config } = await jsm.consumers.info(t.jobsStream, durable);
    await jsm.consumers.update(t.jobsStream, durable, { ack_wait: 400_000_000 });
    try {
      const raw = await jetstream(h.ns.nc).consumers.get(t.jobsStream, durable);
      for (let i = 0; i < (config.max_deliver ?? 0); i++) {
        const m = await raw.next({ expires: 5000 });
        expect(m?.json<{ documentId: string }>().documentId).toBe(documentId);
        // Abandoned, as a worker that died on every delivery.
      }
      // The pull after the last delivery's ack wait strands it; its advisory reaches nobody.
      expect(await raw.next({ expires: 1500 })).toBeNull();

      // The scan dead-letters it; a gateway that records dead letters fails its document.
      await waitFor(async () => (await h.ingestCommands(jobId)).length === 0, {
        description: 'the scan to take the stranded message out of the work queue',
      });
      expect(h.app.get(StrandedMessageScan).stats.deadLettered).toBeGreaterThanOrEqual(1);
      await h.replica();
      const row = await waitFor(
        async () =>
          (
            await h.pg.query<{ code: string; reason: string; delivery_count: number; origin_msg_id: string }>(
              'SELECT code, reason, delivery_count, origin_msg_id FROM dead_letters WHERE document_id = $1',
              [documentId],
            )
          ).rows[0],
        { description: 'the dead letter recorded' },
      );
      expect(row).toMatchObject({
        code: 'delivery_exhausted',
        delivery_count: config.max_deliver,
        origin_msg_id: `${jobId}:ingestDocument:${documentId}:0`,
      });
      expect(row.reason).toMatch(/found by the periodic scan/);
      await waitFor(async () => (await jobRow(jobId))?.status === 'failed', {
        description: 'the job to fail with its document',
      });
      expect((await documentRow(documentId))?.code).toBe('delivery_exhausted');
    } finally {
      await jsm.consumers.update(t.jobsStream, durable, { ack_wait: config.ack_wait });
    }
  });
});
