import { PromText } from '@quarry/test-kit';
import { request } from 'node:http';
import pino from 'pino';
import { QuarryMetrics } from './metrics';
import { WorkerOps } from './ops-server';
import { Readiness } from './readiness';

// The worker's ops server on a real loopback socket (port 0); only the readiness checks are scripted.

const logLines: { msg: string; url?: string; port?: number }[] = [];
const logger = pino(
  { level: 'info' },
  { write: (line: string) => void logLines.push(JSON.parse(line) as never) },
);

let ops: WorkerOps | undefined;
let metrics: QuarryMetrics;

beforeEach(async () => {
  logLines.length = 0;
  metrics = new QuarryMetrics({ app: 'ingest-worker', processMetrics: false });
  ops = await WorkerOps.start({ host: '127.0.0.1', port: 0, metrics, logger });
});

afterEach(async () => {
  await ops?.close();
  ops = undefined;
});

const get = async (path: string, init: RequestInit = {}) => {
  const response = await fetch(`http://127.0.0.1:${ops?.port}${path}`, init);
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
};

describe('WorkerOps', () => {
  it('listens on the port the system chose for port 0 and logs that URL', () => {
    expect(ops?.port).toBeGreaterThan(0);
    const started = logLines.find((l) => l.url);
    expect(started).toMatchObject({ url: `http://127.0.0.1:${ops?.port}`, port: ops?.port });
  });

  it('serves /metrics as Prometheus text with its content type', async () => {
    metrics.counter('quarry_pages_extracted_total').inc({ type: 'pdf', method: 'text_layer' }, 7);
    const r = await get('/metrics');
    expect(r.status).toBe(200);
    expect(r.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(
      PromText.parse(r.text).sum('quarry_pages_extracted_total', { app: 'ingest-worker', type: 'pdf' }),
    ).toBe(7);
  });

  it('answers /healthz 200 in every phase, /readyz only while running with its checks passing', async () => {
    const readiness = new Readiness();
    let natsUp = true;
    readiness.add('nats', () =>
      natsUp ? Promise.resolve() : Promise.reject(new Error('connection closed')),
    );

    expect((await get('/healthz')).status).toBe(200);
    const starting = await get('/readyz');
    expect([starting.status, JSON.parse(starting.text)]).toEqual([
      503,
      { status: 'not_ready', checks: { app: 'starting' } },
    ]);

    ops?.running(readiness);
    const running = await get('/readyz');
    expect([running.status, JSON.parse(running.text)]).toEqual([
      200,
      { status: 'ready', checks: { app: 'ok', nats: 'ok' } },
    ]);

    natsUp = false;
    const down = await get('/readyz');
    expect([down.status, JSON.parse(down.text)]).toEqual([
      503,
      { status: 'not_ready', checks: { app: 'ok', nats: 'connection closed' } },
    ]);

    natsUp = true;
    ops?.stopping();
    expect((await get('/readyz')).status).toBe(503);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('answers HEAD without a body, 404 for other paths and 405 for other methods', async () => {
    const head = await get('/metrics', { method: 'HEAD' });
    expect([head.status, head.text]).toEqual([200, '']);
    expect((await get('/metric')).status).toBe(404);
    expect((await get('/metrics?x=1')).status).toBe(200);
    expect((await get('/metrics', { method: 'POST' })).status).toBe(405);
  });

  it('closes at once although a scraper keeps its connection alive', async () => {
    const agentResponse = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: ops?.port, path: '/healthz', headers: { connection: 'keep-alive' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(agentResponse).toBe(200);
    const started = Date.now();
    await ops?.close();
    ops = undefined;
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('fails to start when its port is taken, so the worker exits instead of running blind', async () => {
    await expect(
      WorkerOps.start({ host: '127.0.0.1', port: ops?.port ?? 0, metrics, logger }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});

describe('Readiness', () => {
  it('reports each check, a hanging one as timed out', async () => {
    const readiness = new Readiness();
    readiness.add('database', () => Promise.resolve());
    readiness.add('nats', () => new Promise(() => undefined));
    expect(await readiness.check(20)).toEqual({
      ready: false,
      checks: { database: 'ok', nats: 'timed out' },
    });
  });
});
