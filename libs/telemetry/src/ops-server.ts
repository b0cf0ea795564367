import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger';
import type { QuarryMetrics } from './metrics/quarry-metrics';
import type { Readiness, ReadinessReport } from './readiness';

export interface OpsServerOptions {
  host: string;
  /** 0 picks a free port; `OpsServer.port` says which. */
  port: number;
  metrics: Pick<QuarryMetrics, 'metrics' | 'contentType'>;
  /** Asked on every `/readyz`. */
  ready: () => Promise<ReadinessReport>;
  logger: Logger;
}

export interface OpsServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * A worker's operations endpoints, on plain node:http (workers have no HTTP framework): `/metrics` for
 * Prometheus, `/healthz` (the process answers; never checks dependencies, so an outage does not
 * restart every pod) and `/readyz` (started, dependencies usable, not shutting down).
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const { logger } = options;
  const server = createServer((req, res) => {
    handle(req, res, options).catch((error: unknown) => {
      logger.error({ err: error, url: req.url }, 'ops endpoint failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => logger.error({ err: error }, 'ops server error'));
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  logger.info(
    { url, metrics: `${url}/metrics`, host: options.host, port },
    `metrics and probes on ${url}/metrics, /healthz, /readyz`,
  );
  return {
    port,
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Prometheus keeps its connection alive between scrapes; do not wait for it to hang up.
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, options: OpsServerOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  switch (path) {
    case '/metrics':
      send(res, 200, options.metrics.contentType, await options.metrics.metrics());
      return;
    case '/healthz':
      sendJson(res, 200, { status: 'ok' });
      return;
    case '/readyz': {
      const report = await options.ready();
      sendJson(res, report.ready ? 200 : 503, {
        status: report.ready ? 'ready' : 'not_ready',
        checks: report.checks,
      });
      return;
    }
    default:
      send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz or /readyz\n');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * A worker's ops server and the phase `/readyz` reports: not ready while Nest starts (connections,
 * consumers), ready while running and every readiness check passes, not ready again from the first
 * moment of shutdown, so Kubernetes stops counting the pod before its consumers stop.
 */
export class WorkerOps {
  private phase: 'starting' | 'running' | 'stopping' = 'starting';
  private readiness: Pick<Readiness, 'check'> | undefined;
  private server: OpsServer | undefined;

  private constructor() {}

  static async start(
    options: Pick<OpsServerOptions, 'host' | 'port' | 'metrics' | 'logger'>,
  ): Promise<WorkerOps> {
    const ops = new WorkerOps();
    ops.server = await startOpsServer({ ...options, ready: () => ops.report() });
    return ops;
  }

  get port(): number {
    return this.server?.port ?? 0;
  }

  running(readiness: Pick<Readiness, 'check'>): void {
    this.readiness = readiness;
    this.phase = 'running';
  }

  stopping(): void {
    this.phase = 'stopping';
  }

  close(): Promise<void> {
    this.phase = 'stopping';
    return this.server?.close() ?? Promise.resolve();
  }

  private async report(): Promise<ReadinessReport> {
    if (this.phase !== 'running' || !this.readiness) return { ready: false, checks: { app: this.phase } };
    const report = await this.readiness.check();
    return { ready: report.ready, checks: { app: 'ok', ...report.checks } };
  }
}
