// Scale-out: the real pipeline — the built gateway, N ingest workers and N analysis workers, each its own
// process on this machine — draining a backlog of small text uploads, for N = 1, 2, 4. Per N: how many jobs/s
// reach a terminal state, the speed-up over the first N, how busy the machine was (and so the rate per busy core),
// and each process kind's CPU per job (workers, gateway, PostgreSQL, NATS), with PostgreSQL transactions and
// JetStream messages per job. One gateway, database and namespace serve every N; each N has fresh workers, booted,
// warmed up and paused while its backlog is uploaded, so neither their boot nor the uploads are in the drain.
import { TERMINAL_JOB_STATUSES, type Topology } from '@quarry/contracts';
import type { Logger } from '@quarry/telemetry';
import {
  AppProcess,
  createTestDatabase,
  createTestNamespace,
  freePort,
  waitFor,
  type TestDatabase,
  type TestNamespace,
} from '@quarry/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'pg';
import type { BenchOptions } from './args';
import { clockTicks, machineTimes, statusBytes } from './cpu';

const MIB = 1024 * 1024;
import { rate, ratio, runPool } from './stats';

/** The product's defaults: a worker that stalls a while on a busy 2-core box must not see its message redelivered. */
const ACK_WAIT_MS = 30_000;
const MAX_DELIVER = 5;
/**
 * Handler concurrency of each worker replica, fixed so that the curve compares replicas, not settings: the
 * analysis worker's default (ANALYSIS_CONCURRENCY); the ingest worker's default is one more than the cores.
 */
const WORKER_CONCURRENCY = 2;
/**
 * pg connections per worker replica. The default (10) times 2 × 4 workers and a gateway would come close to
 * PostgreSQL's max_connections (100) on this shared server; a worker at concurrency 2 with group commit uses fewer.
 */
const WORKER_POOL_MAX = 4;
const SAMPLE_MS = 250;
/** Share of the completions left out at each end of the steady window (the first ones, the last stragglers). */
const TRIM = 0.1;
/** Warm-up jobs per handler slot of each kind (JIT, pools, the embedding model's first runs), not measured. */
const WARMUP_PER_SLOT = 2;

export type ScaleRole = 'gateway' | 'ingest' | 'analysis' | 'postgres' | 'nats' | 'bench';
export const SCALE_ROLES: readonly ScaleRole[] = [
  'gateway',
  'ingest',
  'analysis',
  'postgres',
  'nats',
  'bench',
];

/** One reading of the machine's CPU counters and each role's cumulative CPU, in ms. */
export interface CpuTick {
  /** Wall clock (Date.now()), so it compares with PostgreSQL's timestamps. */
  t: number;
  machineBusyMs: number;
  machineTotalMs: number;
  roles: Record<ScaleRole, number>;
}

export interface SteadyWindow {
  /** Offset of the window from the workers' resumption, and its length, ms. */
  startMs: number;
  ms: number;
  /** Jobs that reached a terminal state within the window. */
  jobs: number;
  jobsPerSec: number;
  /** Share of all cores busy (everyone's work: the apps, PostgreSQL, NATS, the bench, anything else). */
  machineBusy: number;
  /** machineBusy × cores. */
  coresBusy: number;
  /** Cores each role kept busy during the window (its CPU ms / window ms). */
  roleCores: Record<ScaleRole, number>;
  /** Cores of the pipeline's processes (gateway, workers, PostgreSQL backends of this database, NATS): not the bench. */
  pipelineCores: number;
  /** coresBusy minus every role's: work on the machine that is not this bench's (another user's tests, the kernel). */
  otherCores: number;
  /**
   * True when the window could not be placed after `notBefore` and inside the trimmed completions: the trimmed
   * completions, or failing that every sample, were used instead.
   */
  fallback: boolean;
}

/**
 * The steady part of a drain: from the later of `notBefore` (the workers resumed) and the completion at `trim`,
 * to the completion at 1 − `trim`, snapped inwards to CPU samples so that the rate and the CPU figures cover the
 * same span. `finishes` are the jobs' terminal timestamps (ms, any order); `origin` is what startMs counts from.
 */
export function steadyWindow(
  finishes: number[],
  ticks: CpuTick[],
  cores: number,
  options: { trim: number; notBefore?: number; origin: number },
): SteadyWindow | undefined {
  const sorted = [...finishes].sort((a, b) => a - b);
  const n = sorted.length;
  if (n < 2 || ticks.length < 2) return undefined;
  const lo = sorted[Math.min(n - 1, Math.floor(n * options.trim))] ?? NaN;
  const hi = sorted[Math.max(0, Math.ceil(n * (1 - options.trim)) - 1)] ?? NaN;
  const place = (from: number, to: number) => {
    const a = ticks.find((s) => s.t >= from);
    const b = [...ticks].reverse().find((s) => s.t <= to);
    return a && b && b.t > a.t ? { a, b } : undefined;
  };
  // Preferred: after `notBefore`. A drain too short for that falls back to the trimmed completions, then to every
  // sample.
  const preferred = place(Math.max(lo, options.notBefore ?? -Infinity), hi);
  const first = ticks[0];
  const last = ticks[ticks.length - 1];
  const span =
    preferred ?? place(lo, hi) ?? (first && last && last.t > first.t ? { a: first, b: last } : undefined);
  if (!span) return undefined;
  const { a, b } = span;
  const ms = b.t - a.t;
  const jobs = sorted.filter((f) => f > a.t && f <= b.t).length;
  const machineBusy = (b.machineBusyMs - a.machineBusyMs) / Math.max(1, b.machineTotalMs - a.machineTotalMs);
  const roleCores = Object.fromEntries(
    SCALE_ROLES.map((r) => [r, round((b.roles[r] - a.roles[r]) / ms, 3)]),
  ) as Record<ScaleRole, number>;
  const coresBusy = machineBusy * cores;
  const pipelineCores = SCALE_ROLES.filter((r) => r !== 'bench').reduce(
    (sum, r) => sum + (b.roles[r] - a.roles[r]) / ms,
    0,
  );
  return {
    startMs: Math.round(a.t - options.origin),
    ms: Math.round(ms),
    jobs,
    jobsPerSec: rate(jobs, ms),
    machineBusy: round(machineBusy, 3),
    coresBusy: round(coresBusy, 2),
    roleCores,
    pipelineCores: round(pipelineCores, 2),
    otherCores: round(coresBusy - pipelineCores - (b.roles.bench - a.roles.bench) / ms, 2),
    fallback: preferred === undefined,
  };
}

export interface ScaleFigures {
  replicas: number;
  jobsPerSec: number;
  /** jobs/s over the first step's (normally N = 1). */
  speedup: number;
  /** speed-up / (replicas / the first step's replicas): 1 is linear. */
  efficiency: number;
  /** jobs/s per busy core of the machine (jobs/s ÷ cores busy). */
  jobsPerSecPerCore: number;
}

/** Speed-up, scaling efficiency and per-core rate of each step against the first one. */
export function scaleFigures(
  steps: { replicas: number; jobsPerSec: number; coresBusy: number }[],
): ScaleFigures[] {
  const base = steps[0];
  return steps.map((s) => {
    const speedup = base ? ratio(s.jobsPerSec, base.jobsPerSec) : NaN;
    return {
      replicas: s.replicas,
      jobsPerSec: s.jobsPerSec,
      speedup,
      efficiency: base ? ratio(speedup, s.replicas / base.replicas) : NaN,
      jobsPerSecPerCore: ratio(s.jobsPerSec, s.coresBusy),
    };
  });
}

export interface ScaleStep extends ScaleFigures {
  jobs: number;
  /** Jobs through the pipeline after the workers were ready and before the backlog, not measured. */
  warmupJobs: number;
  /** Spawn of the workers → every replica's /readyz answered 200. */
  bootMs: number;
  /** POST /v1/documents of the backlog, the workers paused: the gateway's, PostgreSQL's and NATS's CPU per upload. */
  upload: {
    ms: number;
    perSec: number;
    concurrency: number;
    unexpected: number;
    gatewayCpuMsPerUpload: number;
    postgresCpuMsPerUpload: number;
    natsCpuMsPerUpload: number;
    machineBusy: number;
  };
  /** The workers' resumption → the first and the last job terminal. */
  firstTerminalMs: number;
  lastTerminalMs: number;
  /** jobs / (resumption → last terminal): the first jobs and the tail included. */
  wholeDrainJobsPerSec: number;
  window: SteadyWindow;
  coresBusy: number;
  /** Steady jobs/s ÷ the pipeline's cores in the window (the bench and other work on the machine left out). */
  jobsPerSecPerPipelineCore: number;
  /**
   * CPU per job of each role from the first upload to the last job terminal (every piece of work of every job:
   * upload, extraction, indexing, the transactions and messages between), divided by the step's jobs. The paused
   * workers spend nothing during the uploads.
   */
  cpuMsPerJob: Record<ScaleRole, number>;
  /** Sum over gateway, workers, PostgreSQL and NATS: the pipeline's CPU per job, bench left out. */
  pipelineCpuMsPerJob: number;
  /** Most RSS seen of one replica of each kind (the process and any parser hosts under it), MB. */
  peakRssMb: { gateway: number; ingest: number; analysis: number };
  /**
   * From pg_stat_database (this database), from before the backlog to after the workers stopped, the bench's own
   * queries taken out: upload and both worker steps of every job.
   */
  postgres: {
    commitsPerJob: number;
    rollbacksPerJob: number;
    rowsWrittenPerJob: number;
    /** pg_stat_wal, the whole server (whatever else ran on it counts too). */
    walBytesPerJob: number | null;
    walSyncsPerJob: number | null;
  };
  /** Messages stored per job in each of the namespace's streams (stream sequence advanced), and their sum. */
  jetstream: { perJob: Record<string, number>; totalPerJob: number };
  statuses: Record<string, number>;
  /** Jobs that ended other than succeeded, or never ended. */
  notSucceeded: number;
  deadLetters: number;
  logDir: string;
}

/** A step before it is compared with the first one. */
type MeasuredStep = Omit<ScaleStep, 'speedup' | 'efficiency' | 'jobsPerSecPerCore'>;

export interface ScaleResult {
  cores: number;
  /** local: USE-lite in the analysis workers; stub: an OpenAI-compatible stub in the bench (its CPU is the bench's). */
  embedding: 'local' | 'stub';
  jobsPerStep: number;
  fileBytes: number;
  uploadConcurrency: number;
  workerConcurrency: number;
  workerPoolMax: number;
  trim: number;
  sampleMs: number;
  /** Load average when the part started: other work on the machine weighs on every figure. */
  loadAverageAtStart: number[];
  steps: ScaleStep[];
  /** Logs of the gateway and every replica, relative to the repository. */
  logDir: string;
  problems: string[];
}

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------------------------------------------
// /proc: cumulative CPU of process trees and of the servers, one scan per sample.

interface ProcEntry {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime, ms. */
  ownMs: number;
  /** utime + stime + cutime + cstime, ms: a member that exits moves its time into its parent's cutime. */
  cpuMs: number;
}

function scanProc(): Map<number, ProcEntry> {
  const table = new Map<number, ProcEntry>();
  const tick = 1000 / clockTicks();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      // Gone between the listing and the read: its time is in its parent's cutime now.
      continue;
    }
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    const pid = Number(entry);
    const own = (Number(fields[11]) + Number(fields[12])) * tick;
    table.set(pid, {
      pid,
      ppid: Number(fields[1]),
      comm: stat.slice(stat.indexOf('(') + 1, close),
      ownMs: own,
      cpuMs: own + (Number(fields[13]) + Number(fields[14])) * tick,
    });
  }
  return table;
}

/** `root` and every process under it, from the ppid links. */
function treeOf(
  table: Map<number, ProcEntry>,
  children: Map<number, ProcEntry[]>,
  root: number,
): ProcEntry[] {
  const rootEntry = table.get(root);
  if (!rootEntry) return [];
  const tree = [rootEntry];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]?.pid ?? -1) ?? []));
  return tree;
}

function childrenOf(table: Map<number, ProcEntry>): Map<number, ProcEntry[]> {
  const children = new Map<number, ProcEntry[]>();
  for (const p of table.values()) {
    const list = children.get(p.ppid);
    if (list) list.push(p);
    else children.set(p.ppid, [p]);
  }
  return children;
}

interface Watched {
  gateway: number;
  ingest: number[];
  analysis: number[];
}

/**
 * CPU of a changing set of processes (PostgreSQL's backends come and go with the pools' connections): each
 * process adds what it spent since the previous reading, a new one all it spent so far (it started since), a
 * vanished one nothing more. The first reading only sets the baseline.
 */
class SetCpu {
  private last = new Map<number, number>();
  private total = 0;
  private started = false;

  update(current: Map<number, number>): number {
    for (const [pid, ms] of current) {
      const before = this.last.get(pid);
      if (before !== undefined) this.total += Math.max(0, ms - before);
      else if (this.started) this.total += ms;
    }
    this.last = current;
    this.started = true;
    return this.total;
  }
}

/**
 * Reads the counters every SAMPLE_MS. PostgreSQL counts as the backends of this database plus the server's own
 * processes (checkpointer, WAL writer, …: no database), as pg_stat_activity lists them; other databases' backends
 * (another user's tests on the same server) are left out. NATS is the whole nats-server.
 */
class Sampler {
  readonly ticks: CpuTick[] = [];
  readonly peaks = { gateway: 0, ingest: 0, analysis: 0 };
  private readonly postgres = new SetCpu();
  private pgPids: number[] = [];
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly watched: () => Watched,
    private readonly pgBackends: () => Promise<number[]>,
  ) {}

  async tick(): Promise<CpuTick> {
    // The pid list lags a sample behind: a backend is counted from the sample after it appeared.
    this.pgPids = await this.pgBackends().catch(() => this.pgPids);
    const table = scanProc();
    const children = childrenOf(table);
    const m = machineTimes();
    const w = this.watched();
    const treeCpu = (pid: number) => treeOf(table, children, pid).reduce((sum, p) => sum + p.cpuMs, 0);
    const treeRss = (pid: number) =>
      treeOf(table, children, pid).reduce((sum, p) => sum + statusBytes(p.pid, 'VmRSS') / MIB, 0);
    this.peaks.gateway = Math.max(this.peaks.gateway, treeRss(w.gateway));
    for (const pid of w.ingest) this.peaks.ingest = Math.max(this.peaks.ingest, treeRss(pid));
    for (const pid of w.analysis) this.peaks.analysis = Math.max(this.peaks.analysis, treeRss(pid));
    const pg = new Map<number, number>();
    for (const pid of this.pgPids) {
      const p = table.get(pid);
      if (p) pg.set(pid, p.ownMs);
    }
    const nats = [...table.values()]
      .filter((p) => p.comm === 'nats-server')
      .reduce((sum, p) => sum + p.cpuMs, 0);
    const self = process.cpuUsage();
    const tick: CpuTick = {
      t: Date.now(),
      machineBusyMs: m.busy,
      machineTotalMs: m.total,
      roles: {
        gateway: treeCpu(w.gateway),
        ingest: w.ingest.reduce((sum, pid) => sum + treeCpu(pid), 0),
        analysis: w.analysis.reduce((sum, pid) => sum + treeCpu(pid), 0),
        postgres: this.postgres.update(pg),
        nats,
        bench: (self.user + self.system) / 1000,
      },
    };
    this.ticks.push(tick);
    return tick;
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await delay(SAMPLE_MS);
        if (this.running) await this.tick();
      }
    })();
  }

  async stop(): Promise<CpuTick> {
    this.running = false;
    await this.loop;
    return this.tick();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL and JetStream counters.

interface PgCounters {
  commits: number;
  rollbacks: number;
  rowsWritten: number;
  walBytes: number | null;
  walSyncs: number | null;
}

/** Three queries of the caller's session (each its own transaction). */
async function pgCounters(client: Client): Promise<PgCounters> {
  await client.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await client.query<{ c: string; r: string; w: string }>(
    `SELECT xact_commit::text AS c, xact_rollback::text AS r,
            (tup_inserted + tup_updated + tup_deleted)::text AS w
       FROM pg_stat_database WHERE datname = current_database()`,
  );
  // pg_stat_wal is PostgreSQL 14+; without it the WAL figures stay unknown.
  const wal = await client
    .query<{ b: string; s: string }>('SELECT wal_bytes::text AS b, wal_sync::text AS s FROM pg_stat_wal')
    .then((r) => r.rows[0])
    .catch(() => undefined);
  const row = rows[0];
  return {
    commits: Number(row?.c ?? 0),
    rollbacks: Number(row?.r ?? 0),
    rowsWritten: Number(row?.w ?? 0),
    walBytes: wal ? Number(wal.b) : null,
    walSyncs: wal ? Number(wal.s) : null,
  };
}

/** The namespace's streams by a short label: the work queue, events, dead letters and both blob tiers. */
function streamNames(t: Topology): Record<string, string> {
  return {
    jobs: t.jobsStream,
    events: t.eventsStream,
    dlq: t.dlqStream,
    smallBlobs: `KV_${t.smallBlobBucket}`,
    objectStore: `OBJ_${t.blobBucket}`,
  };
}

/** Each stream's last sequence: how many messages it has stored so far (acknowledged work-queue ones included). */
async function streamSeqs(ns: TestNamespace): Promise<Record<string, number>> {
  const jsm = await jetstreamManager(ns.nc);
  const out: Record<string, number> = {};
  for (const [label, name] of Object.entries(streamNames(ns.topology))) {
    out[label] = await jsm.streams
      .info(name)
      .then((i) => i.state.last_seq)
      .catch(() => 0);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The run.

/** About `bytes` of plain text, distinct per upload so the worker never reuses an earlier extraction. */
function textFile(bytes: number, tag: string): Buffer {
  const line = `Scale upload ${tag}: the harbour crane schedule moves to the night shift next week.\n`;
  return Buffer.from(line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes));
}

const TERMINAL = [...TERMINAL_JOB_STATUSES];

/** SIGSTOP: a paused worker pulls nothing, and spends no CPU, until it gets SIGCONT. */
function pause(workers: AppProcess[]): void {
  for (const w of workers) if (w.pid !== undefined && w.running) process.kill(w.pid, 'SIGSTOP');
}

function resume(workers: AppProcess[]): void {
  for (const w of workers) {
    try {
      if (w.pid !== undefined) process.kill(w.pid, 'SIGCONT');
    } catch {
      // Already gone: nothing to resume (the drain reports the exit).
    }
  }
}
/** The local model's dimension: the stub's vectors land in the same column and HNSW index as USE-lite's. */
const STUB_DIM = 512;

/**
 * A vector of STUB_DIM that depends on the text only (xorshift seeded by its hash), unit length: the HNSW index gets
 * distinct points to insert, as it would from a model.
 */
export function stubVector(text: string): number[] {
  let x = createHash('sha256').update(text).digest().readUInt32LE(0) || 1;
  const v: number[] = [];
  let norm = 0;
  for (let i = 0; i < STUB_DIM; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const value = (x >>> 0) / 0xffffffff - 0.5;
    v.push(value);
    norm += value * value;
  }
  const scale = 1 / Math.sqrt(norm);
  return v.map((value) => Math.round(value * scale * 1e6) / 1e6);
}

/** `POST /v1/embeddings` as an OpenAI-compatible server answers it, at once; in the bench process. */
async function startEmbeddingStub(): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { input?: string[] | string };
        const input = Array.isArray(body.input) ? body.input : [body.input ?? ''];
        const data = input.map((text, index) => ({
          object: 'embedding',
          index,
          embedding: stubVector(text),
        }));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data, model: 'bench-stub' }));
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function runScale(
  options: BenchOptions,
  repoRoot: string,
  logger: Logger,
  progress: (line: string) => void,
): Promise<ScaleResult> {
  const cores = os.cpus().length;
  const loadAverageAtStart = os.loadavg().map((l) => round(l, 2));
  const db: TestDatabase = await createTestDatabase('bench_scale');
  let ns: TestNamespace | undefined;
  let client: Client | undefined;
  let gateway: AppProcess | undefined;
  let stub: Awaited<ReturnType<typeof startEmbeddingStub>> | undefined;
  let workers: AppProcess[] = [];
  const stopWorkers = async () => {
    // A paused process would hold SIGTERM until continued.
    resume(workers);
    await Promise.all(
      workers.map((w) => w.stop().catch((e: unknown) => logger.warn({ err: e }, `${w.app} stop failed`))),
    );
    workers = [];
  };
  try {
    const maxReplicas = Math.max(...options.scaleReplicas);
    const ackPending = Math.max(WORKER_CONCURRENCY * 8, WORKER_CONCURRENCY * maxReplicas);
    ns = await createTestNamespace('benchscale', {
      ackWaitMs: ACK_WAIT_MS,
      maxDeliver: MAX_DELIVER,
      // What `ops provision` gives (concurrency × 8), raised if the largest step needs more in flight.
      maxAckPending: { ingestDocument: ackPending, indexDocument: ackPending },
    });
    const namespace = ns;
    const port = await freePort();
    const apiKey = `bench-${randomBytes(12).toString('hex')}`;
    const baseUrl = `http://127.0.0.1:${port}`;
    const logDir = path.join(repoRoot, 'tmp/bench', namespace.namespace);
    if (options.scaleEmbedding === 'stub') stub = await startEmbeddingStub();
    const common: Record<string, string> = {
      NODE_ENV: 'production',
      DATABASE_URL: db.url,
      NATS_URL: namespace.natsUrl,
      QUARRY_NAMESPACE: namespace.namespace,
      ACK_WAIT_MS: String(ACK_WAIT_MS),
      MAX_DELIVER: String(MAX_DELIVER),
      LOG_LEVEL: 'info',
      ...(stub
        ? {
            EMBEDDING_PROVIDER: 'openai',
            OPENAI_BASE_URL: stub.baseUrl,
            OPENAI_API_KEY: 'bench-stub',
            EMBEDDING_MODEL: 'bench-stub',
            EMBEDDING_DIM: String(STUB_DIM),
          }
        : {}),
    };
    const gw = new AppProcess(
      'gateway',
      {
        ...common,
        HOST: '127.0.0.1',
        PORT: String(port),
        QUARRY_BOOTSTRAP_API_KEY: apiKey,
        // One key at hundreds of requests a second: measured with the limiter's statement, never refused by it.
        RATE_LIMIT_PER_MINUTE: '100000000',
        RATE_LIMIT_BURST: '100000',
        LOG_LEVEL: options.gatewayLogLevel,
      },
      logDir,
    );
    gateway = gw;
    progress(`scale: starting the gateway (logs: ${path.relative(repoRoot, logDir)})`);
    gw.start();
    const gatewayPid = gw.pid ?? -1;
    await waitFor(
      async () => {
        if (!gw.running) throw new Error(`gateway exited; see ${gw.logFile}`);
        return (await fetch(`${baseUrl}/readyz`)).ok;
      },
      { timeoutMs: 60_000, intervalMs: 100, description: 'gateway (scale) ready' },
    );
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    client = pg;
    // Every query of this session is one transaction in pg_stat_database; they are taken out of the per-job count.
    let benchQueries = 0;
    const query = async <R extends object>(sql: string, params: unknown[] = []) => {
      benchQueries++;
      return (await pg.query<R>(sql, params)).rows;
    };
    const pgBackends = async () =>
      (
        await query<{ pid: number }>(
          'SELECT pid FROM pg_stat_activity WHERE datname = current_database() OR datname IS NULL',
        )
      ).map((r) => r.pid);

    let uploads = 0;
    const upload = async (): Promise<string | undefined> => {
      const i = uploads++;
      const form = new FormData();
      form.append(
        'files',
        new Blob([textFile(options.fileBytes, `${namespace.namespace}-${i}`)], { type: 'text/plain' }),
        `scale-${i}.txt`,
      );
      const response = await fetch(`${baseUrl}/v1/documents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'quarry-lane': 'interactive' },
        body: form,
      });
      const body = (await response.json()) as { id?: string };
      return response.status === 202 ? body.id : undefined;
    };
    const uploadMany = async (count: number) => {
      const ids: string[] = [];
      let unexpected = 0;
      await runPool(count, options.httpConcurrency, async () => {
        const id = await upload().catch((error: unknown) => {
          logger.warn({ err: error }, 'scale: upload failed');
          return undefined;
        });
        if (id) ids.push(id);
        else unexpected++;
      });
      return { ids, unexpected };
    };
    /** Polls until every job is terminal; false when nothing moved for a minute (a problem, not a hang). */
    const waitTerminal = async (ids: string[]): Promise<boolean> => {
      let last = -1;
      let lastMoveAt = Date.now();
      for (;;) {
        const crashed = workers.find((w) => !w.running);
        if (crashed) throw new Error(`${crashed.app} exited; see ${crashed.logFile}`);
        const rows = await query<{ n: number }>(
          'SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status::text = ANY($2::text[])',
          [ids, TERMINAL],
        );
        const done = rows[0]?.n ?? 0;
        if (done >= ids.length) return true;
        if (done !== last) {
          last = done;
          lastMoveAt = Date.now();
        } else if (Date.now() - lastMoveAt > 60_000) {
          return false;
        }
        await delay(SAMPLE_MS);
      }
    };

    const problems: string[] = [];
    const measured: MeasuredStep[] = [];
    for (const replicas of options.scaleReplicas) {
      const stepDir = path.join(logDir, `n${replicas}`);

      // 1. N ingest and N analysis workers, booted and warmed up.
      progress(`scale: N=${replicas}: starting ${replicas} ingest + ${replicas} analysis workers`);
      const ports: number[] = [];
      for (const app of ['ingest-worker', 'analysis-worker'] as const) {
        for (let i = 0; i < replicas; i++) {
          const metricsPort = await freePort();
          ports.push(metricsPort);
          workers.push(
            new AppProcess(
              app,
              {
                ...common,
                METRICS_PORT: String(metricsPort),
                DATABASE_POOL_MAX: String(WORKER_POOL_MAX),
                INGEST_CONCURRENCY: String(WORKER_CONCURRENCY),
                ANALYSIS_CONCURRENCY: String(WORKER_CONCURRENCY),
              },
              path.join(stepDir, `${app}-${i + 1}`),
            ),
          );
        }
      }
      const spawnedAt = Date.now();
      for (const w of workers) w.start();
      await Promise.all(
        workers.map((w, i) =>
          waitFor(
            async () => {
              if (!w.running) throw new Error(`${w.app} exited; see ${w.logFile}`);
              return (await fetch(`http://127.0.0.1:${ports[i]}/readyz`)).ok;
            },
            { timeoutMs: 120_000, intervalMs: 100, description: `${w.app} (scale N=${replicas}) ready` },
          ),
        ),
      );
      const bootMs = Date.now() - spawnedAt;
      const warmupJobs = WARMUP_PER_SLOT * WORKER_CONCURRENCY * replicas;
      const warm = await uploadMany(warmupJobs);
      if (warm.unexpected > 0 || !(await waitTerminal(warm.ids)))
        throw new Error(`scale N=${replicas}: the warm-up jobs did not all finish; see ${stepDir}`);

      // 2. The backlog: the workers are paused (SIGSTOP) while the gateway takes the uploads, so they find all of it
      // queued; then they go on (SIGCONT) and drain it. Paused for seconds, far below the ack wait: a message a paused
      // worker had already pulled is still its own when it goes on.
      const watched: Watched = {
        gateway: gatewayPid,
        ingest: workers.filter((w) => w.app === 'ingest-worker').map((w) => w.pid ?? -1),
        analysis: workers.filter((w) => w.app === 'analysis-worker').map((w) => w.pid ?? -1),
      };
      const pg0 = await pgCounters(pg);
      const queries0 = benchQueries;
      const seq0 = await streamSeqs(namespace);
      const sampler = new Sampler(() => watched, pgBackends);
      progress(
        `scale: N=${replicas}: ${options.scaleJobs} uploads (${options.httpConcurrency} in flight, workers paused), then the drain`,
      );
      const start = await sampler.tick();
      sampler.start();
      let end: CpuTick;
      let resumed: CpuTick;
      let backlog: { ids: string[]; unexpected: number };
      try {
        pause(workers);
        try {
          backlog = await uploadMany(options.scaleJobs);
          resumed = await sampler.tick();
        } finally {
          resume(workers);
        }
        if (!(await waitTerminal(backlog.ids))) {
          problems.push(`scale N=${replicas}: jobs not terminal after a minute without progress`);
        }
      } finally {
        end = await sampler.stop();
      }
      const jobIds = backlog.ids;
      const uploadMs = resumed.t - start.t;
      if (backlog.unexpected > 0)
        problems.push(`scale N=${replicas}: ${backlog.unexpected} upload(s) not accepted`);

      const finished = await query<{ status: string; finished_ms: number | null }>(
        `SELECT status::text AS status, extract(epoch FROM finished_at)::float8 * 1000 AS finished_ms
           FROM jobs WHERE id = ANY($1::uuid[])`,
        [jobIds],
      );
      const statuses: Record<string, number> = {};
      for (const r of finished) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      const finishes = finished.map((r) => r.finished_ms).filter((v): v is number => v !== null);
      const notSucceeded = jobIds.length - (statuses['succeeded'] ?? 0);
      if (notSucceeded > 0) {
        problems.push(
          `scale N=${replicas}: ${notSucceeded} job(s) not succeeded (${Object.entries(statuses)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')})`,
        );
      }
      const window = steadyWindow(finishes, sampler.ticks, cores, {
        trim: TRIM,
        notBefore: resumed.t,
        origin: resumed.t,
      });
      if (!window) throw new Error(`scale N=${replicas}: fewer than two jobs finished, nothing to measure`);

      const n = Math.max(1, jobIds.length);
      const perJob = (r: ScaleRole) => round((end.roles[r] - start.roles[r]) / n);
      const cpuMsPerJob = Object.fromEntries(SCALE_ROLES.map((r) => [r, perJob(r)])) as Record<
        ScaleRole,
        number
      >;
      const peakRssMb = {
        gateway: round(sampler.peaks.gateway, 1),
        ingest: round(sampler.peaks.ingest, 1),
        analysis: round(sampler.peaks.analysis, 1),
      };

      await stopWorkers();
      // A backend flushes its statistics when its session ends, so the workers' are in once they stopped; the
      // gateway's within a second of its last transaction.
      await delay(1200);
      const pg1 = await pgCounters(pg);
      // This session's transactions after the first reading's snapshot: that reading's own two, the polls, and the
      // snapshot reset before this one. (Its statistics reach the server at most once a second, as every backend's:
      // a handful either way, against thousands from the pipeline.)
      const ownQueries = benchQueries - queries0 + 3;
      const seq1 = await streamSeqs(namespace);
      const per = (a: number | null, b: number | null) =>
        a === null || b === null ? null : round((b - a) / n);
      const perStream: Record<string, number> = {};
      for (const label of Object.keys(seq1)) {
        const d = (seq1[label] ?? 0) - (seq0[label] ?? 0);
        if (d > 0) perStream[label] = round(d / n);
      }
      const deadLetters = (seq1['dlq'] ?? 0) - (seq0['dlq'] ?? 0);
      if (deadLetters > 0) problems.push(`scale N=${replicas}: ${deadLetters} dead letter(s)`);
      const sorted = [...finishes].sort((a, b) => a - b);
      const lastTerminalMs = Math.round((sorted[sorted.length - 1] ?? resumed.t) - resumed.t);
      const pipelineCpuMsPerJob = round(
        SCALE_ROLES.filter((r) => r !== 'bench').reduce((sum, r) => sum + cpuMsPerJob[r], 0),
      );
      const step: MeasuredStep = {
        replicas,
        jobs: jobIds.length,
        warmupJobs,
        bootMs,
        upload: {
          ms: Math.round(uploadMs),
          perSec: rate(jobIds.length, uploadMs),
          concurrency: options.httpConcurrency,
          unexpected: backlog.unexpected,
          gatewayCpuMsPerUpload: round((resumed.roles.gateway - start.roles.gateway) / n),
          postgresCpuMsPerUpload: round((resumed.roles.postgres - start.roles.postgres) / n),
          natsCpuMsPerUpload: round((resumed.roles.nats - start.roles.nats) / n),
          machineBusy: round(
            (resumed.machineBusyMs - start.machineBusyMs) /
              Math.max(1, resumed.machineTotalMs - start.machineTotalMs),
            3,
          ),
        },
        firstTerminalMs: Math.round((sorted[0] ?? resumed.t) - resumed.t),
        lastTerminalMs,
        wholeDrainJobsPerSec: rate(finishes.length, lastTerminalMs),
        window,
        jobsPerSec: window.jobsPerSec,
        coresBusy: window.coresBusy,
        jobsPerSecPerPipelineCore: ratio(window.jobsPerSec, window.pipelineCores),
        cpuMsPerJob,
        pipelineCpuMsPerJob,
        peakRssMb,
        postgres: {
          commitsPerJob: round((pg1.commits - pg0.commits - ownQueries) / n),
          rollbacksPerJob: round((pg1.rollbacks - pg0.rollbacks) / n),
          rowsWrittenPerJob: round((pg1.rowsWritten - pg0.rowsWritten) / n),
          walBytesPerJob: per(pg0.walBytes, pg1.walBytes),
          walSyncsPerJob: per(pg0.walSyncs, pg1.walSyncs),
        },
        jetstream: {
          perJob: perStream,
          totalPerJob: round(Object.values(perStream).reduce((a, b) => a + b, 0)),
        },
        statuses,
        notSucceeded,
        deadLetters,
        logDir: path.relative(repoRoot, stepDir),
      };
      measured.push(step);
      progress(
        `scale: N=${replicas}: ${window.jobsPerSec} jobs/s steady, ${window.coresBusy} cores busy ` +
          `(${window.otherCores} not ours), pipeline CPU ${pipelineCpuMsPerJob} ms/job`,
      );
    }
    const figures = scaleFigures(measured);
    const steps: ScaleStep[] = measured.map((m, i) => ({ ...m, ...(figures[i] as ScaleFigures) }));
    return {
      cores,
      embedding: options.scaleEmbedding,
      jobsPerStep: options.scaleJobs,
      fileBytes: options.fileBytes,
      uploadConcurrency: options.httpConcurrency,
      workerConcurrency: WORKER_CONCURRENCY,
      workerPoolMax: WORKER_POOL_MAX,
      trim: TRIM,
      sampleMs: SAMPLE_MS,
      loadAverageAtStart,
      steps,
      logDir: path.relative(repoRoot, logDir),
      problems,
    };
  } finally {
    await stopWorkers();
    await gateway?.stop().catch((e: unknown) => logger.warn({ err: e }, 'gateway stop failed'));
    await client?.end().catch((e: unknown) => logger.warn({ err: e }, 'pg client end failed'));
    await ns?.cleanup().catch((e: unknown) => logger.warn({ err: e }, 'namespace cleanup failed'));
    await db.drop().catch((e: unknown) => logger.warn({ err: e }, 'database drop failed'));
    await stub?.close();
  }
}
