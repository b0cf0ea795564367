// POST /v1/documents latency against the built gateway, started as its own process exactly as
// `npm start` runs it, on a database and NATS namespace of its own. No workers run: the commands it
// queues stay in the stream, so only the gateway's work is measured.
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
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { BenchOptions } from './args';
import { startCpuProbe, type CpuSample } from './cpu';
import { runPaced } from './peers';
import { rate, runPool, summarize, type LatencySummary } from './stats';

export interface HttpPhase {
  name: string;
  requests: number;
  concurrency: number;
  elapsedMs: number;
  perSec: number;
  latency: LatencySummary;
  /** Answers other than the expected status. */
  unexpected: number;
  /** cpu.childCpuMs is the gateway's. */
  cpu: CpuSample;
  gatewayCpuMsPerRequest: number;
  /** Open-loop phases: the rate sent at (latency counts from each request's scheduled send). */
  paced?: { perSecond: number; seconds: number; maxScheduleLagMs: number };
}

export interface HttpResult {
  gatewayLogLevel: string;
  fileBytes: number;
  warmup: number;
  startupMs: number;
  phases: HttpPhase[];
  gatewayLog: string;
}

/** About `bytes` of plain text, distinct per request so no two uploads share a hash. */
function textFile(bytes: number, i: number): Uint8Array {
  const line = `Benchmark upload ${i}: the quarterly budget review is moved to Friday.\n`;
  return new TextEncoder().encode(line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes));
}

/** One request: resolves with the HTTP status (the body is read, so the timing includes it). */
export type BenchRequest = () => Promise<number>;

/** A built gateway on a fresh database and NATS namespace, with the requests the bench sends it. */
export interface BenchGateway {
  readonly process: AppProcess;
  readonly baseUrl: string;
  /** The bootstrap API key, for requests the bench builds itself (a streamed upload). */
  readonly apiKey: string;
  readonly startupMs: number;
  /** Path of the gateway's log, relative to the repository. */
  readonly logFile: string;
  /** POST /v1/documents with one text file of `fileBytes`; expects 202. */
  readonly upload: BenchRequest;
  /** The job id of the last accepted upload ('' before the first). */
  lastJobId(): string;
  get(urlPath: string, authenticated?: boolean): BenchRequest;
  /** Stops the gateway and removes its database and namespace. */
  close(): Promise<void>;
}

/**
 * Starts the gateway and waits for /readyz. `env` is added to (and may override) the environment a
 * user's `npm start` would give it; nothing else leaks in from the bench's own environment.
 */
export async function startBenchGateway(
  label: string,
  env: Record<string, string>,
  options: BenchOptions,
  repoRoot: string,
  logger: Logger,
  progress: (line: string) => void,
): Promise<BenchGateway> {
  const db: TestDatabase = await createTestDatabase(`bench_${label}`);
  let ns: TestNamespace | undefined;
  let gateway: AppProcess | undefined;
  const close = async () => {
    await gateway?.stop().catch((e: unknown) => logger.warn({ err: e }, 'gateway stop failed'));
    await ns?.cleanup().catch((e: unknown) => logger.warn({ err: e }, 'namespace cleanup failed'));
    await db.drop().catch((e: unknown) => logger.warn({ err: e }, 'database drop failed'));
  };
  try {
    ns = await createTestNamespace(`bench${label}`);
    const port = await freePort();
    const apiKey = `bench-${randomBytes(12).toString('hex')}`;
    const baseUrl = `http://127.0.0.1:${port}`;
    const proc = new AppProcess(
      'gateway',
      {
        NODE_ENV: 'production',
        DATABASE_URL: db.url,
        NATS_URL: ns.natsUrl,
        QUARRY_NAMESPACE: ns.namespace,
        HOST: '127.0.0.1',
        PORT: String(port),
        QUARRY_BOOTSTRAP_API_KEY: apiKey,
        // One key at hundreds of requests a second: measured with the limiter's statement, never refused by it.
        RATE_LIMIT_PER_MINUTE: '100000000',
        RATE_LIMIT_BURST: '100000',
        LOG_LEVEL: options.gatewayLogLevel,
        ...env,
      },
      path.join(repoRoot, 'tmp/bench', ns.namespace),
    );
    gateway = proc;
    const logFile = path.relative(repoRoot, proc.logFile);
    progress(`${label}: starting the gateway (log: ${logFile})`);
    const startedAt = performance.now();
    proc.start();
    await waitFor(
      async () => {
        if (!proc.running) throw new Error(`gateway exited; see ${proc.logFile}`);
        return (await fetch(`${baseUrl}/readyz`)).ok;
      },
      { timeoutMs: 60_000, intervalMs: 100, description: `gateway (${label}) ready` },
    );
    const startupMs = Math.round(performance.now() - startedAt);
    const auth = { authorization: `Bearer ${apiKey}` };

    let uploads = 0;
    let lastJobId = '';
    const upload = async (): Promise<number> => {
      const i = uploads++;
      const form = new FormData();
      form.append(
        'files',
        new Blob([Buffer.from(textFile(options.fileBytes, i))], { type: 'text/plain' }),
        `bench-${i}.txt`,
      );
      const response = await fetch(`${baseUrl}/v1/documents`, { method: 'POST', headers: auth, body: form });
      const body = (await response.json()) as { id?: string };
      if (body.id) lastJobId = body.id;
      return response.status;
    };
    const get =
      (urlPath: string, authenticated = false): BenchRequest =>
      async () => {
        const response = await fetch(`${baseUrl}${urlPath}`, { headers: authenticated ? auth : {} });
        await response.arrayBuffer();
        return response.status;
      };
    return {
      process: proc,
      baseUrl,
      apiKey,
      startupMs,
      logFile,
      upload,
      lastJobId: () => lastJobId,
      get,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** `count` uploads one after the other, each required to be accepted. */
export async function warmUp(gateway: BenchGateway, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const status = await gateway.upload();
    if (status !== 202) throw new Error(`warm-up upload answered ${status}; see ${gateway.process.logFile}`);
  }
}

/** Raw material of one measured span, for callers that merge several spans of the same kind. */
export interface PhaseSamples {
  samples: number[];
  elapsedMs: number;
  unexpected: number;
  cpu: CpuSample;
}

/** Sends `requests` requests, `concurrency` at a time, timing each and the gateway's CPU. */
export async function measureRequests(
  gateway: BenchGateway,
  requests: number,
  concurrency: number,
  expected: number,
  request: BenchRequest,
  logger: Logger,
  name: string,
): Promise<PhaseSamples> {
  const samples: number[] = [];
  let unexpected = 0;
  const probe = startCpuProbe(gateway.process.pid);
  const started = performance.now();
  await runPool(requests, concurrency, async () => {
    const t0 = performance.now();
    const status = await request().catch((error: unknown) => {
      logger.warn({ err: error }, `${name}: request failed`);
      return 0;
    });
    samples.push(performance.now() - t0);
    if (status !== expected) unexpected++;
  });
  const elapsedMs = performance.now() - started;
  return { samples, elapsedMs, unexpected, cpu: probe() };
}

/**
 * `perSecond` requests a second for `seconds`, each sent on schedule whether or not earlier ones have
 * answered, timed from its scheduled send. Returns the samples and the most requests in flight at once.
 */
export async function measurePaced(
  gateway: BenchGateway,
  perSecond: number,
  seconds: number,
  expected: number,
  request: BenchRequest,
  logger: Logger,
  name: string,
): Promise<PhaseSamples & { maxInFlight: number; maxScheduleLagMs: number }> {
  const samples: number[] = [];
  let unexpected = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const probe = startCpuProbe(gateway.process.pid);
  const count = Math.max(1, Math.round(perSecond * seconds));
  const run = await runPaced(count, perSecond, async (_i, scheduledAt) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const status = await request().catch((error: unknown) => {
      logger.warn({ err: error }, `${name}: request failed`);
      return 0;
    });
    inFlight--;
    samples.push(performance.now() - scheduledAt);
    if (status !== expected) unexpected++;
  });
  return {
    samples,
    elapsedMs: run.elapsedMs,
    unexpected,
    cpu: probe(),
    maxInFlight,
    maxScheduleLagMs: run.maxLagMs,
  };
}

export function toPhase(name: string, concurrency: number, s: PhaseSamples): HttpPhase {
  const requests = s.samples.length;
  return {
    name,
    requests,
    concurrency,
    elapsedMs: Math.round(s.elapsedMs),
    perSec: rate(requests, s.elapsedMs),
    latency: summarize(s.samples),
    unexpected: s.unexpected,
    cpu: s.cpu,
    gatewayCpuMsPerRequest: Math.round(((s.cpu.childCpuMs ?? NaN) / requests) * 100) / 100,
  };
}

export async function runHttp(
  options: BenchOptions,
  repoRoot: string,
  logger: Logger,
  progress: (line: string) => void,
): Promise<HttpResult> {
  const gateway = await startBenchGateway('http', {}, options, repoRoot, logger, progress);
  try {
    const phase = async (
      name: string,
      requests: number,
      concurrency: number,
      expected: number,
      request: BenchRequest,
    ): Promise<HttpPhase> => {
      progress(`http: ${name}, ${requests} requests, concurrency ${concurrency}`);
      const s = await measureRequests(gateway, requests, concurrency, expected, request, logger, name);
      return toPhase(name, concurrency, s);
    };

    await warmUp(gateway, options.httpWarmup);
    // GET /v1/jobs/:id needs one job even without a warm-up.
    if (!gateway.lastJobId()) await warmUp(gateway, 1);
    const n = options.httpRequests;
    const phases: HttpPhase[] = [];
    phases.push(await phase('GET /healthz (framework floor)', n, 1, 200, gateway.get('/healthz')));
    phases.push(
      await phase('GET /healthz (framework floor)', n, options.httpConcurrency, 200, gateway.get('/healthz')),
    );
    phases.push(
      await phase(
        'GET /v1/jobs/:id (auth + one read)',
        n,
        1,
        200,
        gateway.get(`/v1/jobs/${gateway.lastJobId()}`, true),
      ),
    );
    phases.push(await phase('POST /v1/documents', n, 1, 202, gateway.upload));
    phases.push(await phase('POST /v1/documents', n, options.httpConcurrency, 202, gateway.upload));
    const pacedName = `POST /v1/documents (paced ${options.pacedRate}/s)`;
    progress(`http: ${pacedName} for ${options.pacedSeconds} s`);
    const paced = await measurePaced(
      gateway,
      options.pacedRate,
      options.pacedSeconds,
      202,
      gateway.upload,
      logger,
      pacedName,
    );
    phases.push({
      ...toPhase(pacedName, paced.maxInFlight, paced),
      paced: {
        perSecond: options.pacedRate,
        seconds: options.pacedSeconds,
        maxScheduleLagMs: paced.maxScheduleLagMs,
      },
    });
    return {
      gatewayLogLevel: options.gatewayLogLevel,
      fileBytes: options.fileBytes,
      warmup: options.httpWarmup,
      startupMs: gateway.startupMs,
      phases,
      gatewayLog: gateway.logFile,
    };
  } finally {
    await gateway.close();
  }
}
