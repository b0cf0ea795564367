import { ChaosStack, CHAOS_TIMINGS } from './chaos-stack';
import { checkInvariants, waitForTerminal } from './invariants';
import type { AcceptedJob } from './load';
import { expectClean, reportResult, runScenario, type ScenarioResult } from './scenario';
import { plan } from './scenarios';

interface DeadLetterBody {
  id: string;
  command: string;
  code: string;
  reason: string;
  jobId: string | null;
  documentId: string | null;
  deliveryCount: number;
  replayCount: number;
}

/** The cause is outside Quarry (the embedding server fails on these texts), so it can be fixed from here. */
const noFault = () => Promise.resolve();

describe('chaos: poison documents end in the dead-letter queue, and replay works once the cause is fixed', () => {
  let stack: ChaosStack;

  beforeAll(async () => {
    stack = await ChaosStack.start({ label: 'poison', natsNodes: 1 });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it(
    'dead-letters each poison document with its reason after MAX_DELIVER, the rest succeed; replays succeed',
    async () => {
      stack.embeddings.poisoned = true;
      const poisonPlan = { ...plan(100, 6), poisonEvery: 5 };
      const result = await runScenario(stack, {
        name: 'poison-dead-letters',
        plan: poisonPlan,
        fault: noFault,
        poisonExpected: true,
      });
      expectClean(stack, result);

      const poisonJobs = result.acceptedJobs.filter((j) => j.poison);
      expect(poisonJobs.length).toBe(Math.ceil(poisonPlan.jobs / poisonPlan.poisonEvery));

      // Each poison job: its good document indexed, its poison document failed with the provider's code.
      const { rows } = await stack.sql.query<{ job: string; status: string; docs: string[] }>(
        `SELECT j.id AS job, j.status::text,
              array_agg(d.status::text || ':' || coalesce(d.error->>'code', '') ORDER BY d.filename LIKE '%-poison.txt') AS docs
         FROM jobs j JOIN documents d ON d.job_id = j.id
        WHERE j.id = ANY($1::uuid[]) GROUP BY j.id`,
        [poisonJobs.map((j) => j.id)],
      );
      expect(rows).toHaveLength(poisonJobs.length);
      for (const r of rows) {
        expect({ status: r.status, docs: r.docs }).toEqual({
          status: 'completed_with_failures',
          docs: ['indexed:', 'failed:embedding_failed'],
        });
      }

      // Each one is on the DLQ stream once and listed by the API with its reason, code and deliveries.
      const dlq = await stack.jsm.streams.info(stack.ns.topology.dlqStream);
      expect(dlq.state.messages).toBe(poisonJobs.length);
      const deadLetters: DeadLetterBody[] = [];
      for (const job of poisonJobs) {
        const listed = await stack.request<{ items: DeadLetterBody[] }>(
          'GET',
          `/v1/dead-letters?jobId=${job.id}`,
        );
        expect(listed.status).toBe(200);
        expect(listed.body.items).toHaveLength(1);
        deadLetters.push(listed.body.items[0]!);
      }
      for (const d of deadLetters) {
        expect(d).toMatchObject({
          command: 'indexDocument',
          code: 'embedding_failed',
          deliveryCount: CHAOS_TIMINGS.maxDeliver,
          replayCount: 0,
        });
        expect(d.reason).toContain('upstream model crashed on this input');
      }

      // The cause is fixed; every dead letter is replayed as a new job, which succeeds.
      stack.embeddings.poisoned = false;
      const started = performance.now();
      const replays: AcceptedJob[] = [];
      for (const d of deadLetters) {
        const key = `replay-${d.id}`;
        const r = await stack.request<{ jobId: string }>('POST', `/v1/dead-letters/${d.id}/replay`, {
          headers: { 'idempotency-key': key },
        });
        expect(r.status).toBe(202);
        // A client retrying the replay gets the same job, not a second one.
        const again = await stack.request<{ jobId: string }>('POST', `/v1/dead-letters/${d.id}/replay`, {
          headers: { 'idempotency-key': key },
        });
        expect(again.status).toBe(202);
        expect(again.body.jobId).toBe(r.body.jobId);
        expect(again.headers.get('idempotent-replayed')).toBe('true');
        replays.push({ id: r.body.jobId, key, documents: 1, poison: true, attempts: 1 });
      }
      const stillOpen = await waitForTerminal(
        stack,
        replays.map((j) => j.id),
        { stallMs: 60_000, capMs: 5 * 60_000 },
      );
      const report = await checkInvariants(stack, replays, { stillOpen, poisonExpected: true });
      const { rows: replayed } = await stack.sql.query<{ status: string; n: number }>(
        `SELECT status::text, count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) GROUP BY status`,
        [replays.map((j) => j.id)],
      );
      const replayResult: ScenarioResult = {
        ...report,
        scenario: 'dead-letter-replay',
        jobs: replays.length,
        accepted: replays.length,
        acceptedJobs: replays,
        unaccepted: 0,
        unexpectedAnswers: [],
        failedAttempts: {},
        replayed: replays.length,
        redelivered: 0,
        handlerFailures: 0,
        heldThroughOutage: 0,
        faultNotes: Object.fromEntries(replayed.map((r) => [`replay_${r.status}`, r.n])),
        elapsedS: (performance.now() - started) / 1000,
      };
      reportResult(stack, replayResult);
      expectClean(stack, replayResult);
      expect(replayed).toEqual([{ status: 'succeeded', n: replays.length }]);

      // The original jobs are terminal and stay as they were; the dead letters record their replay.
      const { rows: originals } = await stack.sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'completed_with_failures'`,
        [poisonJobs.map((j) => j.id)],
      );
      expect(originals[0]?.n).toBe(poisonJobs.length);
      for (const d of deadLetters) {
        const after = await stack.request<DeadLetterBody>('GET', `/v1/dead-letters/${d.id}`);
        expect(after.body.replayCount).toBe(1);
      }
    },
    15 * 60_000,
  );
});
