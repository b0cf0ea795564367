import {
  CommandConsumer,
  dlqRecorderConsumerName,
  JetStreamPublisher,
  Outcome,
  QuarryHeaders,
  type CommandHandler,
} from '@quarry/messaging';
import { DeadLettersRepository, type NewDeadLetter } from '@quarry/persistence';
import { uuidv7 } from '@quarry/contracts';
import { waitFor } from '@quarry/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import pino from 'pino';
import { GatewayHarness, type ErrorBody, type UploadBody } from '../testing/gateway-harness';
import { DeadLetterRecorder } from './dead-letter-recorder';

interface DeadLetterBody {
  id: string;
  command: string;
  code: string;
  reason: string;
  jobId: string | null;
  documentId: string | null;
  originSubject: string;
  originMsgId: string;
  deliveryCount: number;
  dlqStreamSeq: number;
  traceId: string | null;
  payload: unknown;
  createdAt: string;
  replayedAt: string | null;
  replayCount: number;
  lastReplayJobId: string | null;
}
interface Page {
  items: DeadLetterBody[];
  nextCursor: string | null;
}
interface DeadLetterRow {
  id: string;
  tenant_id: string | null;
  job_id: string | null;
  document_id: string | null;
  command: string;
  code: string;
  reason: string;
  delivery_count: number;
  origin_subject: string;
  origin_msg_id: string;
  dlq_stream_seq: string;
}

const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
let h: GatewayHarness;
let other: { tenantId: string; apiKey: string };
/** The dead letter recorded from a real consumer in the first test; replayed later. */
let ingestDeadLetter: { id: string; jobId: string; documentId: string };

beforeAll(async () => {
  h = await GatewayHarness.start('dlq');
  other = await h.createTenant('other');
});
afterAll(async () => {
  await h?.close();
});

async function uploadOne(filename: string, content = `text of ${filename}`) {
  const res = await h.upload<UploadBody>([{ filename, content }]);
  expect(res.status).toBe(202);
  return { jobId: res.body.id, documentId: res.body.documents[0]?.id as string };
}

async function rowsFor(documentId: string): Promise<DeadLetterRow[]> {
  const { rows } = await h.pg.query<DeadLetterRow>('SELECT * FROM dead_letters WHERE document_id = $1', [
    documentId,
  ]);
  return rows;
}

async function documentOf(id: string) {
  const { rows } = await h.pg.query<{ status: string; error: { code: string } | null; blob_key: string }>(
    'SELECT status::text, error, blob_key, sha256, size_bytes, filename FROM documents WHERE id = $1',
    [id],
  );
  return rows[0];
}

async function jobStatus(id: string): Promise<string | undefined> {
  const { rows } = await h.pg.query<{ status: string }>('SELECT status::text FROM jobs WHERE id = $1', [id]);
  return rows[0]?.status;
}

let seq = 1_000_000;
/** A dead letter written straight into the table, as the recorder would. */
async function recordDirectly(d: Partial<NewDeadLetter>): Promise<string> {
  const repo = h.app.get(DeadLettersRepository);
  const { id } = await repo.record({
    id: uuidv7(),
    tenantId: h.tenantId,
    jobId: null,
    documentId: null,
    command: 'ingestDocument',
    originSubject: h.ns.topology.commandSubject('ingestDocument'),
    originMsgId: `m-${seq}`,
    dlqStreamSeq: seq++,
    code: 'internal',
    reason: 'made by the test',
    deliveryCount: 1,
    traceparent: null,
    payload: {},
    createdAt: new Date(),
    ...d,
  });
  return id;
}

describe('recording dead letters', () => {
  it('records a dead letter of a real consumer once, and fails the document its dead worker never failed', async () => {
    const { jobId, documentId } = await uploadOne('broken.pdf');
    // A handler without onDeadLetter: as if the worker died right after the dead letter was published.
    const handler: CommandHandler<'ingestDocument'> = {
      handle: () => Promise.resolve(Outcome.deadLetter({ code: 'corrupt_pdf', message: 'not a PDF at all' })),
    };
    const consumer = new CommandConsumer(
      'ingestDocument',
      h.ns.nc,
      h.ns.topology,
      handler,
      new JetStreamPublisher(h.ns.nc),
      {
        concurrency: 1,
        ackWaitMs: 3000,
        maxDeliver: 3,
        retryBaseDelayMs: 50,
        retryMaxDelayMs: 200,
        pullExpiresMs: 1000,
      },
      logger,
    );
    await consumer.start();
    let row: DeadLetterRow;
    try {
      row = await waitFor(async () => (await rowsFor(documentId))[0], { description: 'dead letter row' });
    } finally {
      await consumer.stop(2000);
    }
    expect(row).toMatchObject({
      tenant_id: h.tenantId,
      job_id: jobId,
      command: 'ingestDocument',
      code: 'corrupt_pdf',
      reason: 'not a PDF at all',
      delivery_count: 1,
      origin_subject: h.ns.topology.commandSubject('ingestDocument'),
      origin_msg_id: `${jobId}:ingestDocument:${documentId}:0`,
    });
    await waitFor(async () => (await documentOf(documentId))?.status === 'failed', {
      description: 'document failed by the recorder',
    });
    expect((await documentOf(documentId))?.error?.code).toBe('corrupt_pdf');
    expect(await jobStatus(jobId)).toBe('failed');

    // Recorded again (a redelivery to the recorder, another replica): still one row, same id.
    const jsm = await jetstreamManager(h.ns.nc);
    const stored = await jsm.streams.getMessage(h.ns.topology.dlqStream, { seq: Number(row.dlq_stream_seq) });
    expect(stored).not.toBeNull();
    const again = await h.app.get(DeadLetterRecorder).record({
      subject: stored!.subject,
      seq: stored!.seq,
      time: stored!.time,
      header: (n) => stored!.header.get(n) || undefined,
      data: stored!.data,
    });
    expect(again).toEqual({ id: row.id, inserted: false });
    expect(await rowsFor(documentId)).toHaveLength(1);
    ingestDeadLetter = { id: row.id, jobId, documentId };
  });

  it('dead-letters a message stranded by the MAX_DELIVERIES advisory when the worker died on its last delivery', async () => {
    const { jobId, documentId } = await uploadOne('stranded.txt');
    const t = h.ns.topology;
    const durable = t.consumerName('ingestDocument');
    const jsm = await jetstreamManager(h.ns.nc);
    const { config } = await jsm.consumers.info(t.jobsStream, durable);
    await jsm.consumers.update(t.jobsStream, durable, { ack_wait: 400_000_000 });
    try {
      const raw = await jetstream(h.ns.nc).consumers.get(t.jobsStream, durable);
      const deliveries: number[] = [];
      for (let i = 0; i < (config.max_deliver ?? 0); i++) {
        const m = await raw.next({ expires: 5000 });
        expect(m?.json<{ documentId: string }>().documentId).toBe(documentId);
        deliveries.push(m!.info.deliveryCount); // abandoned: no ack, as a crashed worker would
      }
      expect(deliveries).toEqual([1, 2, 3, 4]);
      // NATS 2.9 sends the advisory when a pull is waiting after the last delivery's ack wait ran out,
      // as it always is while workers run; the message itself is never delivered again.
      const pull = raw.next({ expires: 3000 });
      const row = await waitFor(async () => (await rowsFor(documentId))[0], {
        description: 'dead letter of the stranded message',
      });
      expect(await pull).toBeNull();
      expect(row).toMatchObject({
        job_id: jobId,
        command: 'ingestDocument',
        code: 'delivery_exhausted',
        delivery_count: 4,
        origin_subject: t.commandSubject('ingestDocument'),
        origin_msg_id: `${jobId}:ingestDocument:${documentId}:0`,
      });
      expect(row.reason).toMatch(/worker died or stalled on its last delivery/);
      await waitFor(async () => (await documentOf(documentId))?.status === 'failed', {
        description: 'stranded document failed',
      });
      expect((await documentOf(documentId))?.error?.code).toBe('delivery_exhausted');
      expect(await jobStatus(jobId)).toBe('failed');
      await waitFor(async () => (await h.ingestCommands(jobId)).length === 0, {
        description: 'stranded message removed from the work queue',
      });
    } finally {
      await jsm.consumers.update(t.jobsStream, durable, { ack_wait: config.ack_wait });
    }
  });
});

describe('recording what is not a Quarry command', () => {
  it('records a DLQ message that is not JSON and names no tenant, NUL bytes and all', async () => {
    const { seq: dlqSeq } = await new JetStreamPublisher(h.ns.nc).publish(
      h.ns.topology.dlqSubject('indexDocument'),
      new TextEncoder().encode('\u0000garbage'),
      { msgId: 'raw-garbage' },
    );
    const { rows } = await waitFor(
      async () => {
        const r = await h.pg.query<DeadLetterRow & { payload: unknown }>(
          'SELECT * FROM dead_letters WHERE dlq_stream_seq = $1',
          [dlqSeq],
        );
        return r.rows.length > 0 ? r : null;
      },
      { description: 'garbage recorded' },
    );
    expect(rows[0]).toMatchObject({
      tenant_id: null,
      job_id: null,
      document_id: null,
      command: 'indexDocument',
      code: 'internal',
      origin_msg_id: 'raw-garbage',
      payload: '\ufffdgarbage',
    });
  });
});

describe('GET /v1/dead-letters', () => {
  it('pages newest first with a cursor, filters by job, and shows another tenant nothing', async () => {
    const pager = await h.createTenant('dlq-pager');
    const jobA = uuidv7();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        await recordDirectly({
          tenantId: pager.tenantId,
          jobId: i < 2 ? jobA : uuidv7(),
          documentId: uuidv7(),
          // Two share a millisecond: the id breaks the tie, as in the job list.
          createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i === 4 ? 3 : i)),
        }),
      );
    }
    const pages: DeadLetterBody[][] = [];
    let cursor: string | null = null;
    do {
      const res: Awaited<ReturnType<typeof h.request<Page>>> = await h.request<Page>(
        'GET',
        '/v1/dead-letters',
        {
          apiKey: pager.apiKey,
          query: { limit: '2', ...(cursor ? { cursor } : {}) },
        },
      );
      expect(res.status).toBe(200);
      pages.push(res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor && pages.length < 10);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat().map((d) => d.id)).toEqual([ids[4], ids[3], ids[2], ids[1], ids[0]]);

    const byJob = await h.request<Page>('GET', '/v1/dead-letters', {
      apiKey: pager.apiKey,
      query: { jobId: jobA },
    });
    expect(byJob.body.items.map((d) => d.id)).toEqual([ids[1], ids[0]]);

    const foreign = await h.request<Page>('GET', '/v1/dead-letters', { apiKey: other.apiKey });
    expect(foreign.status).toBe(200);
    expect(foreign.body.items).toEqual([]);
  });

  it.each([
    ['a garbage cursor', { cursor: 'garbage' }],
    ['a job id that is not a UUID', { jobId: 'nope' }],
    ['limit=0', { limit: '0' }],
    ['an unknown parameter', { status: 'failed' }],
  ])('answers 400 validation_failed for %s', async (_name, query) => {
    const res = await h.request<ErrorBody>('GET', '/v1/dead-letters', { query });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
  });

  it('answers one dead letter to its tenant and 404 to another tenant or an unknown id', async () => {
    const own = await h.request<DeadLetterBody>('GET', `/v1/dead-letters/${ingestDeadLetter.id}`);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({
      id: ingestDeadLetter.id,
      command: 'ingestDocument',
      code: 'corrupt_pdf',
      jobId: ingestDeadLetter.jobId,
      documentId: ingestDeadLetter.documentId,
      replayCount: 0,
      replayedAt: null,
      payload: { v: 1, jobId: ingestDeadLetter.jobId, documentId: ingestDeadLetter.documentId },
    });
    expect(own.body.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(own.body).not.toHaveProperty('tenantId');
    for (const [url, key] of [
      [`/v1/dead-letters/${ingestDeadLetter.id}`, other.apiKey],
      [`/v1/dead-letters/${uuidv7()}`, h.apiKey],
    ] as const) {
      const res = await h.request<ErrorBody>('GET', url, { apiKey: key });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('not_found');
    }
    expect((await h.request<ErrorBody>('GET', '/v1/dead-letters/not-a-uuid')).status).toBe(400);
  });
});

describe('POST /v1/dead-letters/:id/replay', () => {
  it('replays an ingest dead letter as a new job retrying the old one, with a copy of its document', async () => {
    const res = await h.request<{ deadLetterId: string; jobId: string }>(
      'POST',
      `/v1/dead-letters/${ingestDeadLetter.id}/replay`,
    );
    expect(res.status).toBe(202);
    expect(res.body.deadLetterId).toBe(ingestDeadLetter.id);
    expect(res.headers['location']).toBe(`/v1/jobs/${res.body.jobId}`);

    const job = await h.request<{
      retryOfJobId: string;
      status: string;
      documents: { id: string; filename: string }[];
    }>('GET', `/v1/jobs/${res.body.jobId}`);
    expect(job.body).toMatchObject({ retryOfJobId: ingestDeadLetter.jobId, status: 'queued' });
    expect(job.body.documents.map((d) => d.filename)).toEqual(['broken.pdf']);
    const copyId = job.body.documents[0]?.id as string;
    expect(copyId).not.toBe(ingestDeadLetter.documentId);
    const [copy, original] = await Promise.all([documentOf(copyId), documentOf(ingestDeadLetter.documentId)]);
    expect(copy).toMatchObject({
      status: 'queued',
      blob_key: original?.blob_key,
      sha256: (original as Record<string, unknown>)['sha256'],
      size_bytes: (original as Record<string, unknown>)['size_bytes'],
    });
    expect(original?.status).toBe('failed'); // the old job and its document never change
    expect(await jobStatus(ingestDeadLetter.jobId)).toBe('failed');

    const commands = await waitFor(async () => {
      const c = await h.ingestCommands(res.body.jobId);
      return c.length === 1 ? c : null;
    });
    expect(commands[0]?.json()).toMatchObject({ jobId: res.body.jobId, documentId: copyId });

    const dl = await h.request<DeadLetterBody>('GET', `/v1/dead-letters/${ingestDeadLetter.id}`);
    expect(dl.body).toMatchObject({ replayCount: 1, lastReplayJobId: res.body.jobId });
    expect(dl.body.replayedAt).not.toBeNull();
  });

  it('answers the same job for a repeated Idempotency-Key and counts the replay once', async () => {
    const send = () =>
      h.request<{ jobId: string }>('POST', `/v1/dead-letters/${ingestDeadLetter.id}/replay`, {
        headers: { 'idempotency-key': `replay-${ingestDeadLetter.id}` },
      });
    const first = await send();
    const second = await send();
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(second.body.jobId).toBe(first.body.jobId);
    expect(second.headers['idempotent-replayed']).toBe('true');
    const dl = await h.request<DeadLetterBody>('GET', `/v1/dead-letters/${ingestDeadLetter.id}`);
    expect(dl.body).toMatchObject({ replayCount: 2, lastReplayJobId: first.body.jobId });
  });

  it('replays an index dead letter from the extracted pages, starting at index', async () => {
    const { jobId, documentId } = await uploadOne('extracted.txt');
    await h.pg.query(
      `INSERT INTO pages (tenant_id, document_id, page_number, text, char_count)
       VALUES ($1, $2, 1, 'page one', 8), ($1, $2, 2, 'page two', 8)`,
      [h.tenantId, documentId],
    );
    await h.pg.query(
      `UPDATE documents SET status = 'failed', detected_type = 'text', page_count = 2 WHERE id = $1`,
      [documentId],
    );
    const deadLetterId = await recordDirectly({
      jobId,
      documentId,
      command: 'indexDocument',
      originSubject: h.ns.topology.commandSubject('indexDocument'),
      code: 'embedding_failed',
    });
    const res = await h.request<{ jobId: string }>('POST', `/v1/dead-letters/${deadLetterId}/replay`);
    expect(res.status).toBe(202);
    const { rows: docs } = await h.pg.query<{
      id: string;
      status: string;
      page_count: number;
      detected_type: string;
    }>('SELECT id, status::text, page_count, detected_type FROM documents WHERE job_id = $1', [
      res.body.jobId,
    ]);
    expect(docs).toEqual([
      { id: expect.any(String) as unknown, status: 'extracted', page_count: 2, detected_type: 'text' },
    ]);
    const { rows: pages } = await h.pg.query<{ page_number: number; text: string }>(
      'SELECT page_number, text FROM pages WHERE document_id = $1 ORDER BY page_number',
      [docs[0]?.id],
    );
    expect(pages).toEqual([
      { page_number: 1, text: 'page one' },
      { page_number: 2, text: 'page two' },
    ]);
    const { rows: steps } = await h.pg.query<{ name: string; status: string; done: number; total: number }>(
      'SELECT name, status, done, total FROM job_steps WHERE job_id = $1 ORDER BY name',
      [res.body.jobId],
    );
    expect(steps).toEqual([
      { name: 'index', status: 'queued', done: 0, total: 1 },
      { name: 'ingest', status: 'succeeded', done: 1, total: 1 },
    ]);
    const index = await waitFor(async () => {
      const m = await h.streamMessages(
        h.ns.topology.jobsStream,
        h.ns.topology.commandSubject('indexDocument'),
      );
      return m.find((x) => x.json<{ jobId: string }>().jobId === res.body.jobId);
    });
    expect(index.json()).toMatchObject({ documentId: docs[0]?.id });
    expect(await h.ingestCommands(res.body.jobId)).toHaveLength(0);
  });

  it('answers 409 conflict for a dead letter that names no document, and 404 to another tenant', async () => {
    const invalid = await recordDirectly({ code: 'validation_failed', payload: { v: 99 } });
    const res = await h.request<ErrorBody>('POST', `/v1/dead-letters/${invalid}/replay`);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/names no job and document/) as unknown,
    });

    const foreign = await h.request<ErrorBody>('POST', `/v1/dead-letters/${ingestDeadLetter.id}/replay`, {
      apiKey: other.apiKey,
    });
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe('not_found');
  });
});

describe('the DLQ recorder consumer', () => {
  it('leaves nothing unacknowledged on the DLQ stream', async () => {
    const jsm = await jetstreamManager(h.ns.nc);
    await waitFor(async () => {
      const info = await jsm.consumers.info(h.ns.topology.dlqStream, dlqRecorderConsumerName(h.ns.topology));
      return info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq >= 3;
    });
    const headers = (await jsm.streams.getMessage(h.ns.topology.dlqStream, { seq: 2 }))?.header;
    expect(headers?.get(QuarryHeaders.dlqCode)).toBe('delivery_exhausted');
  });
});
