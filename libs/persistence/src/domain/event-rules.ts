// Rules for events and webhook deliveries (ADR 30): pure functions of stored rows, unit-tested without a database.
import type { QuarryEvent, Topology } from '@quarry/contracts';

/** An unpublished event as the relay reads it. */
export interface StoredEvent {
  id: bigint;
  eventId: string;
  tenantId: string;
  scopeId: string;
  jobId: string | null;
  documentId: string | null;
  type: string;
  data: unknown;
  traceparent: string | null;
  createdAt: Date;
}

/**
 * Which events of a batch to publish: a job's progress event is left out when a later event of the same job in the
 * batch (another progress, or a change of status, which carries the progress too) makes it stale. The relay takes a
 * batch at most every few hundred milliseconds, so a job sends at most a few progress events a second, and the last
 * progress before a pause is always sent.
 */
export function coalesceProgress<E extends Pick<StoredEvent, 'jobId' | 'type'>>(
  batch: readonly E[],
): { publish: E[]; coalesced: E[] } {
  const laterJobEvent = new Set<string>();
  const keep: boolean[] = new Array<boolean>(batch.length);
  for (let i = batch.length - 1; i >= 0; i--) {
    const e = batch[i] as E;
    const isJobEvent = e.type.startsWith('job.') && e.jobId !== null;
    keep[i] = !(e.type === 'job.progress' && e.jobId !== null && laterJobEvent.has(e.jobId));
    if (isJobEvent && e.jobId !== null) laterJobEvent.add(e.jobId);
  }
  return { publish: batch.filter((_, i) => keep[i]), coalesced: batch.filter((_, i) => !keep[i]) };
}

/** The message an event is published as: its subject and body. */
export function publishedEvent(
  t: Topology,
  e: StoredEvent,
): { subject: string; msgId: string; body: QuarryEvent; headers: Record<string, string> } {
  const ids: Record<string, string> = {};
  if (e.type.startsWith('webhook.')) ids['webhookId'] = e.scopeId;
  else if (e.jobId) ids['jobId'] = e.jobId;
  if (e.documentId) ids['documentId'] = e.documentId;
  const body = {
    v: 1,
    id: e.eventId,
    type: e.type,
    tenantId: e.tenantId,
    occurredAt: e.createdAt.toISOString(),
    ...ids,
    data: e.data,
  } as QuarryEvent;
  return {
    subject: t.publicEventSubject(e.tenantId, e.scopeId, e.type),
    msgId: `event:${e.eventId}`,
    body,
    headers: e.traceparent ? { traceparent: e.traceparent } : {},
  };
}

/** What happens to a delivery after an attempt. */
export type DeliveryVerdict =
  { status: 'succeeded' } | { status: 'pending'; nextAttemptInMs: number } | { status: 'failed' };

/**
 * After attempt number `attempts` (1 for the first): a 2xx answer ends the delivery; otherwise the next attempt waits
 * `scheduleMs[attempts - 1]`, and a delivery that has used the whole schedule has failed.
 */
export function deliveryVerdict(
  ok: boolean,
  attempts: number,
  scheduleMs: readonly number[],
): DeliveryVerdict {
  if (ok) return { status: 'succeeded' };
  const wait = scheduleMs[attempts - 1];
  return wait === undefined ? { status: 'failed' } : { status: 'pending', nextAttemptInMs: wait };
}

/** Whether an endpoint that has failed since `failingSince` is disabled now (after `disableAfterMs` of failures). */
export function shouldDisableEndpoint(failingSince: Date | null, now: Date, disableAfterMs: number): boolean {
  return failingSince !== null && now.getTime() - failingSince.getTime() >= disableAfterMs;
}
