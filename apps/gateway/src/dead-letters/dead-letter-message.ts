import { Commands, LANES, type CommandName, type Topology } from '@quarry/contracts';
import { QuarryHeaders, type DeadLetterMessage } from '@quarry/messaging';
import type { NewDeadLetter } from '@quarry/persistence';
import { z } from 'zod';

const COMMAND_NAMES = Object.keys(Commands) as CommandName[];
const uuid = z.uuid();
const idOrNull = (v: unknown): string | null => (uuid.safeParse(v).success ? (v as string) : null);

/** The command a DLQ or work subject belongs to, in any lane; undefined for a subject Quarry does not send. */
export function commandOfSubject(t: Topology, subject: string): CommandName | undefined {
  return COMMAND_NAMES.find(
    (name) =>
      t.dlqSubject(name) === subject || LANES.some((lane) => t.commandSubject(name, lane) === subject),
  );
}

function parseBody(data: Uint8Array): unknown {
  const text = new TextDecoder().decode(data);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not JSON: kept as the string it was, so an operator sees what arrived.
    return text;
  }
}

/**
 * What the DLQ message says, read leniently: the message may be dead-lettered precisely because its
 * body was invalid, so ids are taken wherever they are well-formed and the rest is recorded as found.
 */
export function parseDeadLetter(t: Topology, m: DeadLetterMessage, id: string): NewDeadLetter {
  const payload = parseBody(m.data);
  const body = payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>) : {};
  const originSubject = m.header(QuarryHeaders.originSubject) ?? '';
  const command =
    commandOfSubject(t, m.subject) ??
    commandOfSubject(t, originSubject) ??
    // Another producer's dead letter: named by its subject below `<ns>.dlq.`.
    m.subject.replace(`${t.subject('dlq')}.`, '');
  const deliveries = Number.parseInt(m.header(QuarryHeaders.deliveryCount) ?? '', 10);
  const msgId = m.header('Nats-Msg-Id');
  return {
    id,
    tenantId: idOrNull(body['tenantId']),
    jobId: idOrNull(body['jobId']),
    documentId: idOrNull(body['documentId']),
    command,
    originSubject,
    originMsgId:
      m.header(QuarryHeaders.originMsgId) ?? (msgId?.startsWith('dlq:') ? msgId.slice(4) : (msgId ?? '')),
    dlqStreamSeq: m.seq,
    code: m.header(QuarryHeaders.dlqCode) || 'internal',
    reason: m.header(QuarryHeaders.dlqReason) || 'dead-lettered without a reason',
    deliveryCount: Number.isFinite(deliveries) && deliveries >= 0 ? deliveries : 0,
    traceparent: m.header(QuarryHeaders.traceparent) || null,
    payload,
    createdAt: m.time,
  };
}
