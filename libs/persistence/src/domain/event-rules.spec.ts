import { topology } from '@quarry/contracts';
import {
  coalesceProgress,
  deliveryVerdict,
  publishedEvent,
  shouldDisableEndpoint,
  type StoredEvent,
} from './event-rules';

const job = (jobId: string | null, type: string) => ({ jobId, type });

describe('coalesceProgress', () => {
  it("drops a job's progress that a later event of the same job makes stale, and keeps the last", () => {
    const batch = [
      job('a', 'job.progress'),
      job('b', 'job.progress'),
      job('a', 'document.indexed'),
      job('a', 'job.progress'),
      job('a', 'job.progress'),
    ];
    const { publish, coalesced } = coalesceProgress(batch);
    expect(publish).toEqual([batch[1], batch[2], batch[4]]);
    expect(coalesced).toEqual([batch[0], batch[3]]);
  });

  it('drops progress before a change of status (it carries the progress), never a status', () => {
    const batch = [job('a', 'job.progress'), job('a', 'job.succeeded'), job('a', 'job.running')];
    expect(coalesceProgress(batch).publish).toEqual([batch[1], batch[2]]);
  });

  it('keeps events without a job', () => {
    const batch = [job(null, 'webhook.disabled'), job(null, 'webhook.disabled')];
    expect(coalesceProgress(batch).publish).toEqual(batch);
  });
});

describe('publishedEvent', () => {
  const base: StoredEvent = {
    id: 1n,
    eventId: '01a2477b-19b3-70f4-88c4-219a3fba4121',
    tenantId: '00000000-0000-4000-8000-000000000001',
    scopeId: '00000000-0000-4000-8000-0000000000a1',
    jobId: '00000000-0000-4000-8000-0000000000a1',
    documentId: '00000000-0000-4000-8000-0000000000d1',
    type: 'document.indexed',
    data: { id: 'x' },
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    createdAt: new Date('2026-12-05T10:00:00Z'),
  };

  it('addresses an event by tenant, job and type, with a message id of its own', () => {
    const m = publishedEvent(topology('quarry'), base);
    expect(m.subject).toBe(
      'quarry.events.00000000-0000-4000-8000-000000000001.00000000-0000-4000-8000-0000000000a1.document.indexed',
    );
    expect(m.msgId).toBe(`event:${base.eventId}`);
    expect(m.body).toEqual({
      v: 1,
      id: base.eventId,
      type: 'document.indexed',
      tenantId: base.tenantId,
      occurredAt: '2026-12-05T10:00:00.000Z',
      jobId: base.jobId,
      documentId: base.documentId,
      data: { id: 'x' },
    });
    expect(m.headers).toEqual({ traceparent: base.traceparent });
  });

  it("names a webhook event's webhook, not a job", () => {
    const m = publishedEvent(topology('quarry'), {
      ...base,
      type: 'webhook.disabled',
      jobId: null,
      documentId: null,
      traceparent: null,
    });
    expect(m.body).toMatchObject({ webhookId: base.scopeId });
    expect(m.body).not.toHaveProperty('jobId');
    expect(m.headers).toEqual({});
  });
});

describe('deliveryVerdict', () => {
  const schedule = [60_000, 300_000];
  it('ends a delivery on a 2xx answer', () => {
    expect(deliveryVerdict(true, 3, schedule)).toEqual({ status: 'succeeded' });
  });
  it('waits the schedule after each failure, then fails', () => {
    expect(deliveryVerdict(false, 1, schedule)).toEqual({ status: 'pending', nextAttemptInMs: 60_000 });
    expect(deliveryVerdict(false, 2, schedule)).toEqual({ status: 'pending', nextAttemptInMs: 300_000 });
    expect(deliveryVerdict(false, 3, schedule)).toEqual({ status: 'failed' });
  });
});

describe('shouldDisableEndpoint', () => {
  const now = new Date('2026-12-05T12:00:00Z');
  it('disables an endpoint only after failing for the whole period', () => {
    expect(shouldDisableEndpoint(null, now, 1000)).toBe(false);
    expect(shouldDisableEndpoint(new Date(now.getTime() - 999), now, 1000)).toBe(false);
    expect(shouldDisableEndpoint(new Date(now.getTime() - 1000), now, 1000)).toBe(true);
  });
});
