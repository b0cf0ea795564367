import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  AppProcess,
  createTestDatabase,
  createTestNamespace,
  freePort,
  waitFor,
  type AppName,
  type TestDatabase,
  type TestNamespace,
} from '@quarry/testing';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Pool } from 'pg';
import { FAKE_EMBEDDING_DIM, FAKE_EMBEDDING_MODEL, FakeEmbeddingServer } from './fake-embeddings';
import { NatsServers } from './nats-servers';
import { PostgresServer } from './postgres-server';
import { createRunDir, reapLeftovers, releaseRun, track, untrack } from './reaper';

/** Short timings, so a killed worker's message comes back in seconds and a run fits in minutes. */
export const CHAOS_TIMINGS = {
  ackWaitMs: 3000,
  maxDeliver: 5,
  retryBaseDelayMs: 500,
  retryMaxDelayMs: 5000,
} as const;

export interface ChaosStackOptions {
  label: string;
  /** One nats-server, or a three-node cluster with every stream and the bucket replicated (R3). */
  natsNodes: 1 | 3;
  /** Extra environment for all three apps. */
  env?: Record<string, string>;
}

export interface ConsumerState {
  name: string;
  pending: number;
  ackPending: number;
  waiting: number;
  redelivered: number;
}

export interface HttpResult<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * Quarry's three apps (the build in dist/) on a PostgreSQL and NATS of the suite's own, on free ports,
 * so the chaos scenarios can stop, kill and restart the servers. Everything lives in
 * tmp/chaos/<run>/ and is torn down by `stop()`, or by the exit handlers of the reaper if the test
 * process dies first.
 */
export class ChaosStack {
  readonly apps: Record<AppName, AppProcess>;
  /** Set by a failing scenario (or CHAOS_KEEP_LOGS=1): the run dir and its logs stay for a post-mortem. */
  keepLogs = process.env['CHAOS_KEEP_LOGS'] === '1';
  /** Errors of idle pooled connections (expected while PostgreSQL restarts). */
  poolErrors = 0;
  readonly sql: Pool;

  private constructor(
    readonly runDir: string,
    readonly pg: PostgresServer,
    readonly nats: NatsServers,
    readonly db: TestDatabase,
    readonly ns: TestNamespace,
    readonly monitor: NatsConnection,
    readonly jsm: JetStreamManager,
    readonly embeddings: FakeEmbeddingServer,
    readonly port: number,
    readonly apiKey: string,
    env: Record<string, string>,
  ) {
    const logDir = path.join(runDir, 'logs');
    const args = [`--chaos-run=${runDir}`];
    this.apps = {
      gateway: new AppProcess('gateway', env, logDir, { args }),
      'ingest-worker': new AppProcess('ingest-worker', env, logDir, { args }),
      'analysis-worker': new AppProcess('analysis-worker', env, logDir, { args }),
    };
    this.sql = new Pool({ connectionString: db.url, max: 4 });
    // An idle pooled connection dies with every PostgreSQL restart; the next query opens a new one.
    this.sql.on('error', () => this.poolErrors++);
  }

  static async start(options: ChaosStackOptions): Promise<ChaosStack> {
    reapLeftovers();
    const runDir = createRunDir(options.label);
    const cleanups: (() => Promise<unknown>)[] = [];
    try {
      const pg = await PostgresServer.start(runDir);
      cleanups.push(() => pg.stop());
      const nats = await NatsServers.start(runDir, options.natsNodes);
      cleanups.push(() => nats.stopAll());
      const db = await createTestDatabase(options.label, { serverUrl: pg.url() });
      const replicas = options.natsNodes;
      // A fresh cluster answers "JetStream not available" until it has elected its meta leader.
      const ns = await waitFor(
        () =>
          createTestNamespace(
            options.label,
            {
              ackWaitMs: CHAOS_TIMINGS.ackWaitMs,
              maxDeliver: CHAOS_TIMINGS.maxDeliver,
              maxAckPending: { ingestDocument: 32, indexDocument: 32 },
              replicas,
            },
            { natsUrl: nats.url },
          ),
        { timeoutMs: 30_000, intervalMs: 500, description: 'JetStream provisioned' },
      );
      cleanups.push(() => ns.nc.close());
      // The suite's own view of NATS reconnects forever, as the apps' connections do.
      const monitor = await connect({
        servers: nats.url.split(','),
        name: 'chaos-monitor',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      });
      cleanups.push(() => monitor.close());
      const jsm = await jetstreamManager(monitor, { timeout: 5000 });
      const embeddings = await FakeEmbeddingServer.start();
      cleanups.push(() => embeddings.close());
      const port = await freePort();
      const apiKey = `chaos-${randomBytes(12).toString('hex')}`;
      const env: Record<string, string> = {
        NODE_ENV: 'test',
        DATABASE_URL: db.url,
        DATABASE_POOL_MAX: '4',
        NATS_URL: nats.url,
        QUARRY_NAMESPACE: ns.namespace,
        PORT: String(port),
        HOST: '127.0.0.1',
        QUARRY_BOOTSTRAP_API_KEY: apiKey,
        // The load is one key far past any client's rate; the limiter still runs on every request.
        RATE_LIMIT_PER_MINUTE: '100000000',
        RATE_LIMIT_BURST: '100000',
        ACK_WAIT_MS: String(CHAOS_TIMINGS.ackWaitMs),
        MAX_DELIVER: String(CHAOS_TIMINGS.maxDeliver),
        RETRY_BASE_DELAY_MS: String(CHAOS_TIMINGS.retryBaseDelayMs),
        RETRY_MAX_DELAY_MS: String(CHAOS_TIMINGS.retryMaxDelayMs),
        OUTBOX_RELAY_INTERVAL_MS: '500',
        OUTBOX_RELAY_GRACE_MS: '1000',
        SHUTDOWN_TIMEOUT_MS: '5000',
        INGEST_CONCURRENCY: '4',
        ANALYSIS_CONCURRENCY: '4',
        EMBEDDING_PROVIDER: 'openai',
        OPENAI_BASE_URL: embeddings.baseUrl,
        EMBEDDING_MODEL: FAKE_EMBEDDING_MODEL,
        EMBEDDING_DIM: String(FAKE_EMBEDDING_DIM),
        EMBEDDING_TIMEOUT_MS: '5000',
        // Each worker process picks a free port for /metrics and its probes: replicas share this env.
        METRICS_PORT: '0',
        LOG_LEVEL: 'info',
        ...options.env,
      };
      const stack = new ChaosStack(runDir, pg, nats, db, ns, monitor, jsm, embeddings, port, apiKey, env);
      cleanups.push(() => stack.sql.end());
      for (const app of Object.values(stack.apps)) stack.startApp(app.app);
      await stack.waitUntilReady();
      return stack;
    } catch (error) {
      for (const cleanup of cleanups.reverse()) {
        await cleanup().catch((e: unknown) => process.stderr.write(`[chaos] cleanup: ${String(e)}\n`));
      }
      releaseRun(runDir, { keep: true });
      throw error;
    }
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  startApp(app: AppName): void {
    const p = this.apps[app];
    p.start();
    if (p.pid !== undefined) track(this.runDir, p.pid, `--chaos-run=${this.runDir}`, 'SIGKILL');
  }

  /** SIGKILL: no shutdown hooks, no acks, no naks. */
  async killApp(app: AppName): Promise<void> {
    const pid = this.apps[app].pid;
    await this.apps[app].kill();
    if (pid !== undefined) untrack(this.runDir, pid);
  }

  async waitUntilReady(timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => (await fetch(`${this.baseUrl}/readyz`)).ok, {
      timeoutMs,
      intervalMs: 200,
      description: 'gateway ready',
    });
    await this.waitForWorker('ingest-worker', timeoutMs);
    await this.waitForWorker('analysis-worker', timeoutMs);
  }

  /** A worker is up once it has a pull request waiting on (or messages out from) its consumer. */
  async waitForWorker(app: 'ingest-worker' | 'analysis-worker', timeoutMs = 60_000): Promise<void> {
    const durable = this.ns.topology.consumerName(
      app === 'ingest-worker' ? 'ingestDocument' : 'indexDocument',
    );
    await waitFor(
      async () => {
        const info = await this.jsm.consumers.info(this.ns.topology.jobsStream, durable);
        return (info.num_waiting ?? 0) > 0 || info.num_ack_pending > 0;
      },
      { timeoutMs, intervalMs: 200, description: `${app} pulling from ${durable}` },
    );
  }

  /** Every durable consumer on the jobs stream (one per command and lane). */
  async consumers(): Promise<ConsumerState[]> {
    const out: ConsumerState[] = [];
    for await (const c of this.jsm.consumers.list(this.ns.topology.jobsStream)) {
      out.push({
        name: c.name,
        pending: c.num_pending,
        ackPending: c.num_ack_pending,
        waiting: c.num_waiting ?? 0,
        redelivered: c.num_redelivered,
      });
    }
    return out;
  }

  async request<T = unknown>(
    method: string,
    urlPath: string,
    options: { json?: unknown; form?: FormData; headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<HttpResult<T>> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.apiKey}`,
      ...(options.headers ?? {}),
    };
    let body: RequestInit['body'];
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.form) {
      body = options.form;
    }
    const response = await fetch(`${this.baseUrl}${urlPath}`, {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = { raw: text.slice(0, 500) };
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  /** Ends every process of the run and removes its data; the logs stay if a scenario failed. */
  async stop(): Promise<void> {
    await Promise.all(Object.keys(this.apps).map((a) => this.stopApp(a as AppName)));
    await this.sql.end().catch((e: unknown) => process.stderr.write(`[chaos] pool end: ${String(e)}\n`));
    await this.monitor
      .close()
      .catch((e: unknown) => process.stderr.write(`[chaos] nats close: ${String(e)}\n`));
    await this.ns.nc
      .close()
      .catch((e: unknown) => process.stderr.write(`[chaos] nats close: ${String(e)}\n`));
    await this.embeddings.close();
    await this.nats.stopAll();
    if (this.pg.running) await this.pg.stop();
    // A failed run keeps its data too: the database and the streams are the evidence.
    if (!this.keepLogs) {
      this.pg.removeFiles();
      for (const node of this.nats.nodes) {
        rmSync(path.join(this.runDir, 'nats', node.name, 'store'), { recursive: true, force: true });
      }
    }
    releaseRun(this.runDir, { keep: this.keepLogs });
  }

  private async stopApp(app: AppName): Promise<void> {
    const pid = this.apps[app].pid;
    await this.apps[app].stop(10_000);
    if (pid !== undefined) untrack(this.runDir, pid);
  }
}
