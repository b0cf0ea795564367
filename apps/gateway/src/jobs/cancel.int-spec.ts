import { JobEvent, MessageIds, uuidv7 } from '@quarry/contracts';
import { NatsCancellationWatch } from '@quarry/messaging';
import { ExtractionRepository, JobControlRepository } from '@quarry/persistence';
import { createLogger } from '@quarry/telemetry';
import { waitFor } from '@quarry/testing';
import { GatewayHarness, type ErrorBody, type UploadBody } from '../testing/gateway-harness';

// POST /v1/jobs/:id/cancel on the real gateway, PostgreSQL and NATS (no workers run: every job stays
// queued until a test moves it with SQL).

interface JobBody {
  id: string;
  status: string;
  finishedAt: string | null;
  position: number | null;
  documents: { id: string; status: string }[];
}

let h: GatewayHarness;
let watch: NatsCancellationWatch;

beforeAll(async () => {
  h = await GatewayHarness.start('cancel');
  // What a worker runs: a core-NATS subscriber to the cancelled events.
  watch = new NatsCancellationWatch(
    h.ns.nc,
    h.ns.topology,
    createLogger({ level: 'silent', pretty: false, app: 't' }),
  );
  watch.onModuleInit();
});
afterAll(async () => {
  watch?.beforeApplicationShutdown();
  await h?.close();
});

async function upload(files: number, apiKey?: string): Promise<UploadBody> {
  const res = await h.upload(
    Array.from({ length: files }, (_, i) => ({
      filename: `c-${i}.txt`,
      content: `cancel me ${i} ${uuidv7()}`,
    })),
    apiKey ? { apiKey } : {},
  );
  expect(res.status).toBe(202);
  return res.body;
}

async function cancelledEvents(jobId: string) {
  const all = await h.streamMessages(h.ns.topology.eventsStream, h.ns.topology.eventSubject('cancelled'));
  return all.filter((m) => m.json<{ jobId?: string }>().jobId === jobId);
}

describe('POST /v1/jobs/:id/cancel', () => {
  it('cancels a queued job and its documents, logs it, and publishes events.job.cancelled', async () => {
    const job = await upload(2);

    const res = await h.request<JobBody>('POST', `/v1/jobs/${job.id}/cancel`);

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: job.id, status: 'cancelled' });
    expect(res.body.finishedAt).not.toBeNull();
    expect(res.body.documents.map((d) => d.status)).toEqual(['cancelled', 'cancelled']);

    const { rows: events } = await h.pg.query<{ from_status: string; to_status: string }>(
      `SELECT from_status, to_status FROM job_events WHERE job_id = $1 AND to_status = 'cancelled'`,
      [job.id],
    );
    expect(events).toEqual([{ from_status: 'queued', to_status: 'cancelled' }]);
    const { rows: steps } = await h.pg.query<{ status: string }>(
      'SELECT DISTINCT status FROM job_steps WHERE job_id = $1',
      [job.id],
    );
    expect(steps).toEqual([{ status: 'cancelled' }]);

    const [message, ...more] = await waitFor(async () => {
      const found = await cancelledEvents(job.id);
      return found.length > 0 ? found : null;
    });
    expect(more).toEqual([]);
    expect(message!.header?.get('Nats-Msg-Id')).toBe(MessageIds.jobEvent(job.id, 'cancelled'));
    const event = JobEvent.parse(message!.json());
    expect(event).toMatchObject({
      jobId: job.id,
      tenantId: h.tenantId,
      status: 'cancelled',
      documents: { total: 2, succeeded: 0, failed: 0 },
    });
    // A worker's watch heard it too (core subscribers see what goes into the stream).
    await waitFor(() => watch.isCancelled(job.id), { description: 'the watch to hear the cancellation' });

    // Marked sent by the relay after the publish; the mark does not hold up the request.
    await waitFor(
      async () => {
        const { rows } = await h.pg.query<{ sent: boolean }>(
          `SELECT sent_at IS NOT NULL AS sent FROM outbox WHERE msg_id = $1`,
          [MessageIds.jobEvent(job.id, 'cancelled')],
        );
        return rows.length === 1 && rows[0]?.sent;
      },
      { description: 'the cancelled event to be marked sent' },
    );
  });

  it('keeps what a running job already finished and cancels the rest', async () => {
    const job = await upload(2);
    const [done, open] = job.documents;
    await h.pg.query(`UPDATE jobs SET status = 'running', started_at = now() WHERE id = $1`, [job.id]);
    await h.pg.query(`UPDATE documents SET status = 'indexed' WHERE id = $1`, [done!.id]);
    await h.pg.query(`UPDATE documents SET status = 'extracting' WHERE id = $1`, [open!.id]);

    const res = await h.request<JobBody>('POST', `/v1/jobs/${job.id}/cancel`);

    expect(res.status).toBe(200);
    expect(res.body.status).toBe('cancelled');
    expect(Object.fromEntries(res.body.documents.map((d) => [d.id, d.status]))).toEqual({
      [done!.id]: 'indexed',
      [open!.id]: 'cancelled',
    });
    const [message] = await waitFor(async () => {
      const found = await cancelledEvents(job.id);
      return found.length > 0 ? found : null;
    });
    expect(JobEvent.parse(message!.json()).documents).toEqual({ total: 2, succeeded: 1, failed: 0 });
  });

  it('leaves nothing for a worker to do afterwards: claims refuse and completions write nothing', async () => {
    const job = await upload(1);
    const documentId = job.documents[0]!.id;
    // A worker claimed the document before the cancel arrived.
    const extraction = h.app.get(ExtractionRepository);
    const jobControl = h.app.get(JobControlRepository);
    const claim = await extraction.claimForExtraction(h.tenantId, documentId);
    expect(claim.claimed).toBe(true);

    expect((await h.request('POST', `/v1/jobs/${job.id}/cancel`)).status).toBe(200);

    if (!claim.claimed) throw new Error('unreachable');
    const next = {
      tenantId: h.tenantId,
      jobId: job.id,
      subject: 'x',
      msgId: uuidv7(),
      payload: {},
      headers: {},
    };
    await expect(
      extraction.completeExtraction(
        claim.work,
        { detectedType: 'text', pages: [{ pageNumber: 1, text: 'late' }] },
        next,
      ),
    ).resolves.toBeNull();
    await expect(extraction.claimForExtraction(h.tenantId, documentId)).resolves.toEqual({
      claimed: false,
      reason: 'job_finished',
    });
    await expect(
      jobControl.failDocument(
        { tenantId: h.tenantId, jobId: job.id, documentId },
        { code: 'internal', message: 'x' },
      ),
    ).resolves.toEqual([]);
    const { rows } = await h.pg.query<{ status: string; pages: number; outbox: number }>(
      `SELECT d.status::text AS status,
              (SELECT count(*)::int FROM pages WHERE document_id = d.id) AS pages,
              (SELECT count(*)::int FROM outbox WHERE msg_id = $2) AS outbox
       FROM documents d WHERE d.id = $1`,
      [documentId, next.msgId],
    );
    expect(rows).toEqual([{ status: 'cancelled', pages: 0, outbox: 0 }]);
  });

  it('answers 409 conflict for a job that already finished, and changes nothing', async () => {
    const job = await upload(1);
    expect((await h.request('POST', `/v1/jobs/${job.id}/cancel`)).status).toBe(200);

    const again = await h.request<ErrorBody>('POST', `/v1/jobs/${job.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('conflict');
    expect(again.body.message).toContain('cancelled');

    const succeeded = await upload(1);
    await h.pg.query(`UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = $1`, [
      succeeded.id,
    ]);
    const res = await h.request<ErrorBody>('POST', `/v1/jobs/${succeeded.id}/cancel`);
    expect(res.status).toBe(409);
    expect(res.body.message).toContain('succeeded');
    const { rows } = await h.pg.query<{ status: string }>('SELECT status::text FROM jobs WHERE id = $1', [
      succeeded.id,
    ]);
    expect(rows).toEqual([{ status: 'succeeded' }]);
    expect(await cancelledEvents(succeeded.id)).toEqual([]);
  });

  it("answers 404 for another tenant's job and leaves it running", async () => {
    const other = await h.createTenant('cancel-other');
    const job = await upload(1, other.apiKey);

    const res = await h.request<ErrorBody>('POST', `/v1/jobs/${job.id}/cancel`);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
    const { rows } = await h.pg.query<{ status: string }>('SELECT status::text FROM jobs WHERE id = $1', [
      job.id,
    ]);
    expect(rows).toEqual([{ status: 'queued' }]);

    expect((await h.request('POST', `/v1/jobs/${uuidv7()}/cancel`)).status).toBe(404);
    expect((await h.request<ErrorBody>('POST', '/v1/jobs/not-a-uuid/cancel')).body.code).toBe(
      'validation_failed',
    );
  });
});

describe('GET /v1/jobs/:id position', () => {
  it('counts the queued jobs created before a queued job, and moves up when one ahead is cancelled', async () => {
    const first = await upload(1);
    const second = await upload(1);
    const get = async (id: string) => (await h.request<JobBody>('GET', `/v1/jobs/${id}`)).body;

    const p1 = (await get(first.id)).position;
    const p2 = (await get(second.id)).position;
    expect(typeof p1).toBe('number');
    expect(p2).toBe(p1! + 1);

    await h.request('POST', `/v1/jobs/${first.id}/cancel`);
    expect((await get(second.id)).position).toBe(p1);
    expect((await get(first.id)).position).toBeNull();
  });
});
