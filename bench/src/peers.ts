// Peers: the same no-op job, its completion written durably to PostgreSQL, through raw JetStream + pg
// (the floor: what any design on these two servers must pay), BullMQ (Redis), pg-boss, Graphile Worker,
// a naive polled jobs table, and Quarry's own pipeline, in one run on the same PostgreSQL, NATS and
// Redis. Each peer gets a database of its own (and private stream, queue and key names), removed
// afterwards. Every job is submitted by a call of its own, as an HTTP request would submit it.
import { isTerminalJobStatus, type JobEvent } from '@quarry/contracts';
import { JobsRepository, TenantsRepository, type NewIngestJob } from '@quarry/persistence';
import type { Logger } from '@quarry/telemetry';
import {
  createEmptyDatabase,
  createTestDatabase,
  createTestNamespace,
  TEST_NATS_URL,
  type TestDatabase,
  type TestNamespace,
} from '@quarry/testing';
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type JsMsg,
} from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { PEER_NAMES, type BenchOptions } from './args';
import { startCpuProbe, type CpuSample } from './cpu';
import { countPgQueries } from './pg-count';
import { CONSUMER_OPTIONS, newIngestJob, openRole, startWorkers, submitJob, type Role } from './pipeline';
import { rate, runPool, summarize, type LatencySummary } from './stats';

export type PeerName = (typeof PEER_NAMES)[number];
/** What a team would otherwise build on: `bestPeer` in the summary is the fastest of these. */
export const FRAMEWORK_PEERS: readonly PeerName[] = ['bullmq', 'pg-boss', 'graphile-worker', 'naive'];

/** Concurrent producers of the burst, each submitting one job per call. */
export const BURST_PRODUCERS = 16;
const WARMUP_JOBS = 200;
/** Handler concurrency of the peers that have no documented figure of their own (floor, Quarry). */
const HANDLER_CONCURRENCY = 16;
/**
 * Quarry's handler concurrency per consumer for no-op work: its group commit (ADR 20) turns the handlers of one
 * fetched batch into one statement per transition, so throughput grows with the batch, as operations.md advises
 * for I/O-light steps (INGEST_CONCURRENCY, ANALYSIS_CONCURRENCY).
 */
const QUARRY_CONCURRENCY = 64;
const FLOOR_FETCH_BATCH = 64;
const BULLMQ_CONCURRENCY = 50;
const PGBOSS_BATCH_SIZE = 50;
const PGBOSS_LOCAL_CONCURRENCY = 4;
const GRAPHILE_CONCURRENCY = 24;
const GRAPHILE_POOL = 25;
const GRAPHILE_LOCAL_QUEUE = 500;
const NAIVE_WORKERS = 8;
const NAIVE_POLL_MS = 2000;

export interface PhaseCheck {
  /** Jobs whose submit call resolved. */
  submitted: number;
  submitErrors: number;
  /** Jobs with their completion written, counted in PostgreSQL after the phase. */
  completed: number;
  /** Jobs submitted and never completed (within the phase's time limit). */
  lost: number;
  /** Completions beyond one per job (a redelivered job written twice). */
  duplicated: number;
}

export interface BurstResult extends PhaseCheck {
  jobs: number;
  producers: number;
  /** First submit call → last completion. */
  elapsedMs: number;
  jobsPerSec: number;
  /** Submit call → completion of each job (queueing behind the burst included). */
  latency: LatencySummary;
  cpu: CpuSample;
  /** CPU ms of the bench process (producers, workers and clients all live in it) per job. */
  benchCpuMsPerJob: number;
  /**
   * Busy CPU ms of the whole machine per job: the peer's servers (PostgreSQL, NATS, Redis) with the bench. On a
   * saturated box this, not the bench's share, bounds the rate: cores × 1000 / this = jobs/s at best.
   */
  machineCpuMsPerJob: number;
  /** Queries sent through `pg` per job (BEGIN/COMMIT and the library's own polling included). */
  pgQueriesPerJob: number;
}

export interface PacedResult extends PhaseCheck {
  rate: number;
  seconds: number;
  jobs: number;
  /** Scheduled submit time → completion: a producer that falls behind its schedule counts. */
  latency: LatencySummary;
  /** The latest a submit started after its scheduled time. */
  maxScheduleLagMs: number;
  cpu: CpuSample;
  benchCpuMsPerJob: number;
  pgQueriesPerJob: number;
}

export interface PeerResult {
  name: PeerName;
  label: string;
  /** Servers the peer's queue lives on; every completion row is in PostgreSQL. */
  backend: string;
  /** How the peer was configured, and why. */
  config: string;
  pgBased: boolean;
  warmup?: PhaseCheck & { jobs: number };
  burst?: BurstResult;
  paced?: PacedResult;
  /** Why the peer did not run (or stopped). */
  error?: string;
}

export interface PeersResult {
  burstJobs: number;
  producers: number;
  pacedRate: number;
  pacedSeconds: number;
  warmupJobs: number;
  peers: PeerResult[];
}

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Completion times of jobs by key, and how many times each completed. */
class Tracker {
  readonly doneAt = new Map<string, number>();
  readonly times = new Map<string, number>();
  private readonly waiters = new Set<{ remaining: Set<string>; resolve: () => void }>();

  complete(key: string): void {
    const n = (this.times.get(key) ?? 0) + 1;
    this.times.set(key, n);
    if (n > 1) return;
    this.doneAt.set(key, performance.now());
    for (const w of this.waiters) {
      if (w.remaining.delete(key) && w.remaining.size === 0) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  /** Resolves when every key has completed, or at the deadline; true when all did. */
  async waitAll(keys: string[], timeoutMs: number): Promise<boolean> {
    const remaining = new Set(keys.filter((k) => !this.doneAt.has(k)));
    if (remaining.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const waiter = { remaining, resolve: () => undefined as void };
    const all = new Promise<boolean>((resolve) => {
      waiter.resolve = () => resolve(true);
      this.waiters.add(waiter);
    });
    const deadline = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([all, deadline]);
    } finally {
      clearTimeout(timer);
      this.waiters.delete(waiter);
    }
  }
}

/** A counting semaphore: at most `size` handlers at once. */
class Slots {
  private free: number;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly size: number) {
    this.free = size;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.queue.push(resolve));
  }
  release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.free++;
  }
  async idle(timeoutMs: number): Promise<void> {
    const until = performance.now() + timeoutMs;
    while (this.free < this.size && performance.now() < until) await sleep(10);
  }
}

/** One peer, opened: jobs go in one call at a time, completions come back through the tracker. */
interface Driver {
  /** The key of a new job (Quarry mints its job id here, the others use the label). */
  key(label: string): string;
  submit(key: string): Promise<void>;
  /** Completion rows in PostgreSQL for these jobs. */
  verify(keys: string[]): Promise<{ completed: number; duplicated: number }>;
  close(): Promise<void>;
}

interface PeerCtx {
  options: BenchOptions;
  logger: Logger;
  tracker: Tracker;
  /** Random suffix of this run's stream, queue and key names. */
  id: string;
}

interface PeerSpec {
  name: PeerName;
  label: string;
  backend: string;
  config: string;
  pgBased: boolean;
  open(ctx: PeerCtx): Promise<Driver>;
}

/** The completion table of the peers whose queue keeps its own state (BullMQ, pg-boss, Graphile Worker). */
const COMPLETIONS_DDL = `CREATE TABLE completions (
  job_key text NOT NULL,
  completed_at timestamptz NOT NULL DEFAULT clock_timestamp()
)`;
const INSERT_COMPLETION = 'INSERT INTO completions (job_key) VALUES ($1)';

async function verifyCompletions(pool: pg.Pool, keys: string[]) {
  const { rows } = await pool.query<{ completed: number; duplicated: number }>(
    `SELECT count(DISTINCT job_key)::int AS completed, (count(*) - count(DISTINCT job_key))::int AS duplicated
       FROM completions WHERE job_key = ANY($1::text[])`,
    [keys],
  );
  return rows[0] ?? { completed: 0, duplicated: 0 };
}

/** For the peers that complete a job by updating its own row (floor, naive). */
async function verifyJobRows(pool: pg.Pool, table: string, keyColumn: string, keys: string[]) {
  const { rows } = await pool.query<{ completed: number; duplicated: number }>(
    `SELECT count(*) FILTER (WHERE status = 'done')::int AS completed,
            coalesce(sum(greatest(completions - 1, 0)), 0)::int AS duplicated
       FROM ${table} WHERE ${keyColumn} = ANY($1::text[])`,
    [keys],
  );
  return rows[0] ?? { completed: 0, duplicated: 0 };
}

/** Producer and worker each get a pool of their own, as two processes would. */
function pools(db: TestDatabase, max: number, logger: Logger) {
  const producer = new pg.Pool({ connectionString: db.url, max });
  const worker = new pg.Pool({ connectionString: db.url, max });
  // An idle client the server ends (the database dropped while a straggler still held it) emits 'error' on its
  // pool; unheard, that event ended the whole bench run after the peer had been measured.
  for (const [name, pool] of [
    ['producer', producer],
    ['worker', worker],
  ] as const) {
    pool.on('error', (err) => logger.warn({ err, pool: name }, 'peer pool: idle client ended'));
  }
  return {
    producer,
    worker,
    async end() {
      await Promise.all([producer.end(), worker.end()]);
    },
  };
}

/** Runs `fn` against a fresh peer database; on failure everything opened so far is closed again. */
async function withCleanup<T>(cleanup: (() => Promise<unknown>)[], logger: Logger, fn: () => Promise<T>) {
  try {
    return await fn();
  } catch (error) {
    await closeAll(cleanup, logger);
    throw error;
  }
}

async function closeAll(cleanup: (() => Promise<unknown>)[], logger: Logger): Promise<void> {
  for (const step of cleanup.reverse()) {
    await step().catch((e: unknown) => logger.warn({ err: e }, 'peer cleanup step failed'));
  }
}

// ---------------------------------------------------------------------------------------------------
// 1. The floor: raw JetStream + pg, no framework.

const floor: PeerSpec = {
  name: 'floor',
  label: 'raw JetStream + pg (floor)',
  backend: 'NATS JetStream + PostgreSQL',
  config:
    `producer: INSERT the job row (pg Pool, autocommit), then publish its id with Nats-Msg-Id to a private ` +
    `work-queue stream (file storage, 2 min dedup window) and await the PubAck; worker: pull consumer, ` +
    `explicit ack, fetch batches of ${FLOOR_FETCH_BATCH}, ${HANDLER_CONCURRENCY} handlers at once, each ` +
    `UPDATEs the row to done (autocommit) then acks`,
  pgBased: false,
  async open(ctx) {
    const cleanup: (() => Promise<unknown>)[] = [];
    const db = await createEmptyDatabase('bench_peer_floor');
    cleanup.push(() => db.drop());
    return withCleanup(cleanup, ctx.logger, async () => {
      const p = pools(db, ctx.options.pool, ctx.logger);
      cleanup.push(() => p.end());
      await p.producer.query(
        `CREATE TABLE floor_jobs (
           id text PRIMARY KEY,
           payload jsonb NOT NULL,
           status text NOT NULL DEFAULT 'queued',
           completions int NOT NULL DEFAULT 0,
           created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
           done_at timestamptz
         )`,
      );
      const pnc = await connect({ servers: TEST_NATS_URL, name: 'bench-peer-floor-producer' });
      cleanup.push(() => pnc.drain());
      const cnc = await connect({ servers: TEST_NATS_URL, name: 'bench-peer-floor-worker' });
      cleanup.push(() => cnc.drain());
      const jsm = await jetstreamManager(pnc);
      const stream = `BENCH_PEER_FLOOR_${ctx.id}`;
      const subject = `benchpeer.${ctx.id}.floor.run`;
      await jsm.streams.add({
        name: stream,
        subjects: [subject],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        duplicate_window: 120_000 * 1_000_000,
      });
      cleanup.push(() => jsm.streams.delete(stream));
      await jsm.consumers.add(stream, {
        durable_name: 'worker',
        ack_policy: AckPolicy.Explicit,
        ack_wait: 30_000 * 1_000_000,
        max_deliver: 5,
        max_ack_pending: 1000,
      });
      const js = jetstream(pnc);
      const consumer = await jetstream(cnc).consumers.get(stream, 'worker');
      const slots = new Slots(HANDLER_CONCURRENCY);
      let stopping = false;
      let batch: ConsumerMessages | undefined;
      const handle = async (m: JsMsg) => {
        const id = m.string();
        await p.worker.query(
          `UPDATE floor_jobs SET status = 'done', completions = completions + 1, done_at = clock_timestamp()
            WHERE id = $1`,
          [id],
        );
        ctx.tracker.complete(id);
        m.ack();
      };
      const loop = (async () => {
        while (!stopping) {
          try {
            batch = await consumer.fetch({ max_messages: FLOOR_FETCH_BATCH, expires: 1000 });
            for await (const m of batch) {
              await slots.acquire();
              void handle(m)
                .catch((e: unknown) => {
                  ctx.logger.warn({ err: e }, 'floor: handler failed');
                  m.nak(200);
                })
                .finally(() => slots.release());
            }
          } catch (e) {
            if (!stopping) {
              ctx.logger.warn({ err: e }, 'floor: fetch failed');
              await sleep(100);
            }
          }
        }
      })();
      cleanup.push(async () => {
        stopping = true;
        await batch?.close();
        await loop;
        await slots.idle(5000);
      });
      const encoder = new TextEncoder();
      return {
        key: (label) => label,
        async submit(key) {
          await p.producer.query('INSERT INTO floor_jobs (id, payload) VALUES ($1, $2)', [
            key,
            JSON.stringify({ key }),
          ]);
          await js.publish(subject, encoder.encode(key), { msgID: key });
        },
        verify: (keys) => verifyJobRows(p.producer, 'floor_jobs', 'id', keys),
        close: () => closeAll(cleanup, ctx.logger),
      };
    });
  },
};

// ---------------------------------------------------------------------------------------------------
// 2. BullMQ on Redis.

const REDIS_URL = new URL(process.env['QUARRY_BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379');

const bullmq: PeerSpec = {
  name: 'bullmq',
  label: 'BullMQ',
  backend: 'Redis (queue) + PostgreSQL (completion row)',
  config:
    `Queue.add per job with removeOnComplete (the docs' advice for throughput: completed jobs are not kept ` +
    `in Redis), Worker concurrency ${BULLMQ_CONCURRENCY} (the docs' example for I/O-bound handlers), ` +
    `ioredis connection to ${REDIS_URL.host}, private key prefix; the handler INSERTs the completion row`,
  pgBased: false,
  async open(ctx) {
    try {
      // BullMQ 6 loads ioredis itself when given connection options; it is an optional peer dependency.
      require.resolve('ioredis');
    } catch {
      throw new Error(
        'BullMQ 6 needs a Redis client: ioredis (an optional peer dependency of bullmq, which its docs use) ' +
          'is not installed; add it to bench/package.json devDependencies',
      );
    }
    const { Queue, Worker } = await import('bullmq');
    const cleanup: (() => Promise<unknown>)[] = [];
    const db = await createEmptyDatabase('bench_peer_bullmq');
    cleanup.push(() => db.drop());
    return withCleanup(cleanup, ctx.logger, async () => {
      const p = pools(db, ctx.options.pool, ctx.logger);
      cleanup.push(() => p.end());
      await p.producer.query(COMPLETIONS_DDL);
      const connection = {
        host: REDIS_URL.hostname,
        port: Number(REDIS_URL.port || 6379),
        ...(REDIS_URL.password ? { password: decodeURIComponent(REDIS_URL.password) } : {}),
      };
      const prefix = `bench-peer-${ctx.id}`;
      const name = 'noop';
      const queue = new Queue<{ key: string }>(name, {
        connection,
        prefix,
        defaultJobOptions: { removeOnComplete: true, removeOnFail: 1000 },
      });
      cleanup.push(() => queue.close());
      cleanup.push(() => queue.obliterate({ force: true }));
      const worker = new Worker<{ key: string }>(
        name,
        async (job) => {
          await p.worker.query(INSERT_COMPLETION, [job.data.key]);
          ctx.tracker.complete(job.data.key);
        },
        { connection, prefix, concurrency: BULLMQ_CONCURRENCY },
      );
      worker.on('error', (e) => ctx.logger.warn({ err: e }, 'bullmq: worker error'));
      cleanup.push(() => worker.close());
      await queue.waitUntilReady();
      await worker.waitUntilReady();
      return {
        key: (label) => label,
        async submit(key) {
          await queue.add(name, { key });
        },
        verify: (keys) => verifyCompletions(p.producer, keys),
        close: () => closeAll(cleanup, ctx.logger),
      };
    });
  },
};

// ---------------------------------------------------------------------------------------------------
// 3. pg-boss.

const pgBoss: PeerSpec = {
  name: 'pg-boss',
  label: 'pg-boss',
  backend: 'PostgreSQL',
  config:
    `one PgBoss instance sends (send per job, maintenance and cron off as it only produces), another works: ` +
    `useListenNotify with a notify queue (woken by NOTIFY instead of the 2 s poll), work with batchSize ` +
    `${PGBOSS_BATCH_SIZE}, localConcurrency ${PGBOSS_LOCAL_CONCURRENCY} and burstWhenBatchFull (the docs' ` +
    `throughput options; the default is one job every 2 s); the batch handler INSERTs one completion row per ` +
    `job in one statement, then pg-boss completes the batch`,
  pgBased: true,
  async open(ctx) {
    const { PgBoss } = await import('pg-boss');
    const cleanup: (() => Promise<unknown>)[] = [];
    const db = await createEmptyDatabase('bench_peer_pgboss');
    cleanup.push(() => db.drop());
    return withCleanup(cleanup, ctx.logger, async () => {
      const p = pools(db, ctx.options.pool, ctx.logger);
      cleanup.push(() => p.end());
      await p.producer.query(COMPLETIONS_DDL);
      const queue = `noop_${ctx.id}`;
      const worker = new PgBoss({
        connectionString: db.url,
        max: ctx.options.pool,
        useListenNotify: true,
      });
      worker.on('error', (e) => ctx.logger.warn({ err: e }, 'pg-boss: worker instance error'));
      await worker.start();
      cleanup.push(() => worker.stop({ graceful: true, timeout: 5000 }));
      await worker.createQueue(queue, { notify: true });
      const producer = new PgBoss({
        connectionString: db.url,
        max: ctx.options.pool,
        supervise: false,
        schedule: false,
      });
      producer.on('error', (e) => ctx.logger.warn({ err: e }, 'pg-boss: producer instance error'));
      await producer.start();
      cleanup.push(() => producer.stop({ graceful: true, timeout: 5000 }));
      await worker.work<{ key: string }>(
        queue,
        {
          batchSize: PGBOSS_BATCH_SIZE,
          localConcurrency: PGBOSS_LOCAL_CONCURRENCY,
          burstWhenBatchFull: true,
        },
        async (jobs) => {
          const keys = jobs.map((j) => j.data.key);
          await p.worker.query('INSERT INTO completions (job_key) SELECT unnest($1::text[])', [keys]);
          for (const k of keys) ctx.tracker.complete(k);
        },
      );
      return {
        key: (label) => label,
        async submit(key) {
          const id = await producer.send(queue, { key });
          if (!id) throw new Error(`pg-boss: send of ${key} returned no id`);
        },
        verify: (keys) => verifyCompletions(p.producer, keys),
        close: () => closeAll(cleanup, ctx.logger),
      };
    });
  },
};

// ---------------------------------------------------------------------------------------------------
// 4. Graphile Worker.

const graphileWorker: PeerSpec = {
  name: 'graphile-worker',
  label: 'Graphile Worker',
  backend: 'PostgreSQL',
  config:
    `WorkerUtils.addJob per job (its own pool); runner with the docs' performance settings: concurrency ` +
    `${GRAPHILE_CONCURRENCY}, maxPoolSize ${GRAPHILE_POOL}, localQueue size ${GRAPHILE_LOCAL_QUEUE}, ` +
    `completeJobBatchDelay 0, failJobBatchDelay 0 (new jobs are announced with LISTEN/NOTIFY); the task ` +
    `INSERTs the completion row through helpers.query`,
  pgBased: true,
  async open(ctx) {
    const gw = await import('graphile-worker');
    const cleanup: (() => Promise<unknown>)[] = [];
    const db = await createEmptyDatabase('bench_peer_graphile');
    cleanup.push(() => db.drop());
    return withCleanup(cleanup, ctx.logger, async () => {
      const admin = new pg.Pool({ connectionString: db.url, max: 2 });
      cleanup.push(() => admin.end());
      await admin.query(COMPLETIONS_DDL);
      // Errors and warnings only, through the bench's logger.
      const logger = new gw.Logger((scope) => (level, text, meta) => {
        if (level === 'error' || level === 'warning')
          ctx.logger.warn({ scope, meta }, `graphile-worker: ${text}`);
      });
      const utils = await gw.makeWorkerUtils({
        connectionString: db.url,
        maxPoolSize: ctx.options.pool,
        logger,
      });
      cleanup.push(async () => {
        await utils.release();
      });
      await utils.migrate();
      const runner = await gw.run({
        connectionString: db.url,
        concurrency: GRAPHILE_CONCURRENCY,
        maxPoolSize: GRAPHILE_POOL,
        noHandleSignals: true,
        logger,
        parsedCronItems: [],
        taskList: {
          noop: async (payload, helpers) => {
            const { key } = payload as { key: string };
            await helpers.query(INSERT_COMPLETION, [key]);
            ctx.tracker.complete(key);
          },
        },
        preset: {
          worker: {
            localQueue: { size: GRAPHILE_LOCAL_QUEUE },
            completeJobBatchDelay: 0,
            failJobBatchDelay: 0,
          },
        },
      });
      cleanup.push(() => runner.stop());
      return {
        key: (label) => label,
        async submit(key) {
          await utils.addJob('noop', { key });
        },
        verify: (keys) => verifyCompletions(admin, keys),
        close: () => closeAll(cleanup, ctx.logger),
      };
    });
  },
};

// ---------------------------------------------------------------------------------------------------
// 5. Naive: a jobs table polled with FOR UPDATE SKIP LOCKED.

const naive: PeerSpec = {
  name: 'naive',
  label: 'naive polled table',
  backend: 'PostgreSQL',
  config:
    `producer INSERTs a row per job; ${NAIVE_WORKERS} worker loops, each in one transaction claims the oldest ` +
    `queued row (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) and marks it done in the same row, polling again at ` +
    `once while it finds work and sleeping ${NAIVE_POLL_MS / 1000} s when the table is empty`,
  pgBased: true,
  async open(ctx) {
    const cleanup: (() => Promise<unknown>)[] = [];
    const db = await createEmptyDatabase('bench_peer_naive');
    cleanup.push(() => db.drop());
    return withCleanup(cleanup, ctx.logger, async () => {
      const p = pools(db, ctx.options.pool, ctx.logger);
      cleanup.push(() => p.end());
      await p.producer.query(
        `CREATE TABLE jobs (
           id bigserial PRIMARY KEY,
           key text NOT NULL UNIQUE,
           payload jsonb NOT NULL,
           status text NOT NULL DEFAULT 'queued',
           completions int NOT NULL DEFAULT 0,
           created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
           done_at timestamptz
         )`,
      );
      await p.producer.query(`CREATE INDEX jobs_queued ON jobs (id) WHERE status = 'queued'`);
      const stop = new AbortController();
      const nap = (ms: number) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          stop.signal.addEventListener(
            'abort',
            () => {
              clearTimeout(timer);
              resolve();
            },
            { once: true },
          );
        });
      const pollOnce = async (): Promise<string | undefined> => {
        const client = await p.worker.connect();
        try {
          await client.query('BEGIN');
          const { rows } = await client.query<{ id: string; key: string }>(
            `SELECT id, key FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`,
          );
          const row = rows[0];
          if (row) {
            await client.query(
              `UPDATE jobs SET status = 'done', completions = completions + 1, done_at = clock_timestamp()
                WHERE id = $1`,
              [row.id],
            );
          }
          await client.query('COMMIT');
          return row?.key;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        } finally {
          client.release();
        }
      };
      const loops = Array.from({ length: NAIVE_WORKERS }, async () => {
        while (!stop.signal.aborted) {
          try {
            const key = await pollOnce();
            if (key) ctx.tracker.complete(key);
            else await nap(NAIVE_POLL_MS);
          } catch (e) {
            if (!stop.signal.aborted) ctx.logger.warn({ err: e }, 'naive: poll failed');
            await nap(100);
          }
        }
      });
      cleanup.push(async () => {
        stop.abort();
        await Promise.all(loops);
      });
      return {
        key: (label) => label,
        async submit(key) {
          await p.producer.query('INSERT INTO jobs (key, payload) VALUES ($1, $2)', [
            key,
            JSON.stringify({ key }),
          ]);
        },
        verify: (keys) => verifyJobRows(p.producer, 'jobs', 'key', keys),
        close: () => closeAll(cleanup, ctx.logger),
      };
    });
  },
};

// ---------------------------------------------------------------------------------------------------
// 6. Quarry: a one-document ingest job through both steps, as the orchestration part runs it.

const quarry: PeerSpec = {
  name: 'quarry',
  label: 'Quarry',
  backend: 'NATS JetStream + PostgreSQL',
  config:
    `submitJob (createIngestJob: job, document, steps and outbox rows in one statement, published by the after-commit port) ` +
    `per job; CommandConsumers for ingestDocument and indexDocument at concurrency ${QUARRY_CONCURRENCY} ` +
    `doing the real transitions with no-op work; producer, ingest and index roles each with their own ` +
    `Prisma pool and NATS connection; complete = the job's terminal event received`,
  pgBased: true,
  async open(ctx) {
    const cleanup: (() => Promise<unknown>)[] = [];
    const db = await createTestDatabase('bench_peer_quarry');
    cleanup.push(() => db.drop());
    return withCleanup(cleanup, ctx.logger, async () => {
      const ns: TestNamespace = await createTestNamespace('bpeer', {
        ackWaitMs: CONSUMER_OPTIONS.ackWaitMs,
        maxDeliver: CONSUMER_OPTIONS.maxDeliver,
        maxAckPending: { ingestDocument: 256, indexDocument: 256 },
      });
      cleanup.push(() => ns.cleanup());
      const roles: Role[] = [];
      for (const name of ['producer', 'ingest', 'index']) {
        const role = await openRole(`peer-${name}`, db.url, ns.natsUrl, ctx.options.pool, ctx.logger);
        roles.push(role);
        cleanup.push(() => role.close());
      }
      const [producer, ingest, index] = roles as [Role, Role, Role];
      const { tenantId } = await new TenantsRepository(producer.prisma).ensureTenantWithKey(
        'bench-peers',
        `bench-${randomUUID()}`,
      );
      const sub = ns.nc.subscribe(ns.topology.subject('events.job.*'), {
        callback: (err, msg) => {
          if (err) return;
          const event = msg.json<JobEvent>();
          // A job that ended failed is still complete here; verify() counts only the succeeded ones.
          if (!isTerminalJobStatus(event.status)) return;
          ctx.tracker.complete(event.jobId);
        },
      });
      cleanup.push(() => Promise.resolve(sub.unsubscribe()));
      await ns.nc.flush();
      const workers = await startWorkers(ingest, index, ns.topology, QUARRY_CONCURRENCY, ctx.logger);
      cleanup.push(() => workers.stop());
      const jobs = new JobsRepository(producer.prisma, producer.relay);
      const minted = new Map<string, NewIngestJob>();
      return {
        key(label) {
          const job = newIngestJob(ns.topology, tenantId, label);
          minted.set(job.id, job);
          return job.id;
        },
        async submit(key) {
          const job = minted.get(key);
          if (!job) throw new Error(`quarry: no job minted for ${key}`);
          minted.delete(key);
          await submitJob(producer, jobs, job);
        },
        async verify(keys) {
          const client = new pg.Client({ connectionString: db.url });
          await client.connect();
          try {
            const { rows } = await client.query<{ completed: number }>(
              `SELECT count(*) FILTER (WHERE status::text = 'succeeded')::int AS completed
                 FROM jobs WHERE id = ANY($1::uuid[])`,
              [keys],
            );
            const duplicated = keys.reduce((n, k) => n + Math.max(0, (ctx.tracker.times.get(k) ?? 0) - 1), 0);
            return { completed: rows[0]?.completed ?? 0, duplicated };
          } finally {
            await client.end();
          }
        },
        close: () => closeAll(cleanup, ctx.logger),
      };
    });
  },
};

export const PEERS: readonly PeerSpec[] = [floor, bullmq, pgBoss, graphileWorker, naive, quarry];

// ---------------------------------------------------------------------------------------------------
// Phases.

interface Submitted {
  keys: string[];
  /** When each job's submit started (burst) or was scheduled (paced). */
  startedAt: Map<string, number>;
  submitErrors: number;
}

async function check(driver: Driver, tracker: Tracker, s: Submitted): Promise<PhaseCheck> {
  const rows = await driver.verify(s.keys);
  const submitted = s.keys.length - s.submitErrors;
  return {
    submitted,
    submitErrors: s.submitErrors,
    completed: rows.completed,
    lost: Math.max(0, submitted - rows.completed),
    // A job completed twice shows in its rows (floor, naive, the completion tables) or, for Quarry, in
    // its terminal events.
    duplicated: Math.max(
      rows.duplicated,
      s.keys.reduce((n, k) => n + Math.max(0, (tracker.times.get(k) ?? 0) - 1), 0),
    ),
  };
}

/** `count` jobs, `producers` submitting at once, each one job per call; not waiting for completions. */
async function submitClosedPool(
  ctx: PeerCtx,
  driver: Driver,
  label: string,
  count: number,
  producers: number,
): Promise<Submitted> {
  const keys = Array.from({ length: count }, (_, i) => driver.key(`${label}-${i}`));
  const startedAt = new Map<string, number>();
  let submitErrors = 0;
  await runPool(count, producers, async (i) => {
    const key = keys[i] ?? '';
    startedAt.set(key, performance.now());
    try {
      await driver.submit(key);
    } catch (e) {
      submitErrors++;
      ctx.logger.warn({ err: e }, `${label}: submit failed`);
    }
  });
  return { keys, startedAt, submitErrors };
}

/**
 * Open loop: task i starts at `t0 + i / rate`, whether or not earlier ones have finished. Resolves once
 * every task has; returns the scheduled start of each and the worst lag of a start behind its schedule.
 */
export async function runPaced(
  count: number,
  perSecond: number,
  task: (i: number, scheduledAt: number) => Promise<void>,
): Promise<{ scheduled: number[]; maxLagMs: number; elapsedMs: number }> {
  const interval = 1000 / perSecond;
  const t0 = performance.now() + 10;
  const scheduled: number[] = [];
  const running: Promise<void>[] = [];
  let maxLagMs = 0;
  for (let i = 0; i < count; i++) {
    const at = t0 + i * interval;
    const wait = at - performance.now();
    if (wait > 0.5) await sleep(wait);
    maxLagMs = Math.max(maxLagMs, performance.now() - at);
    scheduled.push(at);
    running.push(task(i, at));
  }
  await Promise.all(running);
  return { scheduled, maxLagMs: round(maxLagMs), elapsedMs: performance.now() - t0 };
}

async function warmUp(ctx: PeerCtx, driver: Driver): Promise<PhaseCheck & { jobs: number }> {
  const jobs = Math.min(WARMUP_JOBS, ctx.options.burstJobs);
  const s = await submitClosedPool(ctx, driver, 'warmup', jobs, BURST_PRODUCERS);
  await ctx.tracker.waitAll(s.keys, 60_000 + jobs * 50);
  return { jobs, ...(await check(driver, ctx.tracker, s)) };
}

async function burst(ctx: PeerCtx, driver: Driver): Promise<BurstResult> {
  const jobs = ctx.options.burstJobs;
  const probe = startCpuProbe();
  const queries = countPgQueries();
  const t0 = performance.now();
  const s = await submitClosedPool(ctx, driver, 'burst', jobs, BURST_PRODUCERS);
  await ctx.tracker.waitAll(s.keys, 60_000 + jobs * 30);
  const done = s.keys.map((k) => ctx.tracker.doneAt.get(k)).filter((t): t is number => t !== undefined);
  const last = done.length > 0 ? Math.max(...done) : performance.now();
  const cpu = probe();
  const pgQueries = queries();
  const elapsedMs = last - t0;
  const latency = s.keys.flatMap((k) => {
    const end = ctx.tracker.doneAt.get(k);
    const start = s.startedAt.get(k);
    return end !== undefined && start !== undefined ? [end - start] : [];
  });
  const result = await check(driver, ctx.tracker, s);
  return {
    jobs,
    producers: BURST_PRODUCERS,
    elapsedMs: Math.round(elapsedMs),
    // Completed jobs only: a peer that loses jobs does not get their throughput.
    jobsPerSec: rate(Math.min(result.completed, done.length), elapsedMs),
    latency: summarize(latency),
    cpu,
    benchCpuMsPerJob: round(cpu.benchCpuMs / jobs),
    machineCpuMsPerJob: round(cpu.machineCpuMs / jobs),
    pgQueriesPerJob: round(pgQueries / jobs, 1),
    ...result,
  };
}

async function paced(ctx: PeerCtx, driver: Driver): Promise<PacedResult> {
  const perSecond = ctx.options.pacedRate;
  const seconds = ctx.options.pacedSeconds;
  const jobs = Math.max(1, Math.round(perSecond * seconds));
  const keys = Array.from({ length: jobs }, (_, i) => driver.key(`paced-${i}`));
  const startedAt = new Map<string, number>();
  let submitErrors = 0;
  const probe = startCpuProbe();
  const queries = countPgQueries();
  const run = await runPaced(jobs, perSecond, async (i, at) => {
    const key = keys[i] ?? '';
    startedAt.set(key, at);
    try {
      await driver.submit(key);
    } catch (e) {
      submitErrors++;
      ctx.logger.warn({ err: e }, 'paced: submit failed');
    }
  });
  await ctx.tracker.waitAll(keys, 60_000);
  const cpu = probe();
  const pgQueries = queries();
  const latency = keys.flatMap((k) => {
    const end = ctx.tracker.doneAt.get(k);
    const start = startedAt.get(k);
    return end !== undefined && start !== undefined ? [end - start] : [];
  });
  return {
    rate: perSecond,
    seconds,
    jobs,
    latency: summarize(latency),
    maxScheduleLagMs: run.maxLagMs,
    cpu,
    benchCpuMsPerJob: round(cpu.benchCpuMs / jobs),
    pgQueriesPerJob: round(pgQueries / jobs, 1),
    ...(await check(driver, ctx.tracker, { keys, startedAt, submitErrors })),
  };
}

/** Problems of a peers run: peers that did not run, jobs lost or completed twice. */
export function peerProblems(r: PeersResult | undefined): string[] {
  const problems: string[] = [];
  for (const p of r?.peers ?? []) {
    if (p.error) problems.push(`peer ${p.name}: ${p.error}`);
    for (const [phase, c] of [
      ['warm-up', p.warmup],
      ['burst', p.burst],
      ['paced', p.paced],
    ] as const) {
      if (!c) continue;
      if (c.lost > 0) problems.push(`peer ${p.name} ${phase}: ${c.lost} job(s) lost (never completed)`);
      if (c.duplicated > 0) problems.push(`peer ${p.name} ${phase}: ${c.duplicated} job(s) completed twice`);
      if (c.submitErrors > 0) problems.push(`peer ${p.name} ${phase}: ${c.submitErrors} submit(s) failed`);
    }
  }
  return problems;
}

export async function runPeers(
  options: BenchOptions,
  logger: Logger,
  progress: (line: string) => void,
): Promise<PeersResult> {
  const id = randomBytes(4).toString('hex');
  const peers: PeerResult[] = [];
  for (const spec of PEERS.filter((p) => options.peers.includes(p.name))) {
    const result: PeerResult = {
      name: spec.name,
      label: spec.label,
      backend: spec.backend,
      config: spec.config,
      pgBased: spec.pgBased,
    };
    peers.push(result);
    const ctx: PeerCtx = { options, logger, tracker: new Tracker(), id };
    let driver: Driver | undefined;
    try {
      progress(`peers: ${spec.label}: setting up`);
      driver = await spec.open(ctx);
      result.warmup = await warmUp(ctx, driver);
      progress(`peers: ${spec.label}: burst of ${options.burstJobs} jobs, ${BURST_PRODUCERS} producers`);
      result.burst = await burst(ctx, driver);
      progress(
        `peers: ${spec.label}: ${result.burst.jobsPerSec} jobs/s; paced ${options.pacedRate} jobs/s for ${options.pacedSeconds} s`,
      );
      result.paced = await paced(ctx, driver);
      progress(`peers: ${spec.label}: paced p99 ${result.paced.latency.p99} ms`);
    } catch (e) {
      result.error = message(e);
      progress(`peers: ${spec.label}: ${result.error}`);
    } finally {
      await driver?.close().catch((e: unknown) => logger.warn({ err: e }, `${spec.name}: close failed`));
    }
  }
  return {
    burstJobs: options.burstJobs,
    producers: BURST_PRODUCERS,
    pacedRate: options.pacedRate,
    pacedSeconds: options.pacedSeconds,
    warmupJobs: Math.min(WARMUP_JOBS, options.burstJobs),
    peers,
  };
}
