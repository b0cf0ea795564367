import { topology } from '@quarry/contracts';
import { QuarryHeaders } from '@quarry/messaging';
import type { DeadLetterMessage } from '@quarry/messaging';
import { commandOfSubject, parseDeadLetter } from './dead-letter-message';

const t = topology('quarry');
const ids = {
  tenantId: '0194f3b0-0000-7000-8000-000000000001',
  jobId: '0194f3b0-0000-7000-8000-000000000002',
  documentId: '0194f3b0-0000-7000-8000-000000000003',
};
const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function message(
  body: string,
  headers: Record<string, string>,
  subject = t.dlqSubject('ingestDocument'),
): DeadLetterMessage {
  return {
    subject,
    seq: 42,
    time: new Date('2026-11-23T10:00:00.123Z'),
    header: (name) => headers[name],
    data: new TextEncoder().encode(body),
  };
}

describe('parseDeadLetter', () => {
  it('reads what the command consumer publishes: command, origin, code, reason, deliveries, trace', () => {
    const d = parseDeadLetter(
      t,
      message(JSON.stringify({ v: 1, ...ids, traceparent: tp }), {
        [QuarryHeaders.dlqReason]: 'still down',
        [QuarryHeaders.dlqCode]: 'dependency_unavailable',
        [QuarryHeaders.originSubject]: 'quarry.jobs.ingest',
        [QuarryHeaders.originMsgId]: `${ids.jobId}:ingestDocument:${ids.documentId}:0`,
        [QuarryHeaders.deliveryCount]: '5',
        traceparent: tp,
        'Nats-Msg-Id': `dlq:${ids.jobId}:ingestDocument:${ids.documentId}:0`,
      }),
      'new-id',
    );
    expect(d).toEqual({
      id: 'new-id',
      ...ids,
      command: 'ingestDocument',
      originSubject: 'quarry.jobs.ingest',
      originMsgId: `${ids.jobId}:ingestDocument:${ids.documentId}:0`,
      dlqStreamSeq: 42,
      code: 'dependency_unavailable',
      reason: 'still down',
      deliveryCount: 5,
      traceparent: tp,
      payload: { v: 1, ...ids, traceparent: tp },
      createdAt: new Date('2026-11-23T10:00:00.123Z'),
    });
  });

  it('keeps a body that is not JSON as its text and names no job, document or tenant', () => {
    const d = parseDeadLetter(t, message('not json {', {}), 'x');
    expect(d).toMatchObject({
      payload: 'not json {',
      tenantId: null,
      jobId: null,
      documentId: null,
      code: 'internal',
      reason: 'dead-lettered without a reason',
      deliveryCount: 0,
      traceparent: null,
    });
  });

  it('takes only well-formed ids from an invalid payload', () => {
    const d = parseDeadLetter(
      t,
      message(JSON.stringify({ v: 99, tenantId: ids.tenantId, jobId: 'nope', documentId: 7 }), {}),
      'x',
    );
    expect([d.tenantId, d.jobId, d.documentId]).toEqual([ids.tenantId, null, null]);
  });

  it('falls back to the DLQ message id for the origin id, and names an unknown subject by its tail', () => {
    const d = parseDeadLetter(
      t,
      message('{}', { 'Nats-Msg-Id': 'dlq:abc:1' }, 'quarry.dlq.jobs.translate'),
      'x',
    );
    expect(d.originMsgId).toBe('abc:1');
    expect(d.command).toBe('jobs.translate');
  });
});

describe('commandOfSubject', () => {
  it('knows DLQ subjects and the work subjects of every lane', () => {
    expect(commandOfSubject(t, 'quarry.dlq.jobs.index')).toBe('indexDocument');
    expect(commandOfSubject(t, t.commandSubject('ingestDocument', 'bulk'))).toBe('ingestDocument');
    expect(commandOfSubject(t, 'quarry.jobs.index')).toBe('indexDocument');
    expect(commandOfSubject(t, 'other.dlq.jobs.index')).toBeUndefined();
  });
});
