import { topology, type ErrorInfo } from '@quarry/contracts';
import { QuarryHeaders, type DeadLetterMessage } from '@quarry/messaging';
import type { NewDeadLetter, OutboxRow } from '@quarry/persistence';
import { QuarryMetrics } from '@quarry/telemetry';
import { PromText } from '@quarry/testing';
import pino from 'pino';
import { DeadLetterRecorder } from './dead-letter-recorder';

const t = topology('quarry');
const ids = {
  tenantId: '0194f3b0-0000-7000-8000-000000000001',
  jobId: '0194f3b0-0000-7000-8000-000000000002',
  documentId: '0194f3b0-0000-7000-8000-000000000003',
};
const eventRow: OutboxRow = {
  id: '1',
  tenantId: ids.tenantId,
  jobId: ids.jobId,
  subject: 'quarry.events.job.failed',
  msgId: 'e',
  payload: {},
  headers: {},
};

function setup() {
  const recorded: NewDeadLetter[] = [];
  const failed: { work: unknown; error: ErrorInfo }[] = [];
  const seqs = new Set<number>();
  const metrics = new QuarryMetrics({ app: 'gateway', processMetrics: false });
  const recorder = new DeadLetterRecorder(
    {
      record: (d) => {
        recorded.push(d);
        const inserted = !seqs.has(d.dlqStreamSeq);
        seqs.add(d.dlqStreamSeq);
        return Promise.resolve({ id: d.id, inserted });
      },
    },
    {
      failDocument: (work, error) => {
        failed.push({ work, error });
        return Promise.resolve(failed.length === 1 ? [eventRow] : []);
      },
    },
    t,
    pino({ level: 'silent' }),
    metrics,
  );
  const scrape = async () => PromText.parse(await metrics.metrics());
  return { recorder, recorded, failed, scrape };
}

const dlq = (
  body: unknown,
  code: string,
  subject = t.dlqSubject('indexDocument'),
  seq = 7,
): DeadLetterMessage => ({
  subject,
  seq,
  time: new Date(),
  header: (name) =>
    ({ [QuarryHeaders.dlqCode]: code, [QuarryHeaders.dlqReason]: 'embedding server gone' })[name],
  data: new TextEncoder().encode(JSON.stringify(body)),
});

describe('DeadLetterRecorder.record', () => {
  it('stores the dead letter and fails its document with the code and reason', async () => {
    const { recorder, recorded, failed } = setup();
    const result = await recorder.record(dlq({ v: 1, ...ids }, 'embedding_failed'));
    expect(result.inserted).toBe(true);
    expect(recorded[0]).toMatchObject({ ...ids, command: 'indexDocument', dlqStreamSeq: 7 });
    expect(failed).toEqual([
      { work: ids, error: { code: 'embedding_failed', message: 'embedding server gone' } },
    ]);
  });

  it('fails the document again when recorded twice (a no-op in the repository) and reports no insert', async () => {
    const { recorder, failed, scrape } = setup();
    await recorder.record(dlq({ v: 1, ...ids }, 'embedding_failed'));
    const second = await recorder.record(dlq({ v: 1, ...ids }, 'embedding_failed'));
    expect(second.inserted).toBe(false);
    expect(failed).toHaveLength(2);
    // Counted once, when it was first stored.
    const recordedTotal = (await scrape()).select('quarry_dead_letters_recorded_total');
    expect(recordedTotal.map((s) => [s.labels, s.value])).toEqual([
      [{ app: 'gateway', step: 'index', code: 'embedding_failed' }, 1],
    ]);
  });

  it('records a code it does not know as the document error `internal`', async () => {
    const { recorder, failed } = setup();
    await recorder.record(dlq({ v: 1, ...ids }, 'weird_code'));
    expect(failed[0]?.error.code).toBe('internal');
  });

  it('fails nothing when the message names no document, or is not a Quarry command', async () => {
    const { recorder, recorded, failed } = setup();
    await recorder.record(dlq({ v: 99, tenantId: ids.tenantId }, 'validation_failed'));
    await recorder.record(dlq({ v: 1, ...ids }, 'internal', 'quarry.dlq.jobs.translate', 8));
    expect(recorded).toHaveLength(2);
    expect(failed).toHaveLength(0);
  });

  it('labels a dead letter of another producer as step `other` and an unknown code as `internal`', async () => {
    const { recorder, scrape } = setup();
    await recorder.record(dlq({ v: 1, ...ids }, 'made_up', 'quarry.dlq.jobs.translate', 8));
    const samples = (await scrape()).select('quarry_dead_letters_recorded_total');
    expect(samples.map((s) => s.labels)).toEqual([{ app: 'gateway', step: 'other', code: 'internal' }]);
  });
});
