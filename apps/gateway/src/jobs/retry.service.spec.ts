import { QuarryError, topology } from '@quarry/contracts';
import type { JobView, NewRetryJob, OutboxRow, ReplayResult, RetryJobResult } from '@quarry/persistence';
import { QuarryMetrics } from '@quarry/telemetry';
import { PromText } from '@quarry/testing';
import pino from 'pino';
import { RetryService } from './retry.service';

const t = topology('quarry');
const tenantId = '0194f3b0-0000-7000-8000-000000000001';
const jobId = '0194f3b0-0000-7000-8000-000000000002';
const job = {
  id: 'new-job',
  type: 'ingest',
  lane: 'bulk',
  retryOfJobId: jobId,
  documents: [],
} as unknown as JobView;
const row = { id: '9' } as OutboxRow;

function service(retry: RetryJobResult, replay: ReplayResult = { kind: 'not_found' }) {
  const inputs: NewRetryJob[] = [];
  const metrics = new QuarryMetrics({ app: 'gateway', processMetrics: false });
  const s = new RetryService(
    {
      createRetryJob: (_id, input) => {
        inputs.push(input);
        return Promise.resolve(retry);
      },
    },
    {
      replay: (_t, _id, input) => {
        inputs.push(input);
        return Promise.resolve(replay);
      },
    },
    t,
    pino({ level: 'silent' }),
    metrics,
  );
  const created = async () =>
    PromText.parse(await metrics.metrics()).sum('quarry_jobs_created_total', {
      type: 'ingest',
      lane: 'bulk',
    });
  return { s, inputs, created };
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof QuarryError ? `${e.code}: ${e.message}` : String(e)),
  );

describe('RetryService', () => {
  it('answers the new job (its rows published by the repository) and says whether it was created', async () => {
    const { s, created } = service({ kind: 'created', job, outbox: [row] });
    await expect(s.retryJob(tenantId, jobId, null)).resolves.toEqual({ job, created: true });
    expect(await created()).toBe(1);
    const again = service({ kind: 'existing', job, outbox: [] });
    await expect(again.s.retryJob(tenantId, jobId, 'k')).resolves.toEqual({ job, created: false });
    // The same Idempotency-Key answers the earlier job: nothing new was accepted.
    expect(await again.created()).toBe(0);
  });

  it('maps a job that cannot be retried to 404 not_found or 409 conflict', async () => {
    expect(await codeOf(service({ kind: 'not_found' }).s.retryJob(tenantId, jobId, null))).toMatch(
      /^not_found: /,
    );
    expect(
      await codeOf(service({ kind: 'not_retryable', status: 'running' }).s.retryJob(tenantId, jobId, null)),
    ).toMatch(/^conflict: .*is running/);
    expect(
      await codeOf(
        service({ kind: 'no_failed_documents', status: 'failed' }).s.retryJob(tenantId, jobId, null),
      ),
    ).toMatch(/^conflict: .*no failed documents/);
  });

  it('maps a dead letter that cannot be replayed to not_found or conflict', async () => {
    const replay = (r: ReplayResult) =>
      codeOf(service({ kind: 'not_found' }, r).s.replayDeadLetter(tenantId, 'dl', null));
    expect(await replay({ kind: 'not_found' })).toMatch(/^not_found: /);
    expect(await replay({ kind: 'no_document' })).toMatch(/^conflict: .*names no job and document/);
    expect(await replay({ kind: 'document_gone', documentId: 'd' })).toMatch(/^conflict: .*no longer exists/);
    expect(await replay({ kind: 'unknown_command', command: 'jobs.analyze' })).toMatch(/^conflict: /);
  });

  it('addresses each copy command by name and lane, with the new job trace', async () => {
    const { s, inputs } = service({ kind: 'not_found' });
    await s.retryJob(tenantId, jobId, 'key-1').catch(() => undefined);
    const input = inputs[0] as NewRetryJob;
    expect(input.idempotencyKey).toBe('key-1');
    expect(input.traceId).toBe(input.traceparent.split('-')[1]);
    expect(input.newDocumentId()).not.toBe(input.newDocumentId());
    const cmd = input.command({
      name: 'indexDocument',
      jobId: input.id,
      tenantId,
      documentId: 'doc-1',
      lane: 'bulk',
    });
    expect(cmd).toMatchObject({
      subject: t.commandSubject('indexDocument', 'bulk'),
      msgId: `${input.id}:indexDocument:doc-1:0`,
      payload: { v: 1, jobId: input.id, tenantId, documentId: 'doc-1', lane: 'bulk' },
      headers: { traceparent: input.traceparent },
    });
  });
});
