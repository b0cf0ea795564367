// No-op orchestration: jobs go through the real gateway write path, the real messaging library and
// the real job state machine, with no parsing, chunking or embedding. Plus the same run's component
// timings (createIngestJob alone, the state machine alone, raw JetStream), so ratios can be compared.
import { isTerminalJobStatus, type JobEvent, type JobStatus, type Topology } from '@quarry/contracts';
import { CommandConsumer, Outcome, type CommandHandler } from '@quarry/messaging';
import {
  ExtractionRepository,
  IndexingRepository,
  JobsRepository,
  TenantsRepository,
  type AfterCommit,
} from '@quarry/persistence';
import type { Logger } from '@quarry/telemetry';
import {
  createTestDatabase,
  createTestNamespace,
  waitFor,
  withClient,
  type TestDatabase,
  type TestNamespace,
} from '@quarry/testing';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { randomUUID } from 'node:crypto';
import type { BenchOptions } from './args';
import {
  CONSUMER_OPTIONS,
  indexCommandRow,
  newIngestJob,
  NOOP_MODEL,
  NOOP_PAGES,
  openRole,
  startWorkers,
  submitJob,
  type Role,
} from './pipeline';
import { startCpuProbe, type CpuSample } from './cpu';
import { countPgQueries } from './pg-count';
import { rate, runPool, summarize, timed, type LatencySummary } from './stats';

/**
 * The components measure the database's share alone: their commits publish nothing (the rows stay unsent, and
 * no consumer of a later measurement sees them); the state machine marks its rows sent itself, as the relay would.
 */
const DATABASE_ONLY: AfterCommit = { committed: () => Promise.resolve() };

const JOB_TIMEOUT_MS = 60_000;
const WARMUP_JOBS = 50;

export interface ClosedLoopResult {
  concurrency: number;
  jobs: number;
  elapsedMs: number;
  jobsPerSec: number;
  /** Client view: before createIngestJob → completion event received on NATS. */
  latency: LatencySummary;
  /** PostgreSQL view: jobs.created_at → jobs.finished_at. */
  dbLatency: LatencySummary;
  /** createIngestJob (its publish included) as the producer saw it (the gateway's share, minus HTTP and blob). */
  submit: LatencySummary;
  /** Where a job's time goes, from the step timestamps (each a transaction's start time). */
  segments: Record<SegmentName, LatencySummary>;
  notSucceeded: number;
  cpu: CpuSample;
  /** CPU ms of the bench process per job: Prisma, the NATS client and the handlers of all three roles. */
  benchCpuMsPerJob: number;
  /** Queries sent to PostgreSQL per job (BEGIN and COMMIT included): round trips. */
  pgQueriesPerJob: number;
  redeliveries: number;
  deadLettered: number;
}

export interface DrainResult {
  concurrency: number;
  jobs: number;
  /** Time to create and publish the backlog (producer concurrency 4), not part of the rate. */
  fillMs: number;
  elapsedMs: number;
  jobsPerSec: number;
  notSucceeded: number;
  cpu: CpuSample;
  benchCpuMsPerJob: number;
}

export interface ComponentResult {
  /** Sequential calls, after a warm-up. */
  createIngestJob: { latency: LatencySummary; perSec: number };
  /** Every transition of a one-document job, sequential, no messaging: the database's share. */
  stateMachine: {
    perJob: LatencySummary;
    jobsPerSec: number;
    /** Node-side CPU per job (mostly the Prisma client); the rest of the wall time is PostgreSQL and waiting. */
    benchCpuMsPerJob: number;
    pgQueriesPerJob: number;
    /** Queries per call of each transition (BEGIN and COMMIT included). */
    pgQueriesPerTransition: Record<string, number>;
    transitions: Record<
      | 'createIngestJob'
      | 'claimForExtraction'
      | 'completeExtraction'
      | 'claimForIndexing'
      | 'completeIndexing',
      LatencySummary
    >;
  };
  jetstream: {
    messages: number;
    /** JetStreamPublisher.publishRaw of an empty body, one awaited at a time (as a one-row commit's publish). */
    publishSequential: { latency: LatencySummary; perSec: number };
    /** The same with 64 publishes in flight: the server's and client's capacity. */
    publishPipelinedPerSec: number;
    /** Pull consumer, ackAck per message (as CommandConsumer acks). */
    consumeAckPerSec: number;
  };
  /** CommandConsumer with a handler that only acks, draining a backlog of valid ingest commands. */
  messagingLibraryDrain: {
    concurrency: number;
    messages: number;
    perSec: number;
    benchCpuUsPerMessage: number;
    cpu: CpuSample;
  }[];
}

export interface OrchestrationResult {
  /** Closed-loop jobs per run at most, and the run's time cap. */
  jobsPerRun: number;
  maxRunSeconds: number;
  drainJobs: number;
  poolPerRole: number;
  consumer: typeof CONSUMER_OPTIONS;
  components: ComponentResult;
  closedLoop: ClosedLoopResult[];
  drain: DrainResult[];
}

type SegmentName =
  | 'createdToIngestClaim'
  | 'ingestClaimToComplete'
  | 'ingestCompleteToIndexClaim'
  | 'indexClaimToComplete'
  | 'completeToEvent';

interface Received {
  status: JobStatus;
  at: number;
  wallMs: number;
}

/** Completion events of the namespace, delivered to whoever waits for a job id. */
class EventWaiter {
  private readonly waiting = new Map<
    string,
    { resolve: (r: Received) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  private readonly early = new Map<string, Received>();
  private readonly sub;

  constructor(nc: NatsConnection, topology: Topology) {
    this.sub = nc.subscribe(topology.subject('events.job.*'), {
      callback: (err, msg) => {
        if (err) return;
        const event = msg.json<JobEvent>();
        if (!isTerminalJobStatus(event.status)) return;
        const received = { status: event.status, at: performance.now(), wallMs: Date.now() };
        const waiter = this.waiting.get(event.jobId);
        if (waiter) {
          this.waiting.delete(event.jobId);
          clearTimeout(waiter.timer);
          waiter.resolve(received);
        } else {
          this.early.set(event.jobId, received);
        }
      },
    });
  }

  /** Resolves when the job's terminal event arrives. The promise never goes unhandled. */
  wait(jobId: string, timeoutMs = JOB_TIMEOUT_MS): Promise<Received> {
    const early = this.early.get(jobId);
    if (early) {
      this.early.delete(jobId);
      return Promise.resolve(early);
    }
    const promise = new Promise<Received>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(jobId);
        reject(new Error(`job ${jobId} not terminal after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(jobId, { resolve, reject, timer });
    });
    promise.catch(() => undefined);
    return promise;
  }

  close(): void {
    for (const [jobId, w] of this.waiting) {
      clearTimeout(w.timer);
      w.reject(new Error(`stopped waiting for job ${jobId}`));
    }
    this.waiting.clear();
    this.sub.unsubscribe();
  }
}

interface Ctx {
  options: BenchOptions;
  logger: Logger;
  db: TestDatabase;
  ns: TestNamespace;
  tenantId: string;
  producer: Role;
  ingest: Role;
  index: Role;
  jobs: JobsRepository;
  events: EventWaiter;
}

export async function runOrchestration(
  options: BenchOptions,
  logger: Logger,
  progress: (line: string) => void,
): Promise<OrchestrationResult> {
  const maxLevel = Math.max(...options.levels);
  const db = await createTestDatabase('bench');
  let ns: TestNamespace | undefined;
  const roles: Role[] = [];
  let events: EventWaiter | undefined;
  try {
    ns = await createTestNamespace('bench', {
      ackWaitMs: CONSUMER_OPTIONS.ackWaitMs,
      maxDeliver: CONSUMER_OPTIONS.maxDeliver,
      // Never the limit here: the handler concurrency is what is being varied.
      maxAckPending: {
        ingestDocument: Math.max(256, maxLevel * 4),
        indexDocument: Math.max(256, maxLevel * 4),
      },
    });
    for (const name of ['producer', 'ingest', 'index']) {
      roles.push(await openRole(name, db.url, ns.natsUrl, options.pool, logger));
    }
    const [producer, ingest, index] = roles as [Role, Role, Role];
    const { tenantId } = await new TenantsRepository(producer.prisma).ensureTenantWithKey(
      'bench',
      `bench-${randomUUID()}`,
    );
    events = new EventWaiter(ns.nc, ns.topology);
    await ns.nc.flush();
    const ctx: Ctx = {
      options,
      logger,
      db,
      ns,
      tenantId,
      producer,
      ingest,
      index,
      jobs: new JobsRepository(producer.prisma, producer.relay),
      events,
    };

    progress(`warm-up: ${options.warmupJobs} jobs through the pipeline, not measured`);
    await warmUp(ctx, options.warmupJobs);
    progress('components: createIngestJob and the state machine alone');
    const stateMachine = await measureStateMachine(ctx);
    const createIngestJob = await measureCreateIngestJob(ctx);
    progress('components: raw JetStream');
    const js = await measureRawJetStream(ctx);
    const messagingLibraryDrain = [];
    for (const c of options.levels) {
      progress(`components: messaging library no-op drain, concurrency ${c}`);
      messagingLibraryDrain.push(await measureLibraryDrain(ctx, c));
    }

    const closedLoop: ClosedLoopResult[] = [];
    const drain: DrainResult[] = [];
    for (const c of options.levels) {
      progress(
        `orchestration: closed loop, concurrency ${c}, ${options.jobs} jobs or ${options.maxRunSeconds} s`,
      );
      closedLoop.push(await closedLoopRun(ctx, c));
      progress(`orchestration: backlog drain, concurrency ${c}, ${options.drainJobs} jobs`);
      drain.push(await drainRun(ctx, c));
    }
    return {
      jobsPerRun: options.jobs,
      maxRunSeconds: options.maxRunSeconds,
      drainJobs: options.drainJobs,
      poolPerRole: options.pool,
      consumer: CONSUMER_OPTIONS,
      components: { createIngestJob, stateMachine, jetstream: js, messagingLibraryDrain },
      closedLoop,
      drain,
    };
  } finally {
    events?.close();
    for (const role of roles)
      await role.close().catch((e: unknown) => logger.warn({ err: e }, 'close failed'));
    await ns?.cleanup().catch((e: unknown) => logger.warn({ err: e }, 'namespace cleanup failed'));
    await db.drop().catch((e: unknown) => logger.warn({ err: e }, 'database drop failed'));
  }
}

async function measureCreateIngestJob(ctx: Ctx): Promise<ComponentResult['createIngestJob']> {
  const samples: number[] = [];
  const n = ctx.options.componentSamples;
  const jobs = new JobsRepository(ctx.producer.prisma, DATABASE_ONLY);
  for (let i = 0; i < WARMUP_JOBS + n; i++) {
    const job = newIngestJob(ctx.ns.topology, ctx.tenantId, `create-${i}`);
    const { ms } = await timed(() => jobs.createIngestJob(job));
    if (i >= WARMUP_JOBS) samples.push(ms);
  }
  const total = samples.reduce((a, b) => a + b, 0);
  return { latency: summarize(samples), perSec: rate(samples.length, total) };
}

async function measureStateMachine(ctx: Ctx): Promise<ComponentResult['stateMachine']> {
  const { topology } = ctx.ns;
  const extraction = new ExtractionRepository(ctx.producer.prisma, topology, DATABASE_ONLY);
  const indexing = new IndexingRepository(ctx.producer.prisma, topology, DATABASE_ONLY);
  const jobs = new JobsRepository(ctx.producer.prisma, DATABASE_ONLY);
  const outbox = ctx.producer.outbox;
  const t = {
    createIngestJob: [] as number[],
    claimForExtraction: [] as number[],
    completeExtraction: [] as number[],
    claimForIndexing: [] as number[],
    completeIndexing: [] as number[],
  };
  // The relay marks rows sent after publishing them, without anyone waiting for the mark (which lingers for
  // company, OutboxRepository.MARK_LINGER_MS): here too, so the job's time is its transitions.
  const marks: Promise<void>[] = [];
  const perJob: number[] = [];
  const n = ctx.options.componentSamples;
  let probe: (() => CpuSample) | undefined;
  const q = Object.fromEntries(Object.keys(t).map((k) => [k, 0])) as Record<keyof typeof t, number>;
  for (let i = 0; i < WARMUP_JOBS + n; i++) {
    const keep = i >= WARMUP_JOBS;
    if (i === WARMUP_JOBS) probe = startCpuProbe();
    const record = async <T>(key: keyof typeof t, fn: () => Promise<T>): Promise<T> => {
      const queries = countPgQueries();
      const { value, ms } = await timed(fn);
      if (keep) {
        t[key].push(ms);
        q[key] += queries();
      }
      return value;
    };
    const job = newIngestJob(topology, ctx.tenantId, `sm-${i}`);
    const started = performance.now();
    const created = await record('createIngestJob', () => jobs.createIngestJob(job));
    marks.push(outbox.markSent(created.outbox.map((r) => r.id)));
    const c1 = await record('claimForExtraction', () =>
      extraction.claimForExtraction(ctx.tenantId, job.documents[0]?.id ?? ''),
    );
    if (!c1.claimed) throw new Error(`state machine: extraction claim refused (${c1.reason})`);
    const next = await record('completeExtraction', () =>
      extraction.completeExtraction(c1.work, NOOP_PAGES, indexCommandRow(topology, c1.work, job.traceparent)),
    );
    marks.push(outbox.markSent((next ?? []).map((r) => r.id)));
    const c2 = await record('claimForIndexing', () =>
      indexing.claimForIndexing(ctx.tenantId, job.documents[0]?.id ?? ''),
    );
    if (!c2.claimed) throw new Error(`state machine: indexing claim refused (${c2.reason})`);
    const done = await record('completeIndexing', () => indexing.completeIndexing(c2.work, [], NOOP_MODEL));
    if (!done || done.length !== 1) throw new Error('state machine: job did not finish with one event row');
    marks.push(outbox.markSent(done.map((r) => r.id)));
    if (keep) perJob.push(performance.now() - started);
  }
  const cpu = probe?.();
  await Promise.all(marks);
  const total = perJob.reduce((a, b) => a + b, 0);
  return {
    perJob: summarize(perJob),
    jobsPerSec: rate(perJob.length, total),
    benchCpuMsPerJob: cpu ? Math.round((cpu.benchCpuMs / perJob.length) * 100) / 100 : NaN,
    pgQueriesPerJob: Math.round((Object.values(q).reduce((a, b) => a + b, 0) / perJob.length) * 10) / 10,
    pgQueriesPerTransition: Object.fromEntries(
      Object.entries(q).map(([k, v]) => [
        k,
        Math.round((v / Math.max(1, t[k as keyof typeof t].length)) * 10) / 10,
      ]),
    ),
    transitions: {
      createIngestJob: summarize(t.createIngestJob),
      claimForExtraction: summarize(t.claimForExtraction),
      completeExtraction: summarize(t.completeExtraction),
      claimForIndexing: summarize(t.claimForIndexing),
      completeIndexing: summarize(t.completeIndexing),
    },
  };
}

async function measureRawJetStream(ctx: Ctx): Promise<ComponentResult['jetstream']> {
  const { topology } = ctx.ns;
  const nc = ctx.producer.nc;
  const jsm = await jetstreamManager(nc);
  const stream = `${topology.jobsStream}_BENCH`;
  const subject = topology.subject('bench.raw');
  const n = ctx.options.rawMessages;
  const empty = new Uint8Array(0);
  // Same kind of stream as the jobs stream: work queue, file storage, dedup window.
  await jsm.streams.add({
    name: stream,
    subjects: [topology.subject('bench.>')],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: 120_000 * 1_000_000,
  });
  try {
    await jsm.consumers.add(stream, {
      durable_name: 'raw',
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: 10_000,
    });
    const publisher = ctx.producer.publisher;
    for (let i = 0; i < 50; i++) await publisher.publishRaw(subject, empty, { msgId: `warm-${i}` });

    const samples: number[] = [];
    const seqStarted = performance.now();
    for (let i = 0; i < n; i++) {
      const { ms } = await timed(() => publisher.publishRaw(subject, empty, { msgId: `seq-${i}` }));
      samples.push(ms);
    }
    const seqMs = performance.now() - seqStarted;

    const pipeStarted = performance.now();
    await runPool(n, 64, async (i) => {
      await publisher.publishRaw(subject, empty, { msgId: `pipe-${i}` });
    });
    const pipeMs = performance.now() - pipeStarted;

    // Everything published above (warm-up included) is consumed and acknowledged with ackAck.
    const total = 50 + 2 * n;
    const consumer = await jetstream(nc).consumers.get(stream, 'raw');
    const consumeStarted = performance.now();
    const messages = await consumer.consume({ max_messages: 256 });
    const acks: Promise<boolean>[] = [];
    for await (const m of messages) {
      acks.push(m.ackAck());
      if (acks.length === total) break;
    }
    const acked = (await Promise.all(acks)).filter(Boolean).length;
    const consumeMs = performance.now() - consumeStarted;
    await messages.close();
    if (acked !== total) throw new Error(`raw consume: ${acked} of ${total} acks confirmed`);
    return {
      messages: n,
      publishSequential: { latency: summarize(samples), perSec: rate(n, seqMs) },
      publishPipelinedPerSec: rate(n, pipeMs),
      consumeAckPerSec: rate(total, consumeMs),
    };
  } finally {
    await jsm.streams.delete(stream);
  }
}

async function measureLibraryDrain(
  ctx: Ctx,
  concurrency: number,
): Promise<ComponentResult['messagingLibraryDrain'][number]> {
  const { topology } = ctx.ns;
  const n = ctx.options.rawMessages;
  const subject = topology.commandSubject('ingestDocument');
  await runPool(n, 64, async () => {
    const jobId = randomUUID();
    const documentId = randomUUID();
    await ctx.producer.publisher.publish(
      subject,
      { v: 1, jobId, tenantId: ctx.tenantId, documentId },
      { msgId: `noop:${jobId}:${documentId}` },
    );
  });
  let handled = 0;
  const handler: CommandHandler<'ingestDocument'> = {
    handle: () => {
      handled++;
      return Promise.resolve(Outcome.ack());
    },
  };
  const consumer = new CommandConsumer(
    'ingestDocument',
    ctx.ingest.nc,
    topology,
    handler,
    ctx.ingest.publisher,
    { ...CONSUMER_OPTIONS, concurrency },
    ctx.logger,
  );
  const started = performance.now();
  const probe = startCpuProbe();
  await consumer.start();
  try {
    await waitFor(() => consumer.stats.acked >= n, {
      timeoutMs: JOB_TIMEOUT_MS,
      intervalMs: 2,
      description: `${n} no-op commands acknowledged`,
    });
    const elapsed = performance.now() - started;
    const cpu = probe();
    if (handled !== n) throw new Error(`messaging drain: ${handled} handled, expected ${n}`);
    return {
      concurrency,
      messages: n,
      perSec: rate(n, elapsed),
      benchCpuUsPerMessage: Math.round((cpu.benchCpuMs * 1000) / n),
      cpu,
    };
  } finally {
    await consumer.stop(5000);
  }
}

interface JobTiming {
  id: string;
  status: string;
  total_ms: number;
  created_to_ingest_claim: number;
  ingest_claim_to_complete: number;
  ingest_complete_to_index_claim: number;
  index_claim_to_complete: number;
  finished_epoch_ms: number;
}

async function jobTimings(db: TestDatabase, ids: string[]): Promise<JobTiming[]> {
  return withClient(db.url, async (client) => {
    const { rows } = await client.query<JobTiming>(
      `SELECT j.id, j.status::text AS status,
              extract(epoch FROM j.finished_at - j.created_at)::float8 * 1000 AS total_ms,
              extract(epoch FROM si.started_at - j.created_at)::float8 * 1000 AS created_to_ingest_claim,
              extract(epoch FROM si.finished_at - si.started_at)::float8 * 1000 AS ingest_claim_to_complete,
              extract(epoch FROM sx.started_at - si.finished_at)::float8 * 1000 AS ingest_complete_to_index_claim,
              extract(epoch FROM sx.finished_at - sx.started_at)::float8 * 1000 AS index_claim_to_complete,
              extract(epoch FROM j.finished_at)::float8 * 1000 AS finished_epoch_ms
         FROM jobs j
         JOIN job_steps si ON si.job_id = j.id AND si.name = 'ingest'
         JOIN job_steps sx ON sx.job_id = j.id AND sx.name = 'index'
        WHERE j.id = ANY($1::uuid[])`,
      [ids],
    );
    return rows;
  });
}

/** One job of the closed loop: submit it, wait for its completion event. */
async function oneJob(ctx: Ctx, label: string) {
  const job = newIngestJob(ctx.ns.topology, ctx.tenantId, label);
  const done = ctx.events.wait(job.id);
  const started = performance.now();
  await submitJob(ctx.producer, ctx.jobs, job);
  const submitted = performance.now();
  const event = await done;
  return { id: job.id, submitMs: submitted - started, latencyMs: event.at - started, event };
}

/**
 * Jobs through the whole pipeline before anything is measured: the first few hundred jobs of a fresh
 * process run at half speed or worse (JIT, Prisma's caches, pg statement caches).
 */
async function warmUp(ctx: Ctx, jobs: number): Promise<void> {
  const workers = await startWorkers(ctx.ingest, ctx.index, ctx.ns.topology, 4, ctx.logger);
  try {
    await runPool(jobs, 4, async (i) => {
      await oneJob(ctx, `warmup-${i}`);
    });
  } finally {
    await workers.stop();
  }
}

async function closedLoopRun(ctx: Ctx, concurrency: number): Promise<ClosedLoopResult> {
  const workers = await startWorkers(ctx.ingest, ctx.index, ctx.ns.topology, concurrency, ctx.logger);
  try {
    const one = (label: string) => oneJob(ctx, label);
    await runPool(Math.min(WARMUP_JOBS, ctx.options.jobs), concurrency, async (i) => {
      await one(`warm-c${concurrency}-${i}`);
    });

    const base = { ...workers.ingest.stats, idx: { ...workers.index.stats } };
    const results: Awaited<ReturnType<typeof one>>[] = [];
    const started = performance.now();
    const deadline = started + ctx.options.maxRunSeconds * 1000;
    const probe = startCpuProbe();
    const queries = countPgQueries();
    let last = started;
    await runPool(
      ctx.options.jobs,
      concurrency,
      async (i) => {
        const r = await one(`loop-c${concurrency}-${i}`);
        results.push(r);
        last = Math.max(last, r.event.at);
      },
      () => performance.now() < deadline,
    );
    const elapsedMs = last - started;
    const cpu = probe();
    const pgQueries = queries();

    const timings = await jobTimings(
      ctx.db,
      results.map((r) => r.id),
    );
    const eventWall = new Map(results.map((r) => [r.id, r.event.wallMs]));
    const segments = {
      createdToIngestClaim: summarize(timings.map((t) => t.created_to_ingest_claim)),
      ingestClaimToComplete: summarize(timings.map((t) => t.ingest_claim_to_complete)),
      ingestCompleteToIndexClaim: summarize(timings.map((t) => t.ingest_complete_to_index_claim)),
      indexClaimToComplete: summarize(timings.map((t) => t.index_claim_to_complete)),
      completeToEvent: summarize(timings.map((t) => (eventWall.get(t.id) ?? NaN) - t.finished_epoch_ms)),
    } satisfies Record<SegmentName, LatencySummary>;
    return {
      concurrency,
      jobs: results.length,
      elapsedMs: Math.round(elapsedMs),
      jobsPerSec: rate(results.length, elapsedMs),
      latency: summarize(results.map((r) => r.latencyMs)),
      dbLatency: summarize(timings.map((t) => t.total_ms)),
      submit: summarize(results.map((r) => r.submitMs)),
      segments,
      notSucceeded:
        timings.filter((t) => t.status !== 'succeeded').length + (results.length - timings.length),
      cpu,
      benchCpuMsPerJob: Math.round((cpu.benchCpuMs / results.length) * 100) / 100,
      pgQueriesPerJob: Math.round((pgQueries / results.length) * 10) / 10,
      redeliveries:
        workers.ingest.stats.retried - base.retried + (workers.index.stats.retried - base.idx.retried),
      deadLettered:
        workers.ingest.stats.deadLettered -
        base.deadLettered +
        (workers.index.stats.deadLettered - base.idx.deadLettered),
    };
  } finally {
    await workers.stop();
  }
}

async function drainRun(ctx: Ctx, concurrency: number): Promise<DrainResult> {
  const jobs = Array.from({ length: ctx.options.drainJobs }, (_, i) =>
    newIngestJob(ctx.ns.topology, ctx.tenantId, `drain-c${concurrency}-${i}`),
  );
  const done = jobs.map((j) => ctx.events.wait(j.id, JOB_TIMEOUT_MS * 3));
  const fillStarted = performance.now();
  await runPool(jobs.length, 4, async (i) => {
    const job = jobs[i];
    if (job) await submitJob(ctx.producer, ctx.jobs, job);
  });
  const fillMs = performance.now() - fillStarted;

  const started = performance.now();
  const probe = startCpuProbe();
  const workers = await startWorkers(ctx.ingest, ctx.index, ctx.ns.topology, concurrency, ctx.logger);
  try {
    const received = await Promise.all(done);
    const elapsedMs = Math.max(...received.map((r) => r.at)) - started;
    const cpu = probe();
    return {
      concurrency,
      jobs: jobs.length,
      fillMs: Math.round(fillMs),
      elapsedMs: Math.round(elapsedMs),
      jobsPerSec: rate(jobs.length, elapsedMs),
      notSucceeded: received.filter((r) => r.status !== 'succeeded').length,
      cpu,
      benchCpuMsPerJob: Math.round((cpu.benchCpuMs / jobs.length) * 100) / 100,
    };
  } finally {
    await workers.stop();
  }
}
