import { isTerminalJobStatus, type JobStatus } from '@quarry/contracts';
import {
  AppProcess,
  createTestDatabase,
  createTestNamespace,
  freePort,
  OpenApiConformance,
  REPO_ROOT,
  waitFor,
  type AppName,
  type TestDatabase,
  type TestNamespace,
} from '@quarry/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

export interface JobBody {
  id: string;
  status: JobStatus;
  attempts: number;
  progress: { step?: string; done?: number; total?: number };
  documents: {
    id: string;
    filename: string;
    status: string;
    error: { code: string; message: string } | null;
    detectedType?: string | null;
    source?: string;
  }[];
  error: { code: string; message: string } | null;
  traceId: string | null;
}

export interface HttpResult<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
  ms: number;
}

const ACK_WAIT_MS = 4000;
const execFileAsync = promisify(execFile);

/**
 * The three apps as separate processes on a database and a NATS namespace of their own, driven over
 * HTTP like a client would. Logs go to tmp/e2e/<run>/<app>.log.
 */
export class QuarryStack {
  readonly apps: Record<AppName, AppProcess>;
  readonly apiKey = `e2e-${randomBytes(12).toString('hex')}`;
  /** Every app's environment, before `appEnv`: what `reconfigure` starts an app with again. */
  private readonly env: Record<string, string>;

  private constructor(
    readonly db: TestDatabase,
    readonly ns: TestNamespace,
    readonly port: number,
    readonly logDir: string,
    extraEnv: Record<string, string>,
    oneProcess?: { entry: string; args: string[] },
    appEnv: Partial<Record<AppName, Record<string, string>>> = {},
  ) {
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      DATABASE_POOL_MAX: '4',
      NATS_URL: ns.natsUrl,
      QUARRY_NAMESPACE: ns.namespace,
      PORT: String(port),
      HOST: '127.0.0.1',
      QUARRY_BOOTSTRAP_API_KEY: this.apiKey,
      // Tests poll and upload far faster than a client may; the limiter still runs on every request.
      RATE_LIMIT_PER_MINUTE: '100000000',
      RATE_LIMIT_BURST: '100000',
      ACK_WAIT_MS: String(ACK_WAIT_MS),
      MAX_DELIVER: '5',
      RETRY_BASE_DELAY_MS: '200',
      RETRY_MAX_DELAY_MS: '2000',
      OUTBOX_RELAY_INTERVAL_MS: '500',
      OUTBOX_RELAY_GRACE_MS: '1000',
      SHUTDOWN_TIMEOUT_MS: '5000',
      // Workers serve /metrics and probes on a port of their own; 0 picks a free one, so the two
      // workers (or three apps in one process) never collide. `appEnv` sets a known port per app.
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      ...extraEnv,
    };
    this.env = env;
    this.apps = {
      gateway: new AppProcess('gateway', { ...env, ...appEnv.gateway }, logDir, oneProcess ?? {}),
      'ingest-worker': new AppProcess('ingest-worker', { ...env, ...appEnv['ingest-worker'] }, logDir),
      'analysis-worker': new AppProcess('analysis-worker', { ...env, ...appEnv['analysis-worker'] }, logDir),
    };
  }

  /**
   * `oneProcess`: run the three apps inside one Node process started from this script (relative to
   * the repository, with these arguments) instead of one process each — the tracing test hosts them under one in-memory
   * span exporter. The script is started as the gateway's process; the workers' stay unstarted.
   */
  static async start(
    label: string,
    extraEnv: Record<string, string> = {},
    options: {
      oneProcess?: { entry: string; args: string[] };
      /** Environment of one app only, over `extraEnv` (a worker's METRICS_PORT). */
      appEnv?: Partial<Record<AppName, Record<string, string>>>;
      /**
       * The consumers' ack_wait on the server and the apps' ACK_WAIT_MS together (4000 unless given): the namespace
       * is provisioned here, not by the apps, so setting ACK_WAIT_MS in `extraEnv` alone leaves the server's as it was.
       */
      ackWaitMs?: number;
      /** The command consumers' max_ack_pending (16 unless given): room for messages waiting in a fair share. */
      maxAckPending?: number;
    } = {},
  ): Promise<QuarryStack> {
    const ackWaitMs = options.ackWaitMs ?? ACK_WAIT_MS;
    const maxAckPending = options.maxAckPending ?? 16;
    const db = await createTestDatabase(label);
    const ns = await createTestNamespace(label, {
      ackWaitMs,
      maxDeliver: 5,
      maxAckPending: { ingestDocument: maxAckPending, indexDocument: maxAckPending },
    });
    const port = await freePort();
    const logDir = path.join(REPO_ROOT, 'tmp/e2e', ns.namespace);
    const stack = new QuarryStack(
      db,
      ns,
      port,
      logDir,
      { ACK_WAIT_MS: String(ackWaitMs), ...extraEnv },
      options.oneProcess,
      options.appEnv,
    );
    if (options.oneProcess) stack.apps.gateway.start();
    else for (const app of Object.values(stack.apps)) app.start();
    await stack.waitUntilReady();
    return stack;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Gateway ready, and each worker has a pull request waiting on its consumer. */
  async waitUntilReady(timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => (await fetch(`${this.baseUrl}/readyz`)).ok, {
      timeoutMs,
      description: 'gateway ready',
    });
    await this.waitForWorker('ingest-worker', timeoutMs);
    await this.waitForWorker('analysis-worker', timeoutMs);
  }

  async waitForWorker(app: 'ingest-worker' | 'analysis-worker', timeoutMs = 60_000): Promise<void> {
    const jsm = await jetstreamManager(this.ns.nc);
    const consumer = this.ns.topology.consumerName(
      app === 'ingest-worker' ? 'ingestDocument' : 'indexDocument',
    );
    await waitFor(
      async () => {
        const info = await jsm.consumers.info(this.ns.topology.jobsStream, consumer);
        return (info.num_waiting ?? 0) > 0 || info.num_ack_pending > 0;
      },
      { timeoutMs, description: `${app} pulling` },
    );
  }

  async request<T = unknown>(
    method: string,
    urlPath: string,
    options: { json?: unknown; form?: FormData; headers?: Record<string, string>; auth?: boolean } = {},
  ): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.auth !== false) headers['authorization'] = `Bearer ${this.apiKey}`;
    let body: RequestInit['body'];
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.form) {
      body = options.form;
    }
    const started = performance.now();
    const response = await fetch(`${this.baseUrl}${urlPath}`, { method, headers, body });
    const text = await response.text();
    const ms = performance.now() - started;
    const parsed: unknown = text ? JSON.parse(text) : null;
    // Every answer is held to the document the gateway serves (ADR 35): status, body schema, documented headers.
    (await this.conformance()).assert({
      method,
      path: urlPath,
      status: response.status,
      contentType: response.headers.get('content-type') ?? undefined,
      body: parsed,
      headers: response.headers,
    });
    return { status: response.status, body: parsed as T, headers: response.headers, ms };
  }

  private openapi?: Promise<OpenApiConformance>;

  /** The running gateway's /docs/openapi.json, fetched once. */
  private conformance(): Promise<OpenApiConformance> {
    this.openapi ??= fetch(`${this.baseUrl}/docs/openapi.json`).then(async (r) => {
      if (!r.ok) throw new Error(`GET /docs/openapi.json answered ${r.status}`);
      return new OpenApiConformance((await r.json()) as object);
    });
    // A gateway that was down (a chaos test's restart) is asked again next time.
    this.openapi.catch(() => (this.openapi = undefined));
    return this.openapi;
  }

  async upload(
    files: { name: string; bytes: Uint8Array; type?: string }[],
    headers: Record<string, string> = {},
  ) {
    const form = new FormData();
    for (const f of files) {
      form.append(
        'files',
        new Blob([Buffer.from(f.bytes)], { type: f.type ?? 'application/octet-stream' }),
        f.name,
      );
    }
    return this.request<{
      id: string;
      status: JobStatus;
      documents: { id: string; filename: string; status: string }[];
    }>('POST', '/v1/documents', { form, headers });
  }

  /** A tenant of its own with a key, made the way an operator does (`ops api-key <tenant> <key>`). */
  async createTenant(name: string): Promise<{ apiKey: string }> {
    const apiKey = `e2e-${randomBytes(12).toString('hex')}`;
    await execFileAsync(
      process.execPath,
      [path.join(REPO_ROOT, 'dist/apps/ops/src/main.js'), 'api-key', name, apiKey],
      { cwd: REPO_ROOT, env: { PATH: process.env['PATH'] ?? '', ...this.env } },
    );
    return { apiKey };
  }

  async job(id: string): Promise<JobBody> {
    const r = await this.request<JobBody>('GET', `/v1/jobs/${id}`);
    if (r.status !== 200) throw new Error(`GET /v1/jobs/${id} answered ${r.status}`);
    return r.body;
  }

  async waitForTerminal(id: string, timeoutMs = 120_000): Promise<JobBody> {
    return waitFor(
      async () => {
        const job = await this.job(id);
        return isTerminalJobStatus(job.status) ? job : undefined;
      },
      { timeoutMs, intervalMs: 200, description: `job ${id} terminal` },
    );
  }

  /**
   * Stops an app and starts it again with more environment: an operator changing a setting and restarting it (the
   * embedding model, say). Resolves once the app is ready again.
   */
  async reconfigure(app: AppName, env: Record<string, string>): Promise<void> {
    await this.apps[app].stop();
    this.apps[app] = new AppProcess(app, { ...this.env, ...env }, this.logDir);
    this.apps[app].start();
    await this.waitUntilReady();
  }

  async stop(): Promise<void> {
    await Promise.all(Object.values(this.apps).map((a) => a.stop()));
    await this.ns.cleanup();
    await this.db.drop();
  }
}
