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

export async function runHttp(
  options: BenchOptions,
  repoRoot: string,
  logger: Logger,
  progress: (line: string) => void,
): Promise<HttpResult> {
  const db: TestDatabase = await createTestDatabase('bench_http');
  let ns: TestNamespace | undefined;
  let gateway: AppProcess | undefined;
  try {
    ns = await createTestNamespace('benchhttp');
    const port = await freePort();
    const apiKey = `bench-${randomBytes(12).toString('hex')}`;
    const baseUrl = `http://127.0.0.1:${port}`;
    gateway = new AppProcess(
      'gateway',
      {
        NODE_ENV: 'production',
        DATABASE_URL: db.url,
        NATS_URL: ns.natsUrl,
        QUARRY_NAMESPACE: ns.namespace,
        HOST: '127.0.0.1',
        PORT: String(port),
        QUARRY_BOOTSTRAP_API_KEY: apiKey,
        LOG_LEVEL: options.gatewayLogLevel,
      },
      path.join(repoRoot, 'tmp/bench', ns.namespace),
    );
    progress(`http: starting the gateway (log: ${path.relative(repoRoot, gateway.logFile)})`);
    const startedAt = performance.now();
    gateway.start();
    await waitFor(
      async () => {
        if (!gateway?.running) throw new Error(`gateway exited; see ${gateway?.logFile}`);
        return (await fetch(`${baseUrl}/readyz`)).ok;
      },
      { timeoutMs: 60_000, intervalMs: 100, description: 'gateway ready' },
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
      (urlPath: string, headers: Record<string, string> = {}) =>
      async (): Promise<number> => {
        const response = await fetch(`${baseUrl}${urlPath}`, { headers });
        await response.arrayBuffer();
        return response.status;
      };

    const phase = async (
      name: string,
      requests: number,
      concurrency: number,
      expected: number,
      request: () => Promise<number>,
    ): Promise<HttpPhase> => {
      progress(`http: ${name}, ${requests} requests, concurrency ${concurrency}`);
      const samples: number[] = [];
      let unexpected = 0;
      const probe = startCpuProbe(gateway?.pid);
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
      const cpu = probe();
      return {
        name,
        requests,
        concurrency,
        elapsedMs: Math.round(elapsedMs),
        perSec: rate(requests, elapsedMs),
        latency: summarize(samples),
        unexpected,
        cpu,
        gatewayCpuMsPerRequest: Math.round(((cpu.childCpuMs ?? NaN) / requests) * 100) / 100,
      };
    };

    for (let i = 0; i < options.httpWarmup; i++) {
      const status = await upload();
      if (status !== 202) throw new Error(`warm-up upload answered ${status}; see ${gateway.logFile}`);
    }
    // GET /v1/jobs/:id needs one job even without a warm-up.
    if (!lastJobId && (await upload()) !== 202) throw new Error(`upload failed; see ${gateway.logFile}`);
    const n = options.httpRequests;
    const phases: HttpPhase[] = [];
    phases.push(await phase('GET /healthz (framework floor)', n, 1, 200, get('/healthz')));
    phases.push(
      await phase('GET /v1/jobs/:id (auth + one read)', n, 1, 200, get(`/v1/jobs/${lastJobId}`, auth)),
    );
    phases.push(await phase('POST /v1/documents', n, 1, 202, upload));
    phases.push(await phase('POST /v1/documents', n, options.httpConcurrency, 202, upload));
    return {
      gatewayLogLevel: options.gatewayLogLevel,
      fileBytes: options.fileBytes,
      warmup: options.httpWarmup,
      startupMs,
      phases,
      gatewayLog: path.relative(repoRoot, gateway.logFile),
    };
  } finally {
    await gateway?.stop().catch((e: unknown) => logger.warn({ err: e }, 'gateway stop failed'));
    await ns?.cleanup().catch((e: unknown) => logger.warn({ err: e }, 'namespace cleanup failed'));
    await db.drop().catch((e: unknown) => logger.warn({ err: e }, 'database drop failed'));
  }
}
