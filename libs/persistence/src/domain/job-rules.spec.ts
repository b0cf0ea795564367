import { MessageIds, topology } from '@quarry/contracts';
import { finalJobError, jobEnding, jobVerdict, type JobTally } from './job-rules';

const t = topology('qt_rules');
const tally = (over: Partial<JobTally> = {}): JobTally => ({
  id: '01a24300-0000-7000-8000-000000000001',
  tenant_id: '01a24300-0000-7000-8000-0000000000aa',
  type: 'ingest',
  status: 'running',
  trace_id: 'a'.repeat(32),
  traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
  ok: 2,
  failed: 0,
  total: 2,
  ...over,
});

describe('jobVerdict', () => {
  it('waits while a document is open or a crawler may still deliver pages', () => {
    expect(jobVerdict({ open: 1, ok: 1, failed: 0, total: 2 }, false)).toBeNull();
    expect(jobVerdict({ open: 0, ok: 2, failed: 0, total: 2 }, true)).toBeNull();
  });

  it('succeeds when every document is indexed, fails when none is, and completes with failures in between', () => {
    expect(jobVerdict({ open: 0, ok: 2, failed: 0, total: 2 }, false)).toEqual({
      status: 'succeeded',
      error: null,
    });
    expect(jobVerdict({ open: 0, ok: 0, failed: 2, total: 2 }, false)).toEqual({
      status: 'failed',
      error: { code: 'internal', message: 'all 2 document(s) failed' },
    });
    expect(jobVerdict({ open: 0, ok: 1, failed: 1, total: 2 }, false)).toEqual({
      status: 'completed_with_failures',
      error: { code: 'internal', message: '1 of 2 document(s) failed' },
    });
  });

  it('fails a job that ends without any document (a crawl that delivered nothing) as crawl_failed', () => {
    expect(jobVerdict({ open: 0, ok: 0, failed: 0, total: 0 }, false)?.error?.code).toBe('crawl_failed');
  });
});

describe('finalJobError', () => {
  const failed = {
    status: 'failed' as const,
    error: { code: 'internal' as const, message: 'all 1 document(s) failed' },
  };

  it("reports the first failed document's code with the verdict's message", () => {
    expect(finalJobError(failed, { total: 1, first_error_code: 'corrupt_pdf' })).toEqual({
      code: 'corrupt_pdf',
      message: 'all 1 document(s) failed',
    });
  });

  it("keeps the verdict's code when the stored code is not one of the catalogue's", () => {
    expect(finalJobError(failed, { total: 1, first_error_code: 'made_up' })).toEqual(failed.error);
  });

  it("reports a crawler's own error for a crawl without pages, and no error for a success", () => {
    const crawl = { status: 'failed' as const, error: { code: 'crawl_failed' as const, message: 'no page' } };
    const reported = { code: 'crawl_failed' as const, message: 'crawler: site unreachable' };
    expect(finalJobError(crawl, { total: 0, first_error_code: null }, { error: reported })).toBe(reported);
    expect(
      finalJobError({ status: 'succeeded', error: null }, { total: 2, first_error_code: null }),
    ).toBeNull();
  });
});

describe('jobEnding', () => {
  const now = new Date('2026-12-05T01:00:00.000Z');

  it('builds the completed event, its outbox row (deterministic id, traceparent) and the final progress', () => {
    const ending = jobEnding(
      t,
      tally({ ok: 1, failed: 1 }),
      { status: 'completed_with_failures', error: null },
      null,
      now,
    );
    expect(ending).toMatchObject({
      status: 'completed_with_failures',
      fromStatus: 'running',
      progress: { step: 'index', done: 2, total: 2 },
      outbox: {
        subject: t.eventSubject('completed'),
        msgId: MessageIds.jobEvent(tally().id, 'completed'),
        headers: { traceparent: tally().traceparent },
        payload: {
          v: 1,
          status: 'completed_with_failures',
          occurredAt: now.toISOString(),
          documents: { total: 2, succeeded: 1, failed: 1 },
          traceId: 'a'.repeat(32),
        },
      },
    });
  });

  it('sends a failed job to events.job.failed with its error, and a job without trace without one', () => {
    const error = { code: 'corrupt_pdf' as const, message: 'all 2 document(s) failed' };
    const ending = jobEnding(
      t,
      tally({ ok: 0, failed: 2, trace_id: null, traceparent: null }),
      { status: 'failed', error },
      error,
      now,
    );
    expect(ending.outbox.subject).toBe(t.eventSubject('failed'));
    expect(ending.outbox.headers).toEqual({});
    expect(ending.outbox.payload).toMatchObject({ status: 'failed', error: { code: 'corrupt_pdf' } });
    expect(ending.outbox.payload).not.toHaveProperty('traceId');
  });
});
