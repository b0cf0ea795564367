import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { QuarryApiError, QuarryClient, verifyWebhook } from './index';

/** A stand-in gateway on loopback: each test gives it a handler. */
let server: Server;
let baseUrl: string;
let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();

beforeAll(async () => {
  server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const event = (id: number, type: string) =>
  `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify({ v: 1, id: `e${id}`, type, tenantId: 't', occurredAt: '2026-12-05T00:00:00Z', jobId: 'j', data: { status: type.split('.')[1] } })}\n\n`;

describe('QuarryClient', () => {
  it('turns an error answer into a QuarryApiError with its code, status, errorId and Retry-After', async () => {
    handle = (req, res) => {
      expect(req.headers.authorization).toBe('Bearer k');
      res
        .writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' })
        .end(JSON.stringify({ code: 'rate_limited', message: 'slow down', errorId: 'x-1' }));
    };
    const client = new QuarryClient({ baseUrl, apiKey: 'k' });
    const error = await client.getJob('nope').catch((e: unknown) => e);
    expect(QuarryApiError.is(error, 'rate_limited')).toBe(true);
    expect(error).toMatchObject({
      status: 429,
      code: 'rate_limited',
      message: 'slow down',
      retryAfterMs: 7000,
    });
    expect((error as QuarryApiError).errorId).toBe('x-1');
  });

  it('gives a proxy page that is not JSON a code from its status', async () => {
    handle = (_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>');
    const error = await new QuarryClient({ baseUrl, apiKey: 'k' }).listJobs().catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502, code: 'http_502' });
  });

  it("follows a job's events across a dropped connection, resuming after the last id: none missed or repeated", async () => {
    const seen: (string | undefined)[] = [];
    handle = (req, res) => {
      seen.push(req.headers['last-event-id'] as string | undefined);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('retry: 10\n\n');
      if (req.headers['last-event-id'] === undefined) {
        // The connection drops mid-stream (a gateway killed, a proxy timeout), once these two are on the wire.
        res.write(event(1, 'job.queued') + event(2, 'job.running'), () => res.destroy());
        return;
      }
      res.end(event(3, 'job.progress') + event(4, 'job.succeeded'));
    };
    const client = new QuarryClient({ baseUrl, apiKey: 'k' });
    const events = [];
    for await (const e of client.jobEvents('j')) events.push(`${e.eventId} ${e.type}`);
    expect(events).toEqual(['1 job.queued', '2 job.running', '3 job.progress', '4 job.succeeded']);
    expect(seen).toEqual([undefined, '2']);
  });

  it('does not reconnect to a stream the API refuses', async () => {
    let calls = 0;
    handle = (_req, res) => {
      calls++;
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"code":"not_found","message":"job j not found"}');
    };
    const stream = new QuarryClient({ baseUrl, apiKey: 'k' }).jobEvents('j');
    await expect(stream.next()).rejects.toMatchObject({ code: 'not_found', status: 404 });
    expect(calls).toBe(1);
  });
});

describe('verifyWebhook', () => {
  it('returns the event of a correctly signed delivery and throws on a tampered one', () => {
    const secret = `whsec_${Buffer.from('a-test-secret-of-32-bytes-length').toString('base64')}`;
    const body = JSON.stringify({
      v: 1,
      id: 'e1',
      type: 'job.succeeded',
      tenantId: 't',
      occurredAt: 'x',
      data: {},
    });
    const at = new Date();
    const signature = new Webhook(secret).sign('e1', at, body);
    const headers = {
      'Webhook-Id': 'e1',
      'Webhook-Timestamp': String(Math.floor(at.getTime() / 1000)),
      'Webhook-Signature': signature,
    };
    expect(verifyWebhook(secret, body, headers).type).toBe('job.succeeded');
    expect(verifyWebhook(secret, body, new Headers(headers)).id).toBe('e1');
    expect(() => verifyWebhook(secret, body.replace('succeeded', 'failed'), headers)).toThrow();
  });
});
