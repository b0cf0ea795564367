import { QuarryEvent } from '@quarry/contracts';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { GatewayHarness, type UploadBody } from '../testing/gateway-harness';
import { readSse, type SseEvent } from '@quarry/testing';
import { WebhookSender } from '../webhooks/webhook-sender';
import { EventRelay } from './event-relay';
import { EventsController } from './events.controller';

/** A webhook receiver on loopback: answers each path from a script of statuses (the last one repeats). */
class Receiver {
  readonly posts: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
  private readonly scripts = new Map<string, number[]>();
  private server!: Server;
  port = 0;

  script(path: string, statuses: number[]): string {
    this.scripts.set(path, [...statuses]);
    return `http://127.0.0.1:${this.port}${path}`;
  }

  postsTo(path: string) {
    return this.posts.filter((p) => p.path === path);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.posts.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        const script = this.scripts.get(path) ?? [404];
        const status = script.length > 1 ? (script.shift() as number) : (script[0] as number);
        res.writeHead(status, { 'content-type': 'text/plain' }).end(`answer ${status}`);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function until<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** An event's body as the catalogue reads it; job and document events name their job. */
function body(e: SseEvent): QuarryEvent & { jobId?: string } {
  return QuarryEvent.parse(JSON.parse(e.data));
}

describe('public events, live streams and webhooks (ADR 30)', () => {
  let h: GatewayHarness;
  let port: number;
  const receiver = new Receiver();

  beforeAll(async () => {
    await receiver.start();
    h = await GatewayHarness.start('events', {
      WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
      WEBHOOK_RETRY_SCHEDULE_MS: '50,50,50,50',
      EVENTS_RELAY_MIN_INTERVAL_MS: '100',
      SSE_HEARTBEAT_MS: '200',
    });
    port = await h.listen();
  });

  afterAll(async () => {
    await h?.close();
    await receiver.stop();
  });

  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  /** Uploads two files and walks the job through every status as the workers would, one statement at a time. */
  async function runJob(apiKey = h.apiKey, options: { progressSteps?: number } = {}): Promise<string> {
    const up = await h.upload<UploadBody>(
      [
        { filename: 'a.txt', content: 'alpha' },
        { filename: 'b.txt', content: 'beta' },
      ],
      { apiKey },
    );
    expect(up.status).toBe(202);
    const jobId = up.body.id;
    const sql = (text: string, values: unknown[] = [jobId]) => h.pg.query(text, values);
    await sql(`UPDATE jobs SET status = 'running', started_at = now() WHERE id = $1`);
    for (const status of ['extracting', 'extracted', 'indexing', 'indexed']) {
      await sql(`UPDATE documents SET status = $2::document_status WHERE job_id = $1`, [jobId, status]);
    }
    for (let i = 1; i <= (options.progressSteps ?? 2); i++) {
      await sql(
        `UPDATE jobs SET progress = jsonb_build_object('step', 'index', 'done', $2::int) WHERE id = $1`,
        [jobId, i],
      );
    }
    await sql(`UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = $1`);
    return jobId;
  }

  const published = async (jobId: string) =>
    (
      await h.pg.query<{ type: string; stream_seq: string }>(
        `SELECT type, stream_seq FROM events WHERE job_id = $1 AND stream_seq IS NOT NULL ORDER BY id`,
        [jobId],
      )
    ).rows;

  it("streams a job's every state change in order, each with an id, and ends at its terminal event", async () => {
    const jobId = await runJob();
    const read = await readSse(`http://127.0.0.1:${port}/v1/jobs/${jobId}/events`, {
      headers: auth(h.apiKey),
    });
    expect(read.status).toBe(200);
    expect(read.endedByServer).toBe(true);
    const types = read.events.map((e) => e.event);
    expect(types[0]).toBe('job.queued');
    expect(types.at(-1)).toBe('job.succeeded');
    for (const status of ['queued', 'extracting', 'extracted', 'indexing', 'indexed']) {
      expect(types.filter((t) => t === `document.${status}`)).toHaveLength(2);
    }
    expect(types).toContain('job.running');
    // Exactly what the relay published for the job, in stream order, each id its stream sequence.
    const rows = await published(jobId);
    expect(read.events.map((e) => [e.event, e.id])).toEqual(rows.map((r) => [r.type, r.stream_seq]));
    for (const e of read.events) {
      const body = QuarryEvent.parse(JSON.parse(e.data));
      expect(body.tenantId).toBe(h.tenantId);
      expect(body.type).toBe(e.event);
    }
  });

  it('resumes after a reconnect with Last-Event-ID: nothing missed, nothing twice', async () => {
    const jobId = await runJob();
    const url = `http://127.0.0.1:${port}/v1/jobs/${jobId}/events`;
    const whole = await readSse(url, { headers: auth(h.apiKey) });
    const first = await readSse(url, { headers: auth(h.apiKey), stopAfter: (_, all) => all.length === 4 });
    expect(first.endedByServer).toBe(false);
    const rest = await readSse(url, {
      headers: { ...auth(h.apiKey), 'last-event-id': first.events[3]?.id ?? '' },
    });
    const joined = [...first.events, ...rest.events].map((e: SseEvent) => `${e.id}:${e.event}`);
    expect(joined).toEqual(whole.events.map((e) => `${e.id}:${e.event}`));
    expect(new Set(joined).size).toBe(joined.length);
    // A reconnect after the last event ends at once.
    const after = await readSse(url, {
      headers: { ...auth(h.apiKey), 'last-event-id': whole.events.at(-1)?.id ?? '' },
    });
    expect(after.events).toEqual([]);
    expect(after.endedByServer).toBe(true);
  });

  it("coalesces a busy job's progress and keeps its last", async () => {
    const jobId = await runJob(h.apiKey, { progressSteps: 40 });
    await until('the job published', async () =>
      (await published(jobId)).some((r) => r.type === 'job.succeeded'),
    );
    const { rows } = await h.pg.query<{ written: number; sent: number }>(
      `SELECT count(*)::int AS written, count(stream_seq)::int AS sent FROM events
       WHERE job_id = $1 AND type = 'job.progress' AND published_at IS NOT NULL`,
      [jobId],
    );
    expect(rows[0]?.written).toBe(40);
    expect(rows[0]?.sent).toBeLessThan(40);
    const read = await readSse(`http://127.0.0.1:${port}/v1/jobs/${jobId}/events`, {
      headers: auth(h.apiKey),
    });
    const final = QuarryEvent.parse(JSON.parse(read.events.at(-1)?.data ?? '{}'));
    expect(final.type).toBe('job.succeeded');
    expect(final.data).toMatchObject({ progress: { done: 40 } });
  });

  it("serves the tenant's stream filtered by type, and another tenant sees none of it", async () => {
    const other = await h.createTenant('events-other');
    const mine = await runJob();
    const theirs = await runJob(other.apiKey);
    const url = `http://127.0.0.1:${port}/v1/events?type=job.succeeded`;
    const ours = await readSse(url, {
      headers: { ...auth(h.apiKey), 'last-event-id': '0' },
      stopAfter: (e) => body(e).jobId === mine,
    });
    expect(ours.events.every((e) => e.event === 'job.succeeded')).toBe(true);
    expect(ours.events.map((e) => body(e).tenantId)).not.toContain(other.tenantId);
    const b = await readSse(`http://127.0.0.1:${port}/v1/events?type=job.*,document.indexed`, {
      headers: { ...auth(other.apiKey), 'last-event-id': '0' },
      stopAfter: (e) => e.event === 'job.succeeded',
    });
    expect(new Set(b.events.map((e) => body(e).jobId))).toEqual(new Set([theirs]));
    expect(b.events.some((e) => e.event === 'document.indexed')).toBe(true);
    expect(b.events.some((e) => e.event?.startsWith('document.') && e.event !== 'document.indexed')).toBe(
      false,
    );
    // Another tenant's job does not exist for this key.
    const foreign = await readSse(`http://127.0.0.1:${port}/v1/jobs/${mine}/events`, {
      headers: auth(other.apiKey),
    });
    expect(foreign.status).toBe(404);
    const bad = await h.request('GET', '/v1/events?type=job.nonsense');
    expect(bad.status).toBe(400);
  });

  it('posts signed events to a webhook, retries a failing receiver and delivers exactly once more', async () => {
    const url = receiver.script('/hook', [500, 500, 500, 200]);
    const created = await h.request<{ id: string; secret: string }>('POST', '/v1/webhooks', {
      payload: { url, events: ['job.succeeded'], description: 'ci' },
    });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_/);
    const listed = await h.request<{ items: Record<string, unknown>[] }>('GET', '/v1/webhooks');
    expect(listed.body.items.map((w) => w['id'])).toContain(created.body.id);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.secret);

    const jobId = await runJob();
    type Deliveries = {
      items: {
        id: string;
        status: string;
        eventType: string;
        attemptLog: { responseStatus: number | null }[];
      }[];
    };
    const deliveries = await until('the delivery to succeed', async () => {
      const r = await h.request<Deliveries>('GET', `/v1/webhooks/${created.body.id}/deliveries`);
      return r.body.items[0]?.status === 'succeeded' ? r.body.items : null;
    });
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]?.attemptLog.map((a) => a.responseStatus)).toEqual([500, 500, 500, 200]);
    const posts = receiver.postsTo('/hook');
    expect(posts).toHaveLength(4);
    const verifier = new Webhook(created.body.secret);
    for (const p of posts) {
      const event = QuarryEvent.parse(verifier.verify(p.body, p.headers as Record<string, string>));
      expect(event).toMatchObject({ type: 'job.succeeded', jobId });
      expect(p.headers['webhook-id']).toBe(event.id);
    }
    // Counted by result for the dashboard and the QuarryWebhooksFailing alert.
    const metrics = (await h.request('GET', '/metrics', { apiKey: null })).text;
    const count = (result: string) =>
      Number(
        new RegExp(`^quarry_webhook_attempts_total\\{[^}]*result="${result}"[^}]*\\} (\\d+)`, 'm').exec(
          metrics,
        )?.[1],
      );
    expect(count('http_error')).toBeGreaterThanOrEqual(3);
    expect(count('ok')).toBeGreaterThanOrEqual(1);
    // Nothing is due any more: a round posts nothing and the receiver got no fifth post.
    expect(await h.app.get(WebhookSender).round()).toBe(0);
    expect(receiver.postsTo('/hook')).toHaveLength(4);

    // A replay posts it once more, with the same id.
    const replay = await h.request(
      'POST',
      `/v1/webhooks/${created.body.id}/deliveries/${deliveries[0]?.id}/replay`,
    );
    expect(replay.status).toBe(202);
    await until('the replay', () => receiver.postsTo('/hook').length === 5);
    expect(receiver.postsTo('/hook')[4]?.headers['webhook-id']).toBe(posts[0]?.headers['webhook-id']);
    await h.request('DELETE', `/v1/webhooks/${created.body.id}`);
  });

  it('signs with both secrets during a rotation overlap', async () => {
    const url = receiver.script('/rotated', [200]);
    const created = await h.request<{ id: string; secret: string }>('POST', '/v1/webhooks', {
      payload: { url, events: ['job.*'] },
    });
    const rotated = await h.request<{ secret: string }>(
      'POST',
      `/v1/webhooks/${created.body.id}/rotate-secret`,
    );
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    await runJob();
    const post = await until('a post', () => receiver.postsTo('/rotated')[0]);
    for (const secret of [created.body.secret, rotated.body.secret]) {
      expect(() =>
        new Webhook(secret).verify(post.body, post.headers as Record<string, string>),
      ).not.toThrow();
    }
    await h.request('DELETE', `/v1/webhooks/${created.body.id}`);
  });

  it('disables an endpoint after a day of failures and says so in an event', async () => {
    const url = receiver.script('/down', [503]);
    const created = await h.request<{ id: string }>('POST', '/v1/webhooks', {
      payload: { url, events: ['job.succeeded'] },
    });
    await runJob();
    await until('a failed attempt', () => receiver.postsTo('/down').length >= 1);
    // As if it had been failing since yesterday: its next failure disables it.
    await h.pg.query(`UPDATE webhooks SET failing_since = now() - interval '25 hours' WHERE id = $1`, [
      created.body.id,
    ]);
    const hook = await until('the endpoint disabled', async () => {
      const r = await h.request<{ enabled: boolean; disabledReason: string | null }>(
        'GET',
        `/v1/webhooks/${created.body.id}`,
      );
      return r.body.enabled ? null : r.body;
    });
    expect(hook.disabledReason).toMatch(/failed/);
    const stream = await readSse(`http://127.0.0.1:${port}/v1/events?type=webhook.disabled`, {
      headers: { ...auth(h.apiKey), 'last-event-id': '0' },
      stopAfter: () => true,
    });
    expect(JSON.parse(stream.events[0]?.data ?? '{}')).toMatchObject({
      type: 'webhook.disabled',
      webhookId: created.body.id,
    });
  });

  it('keeps an idle stream open with a heartbeat comment every SSE_HEARTBEAT_MS', async () => {
    const started = Date.now();
    const read = await readSse(`http://127.0.0.1:${port}/v1/events?type=webhook.disabled`, {
      headers: auth(h.apiKey),
      stopAfterComments: 2,
    });
    expect(read.status).toBe(200);
    expect(read.comments).toBe(2);
    expect(read.endedByServer).toBe(false);
    // Two heartbeats 200 ms apart in this harness: not sent all at once.
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('ends open streams when the gateway shuts down, so it does not wait for clients that never leave', async () => {
    const up = await h.upload<UploadBody>([{ filename: 'open.txt', content: 'still running' }]);
    const reading = readSse(`http://127.0.0.1:${port}/v1/jobs/${up.body.id}/events`, {
      headers: auth(h.apiKey),
    });
    const controller = h.app.get(EventsController);
    await until('the stream to be served', () => controller.openStreams() > 0);
    controller.beforeApplicationShutdown();
    const read = await reading;
    expect(read.endedByServer).toBe(true);
    expect(controller.openStreams()).toBe(0);
  });

  it('deletes published events past their retention', async () => {
    const jobId = await runJob();
    await until('the job published', async () =>
      (await published(jobId)).some((r) => r.type === 'job.succeeded'),
    );
    const { rows } = await h.pg.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events WHERE job_id = $1`,
      [jobId],
    );
    const relay = h.app.get(EventRelay);
    // A day and an hour from now, everything published so far is past a day's retention.
    const deleted = await relay.prune(new Date(Date.now() + 25 * 3600_000));
    expect(deleted).toBeGreaterThanOrEqual(rows[0]?.n ?? 1);
    const left = await h.pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE job_id = $1`, [
      jobId,
    ]);
    expect(left.rows[0]?.n).toBe(0);
  });

  it('refuses webhook URLs on private addresses, and hides one tenant’s webhooks from another', async () => {
    for (const url of ['http://169.254.169.254/latest', 'http://10.1.2.3/hook', 'ftp://127.0.0.1/x']) {
      const r = await h.request<{ code: string; message: string }>('POST', '/v1/webhooks', {
        payload: { url, events: ['*'] },
      });
      expect([r.status, r.body.code]).toEqual([422, 'url_forbidden']);
      // A private address can be allowed by an operator, and the refusal says how; a scheme cannot.
      expect(r.body.message.includes('WEBHOOK_ALLOW_HOSTS')).toBe(url.startsWith('http:'));
    }
    const bad = await h.request<{ code: string }>('POST', '/v1/webhooks', {
      payload: { url: receiver.script('/x', [200]), events: ['job.nonsense'] },
    });
    expect(bad.status).toBe(400);
    const created = await h.request<{ id: string }>('POST', '/v1/webhooks', {
      payload: { url: receiver.script('/mine', [200]), events: ['*'] },
    });
    const other = await h.createTenant('webhooks-other');
    const id = created.body.id;
    for (const [method, path] of [
      ['GET', `/v1/webhooks/${id}`],
      ['PATCH', `/v1/webhooks/${id}`],
      ['DELETE', `/v1/webhooks/${id}`],
      ['GET', `/v1/webhooks/${id}/deliveries`],
      ['POST', `/v1/webhooks/${id}/rotate-secret`],
    ] as const) {
      const r = await h.request(method, path, {
        apiKey: other.apiKey,
        ...(method === 'PATCH' ? { payload: { enabled: false } } : {}),
      });
      expect([method, path, r.status]).toEqual([method, path, 404]);
    }
    const theirs = await h.request<{ items: unknown[] }>('GET', '/v1/webhooks', { apiKey: other.apiKey });
    expect(theirs.body.items).toEqual([]);
    expect((await h.request<{ enabled: boolean }>('GET', `/v1/webhooks/${id}`)).body.enabled).toBe(true);
  });
});
