import { z } from 'zod';
import { DocumentStatus, JobStatus } from './jobs';

/**
 * The public events (ADR 30): every state change of a job and of a document, and what happens to a webhook. They are
 * written by the database in the statement that made the change, published to the events stream as
 * `<ns>.events.<tenantId>.<scopeId>.<type>` (the scope is the job for job and document events, the webhook for
 * webhook events), served over Server-Sent Events and posted to webhooks. docs/events.md describes them.
 */
export const JOB_EVENT_TYPES = [
  'job.queued',
  'job.running',
  'job.progress',
  'job.succeeded',
  'job.completed_with_failures',
  'job.failed',
  'job.cancelled',
] as const satisfies readonly (`job.${JobStatus}` | 'job.progress')[];
export const DOCUMENT_EVENT_TYPES = DocumentStatus.options.map((s) => `document.${s}` as const);
export const WEBHOOK_EVENT_TYPES = ['webhook.disabled'] as const;
export const EVENT_TYPES = [...JOB_EVENT_TYPES, ...DOCUMENT_EVENT_TYPES, ...WEBHOOK_EVENT_TYPES] as const;
export const EventType = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventType>;

/** Job events that end a job's stream. */
export const TERMINAL_JOB_EVENT_TYPES: readonly EventType[] = [
  'job.succeeded',
  'job.completed_with_failures',
  'job.failed',
  'job.cancelled',
];

const ErrorShape = z.object({ code: z.string(), message: z.string() }).loose();

/** A job as it stood after the change. */
export const JobSnapshot = z.object({
  id: z.uuid(),
  type: z.string(),
  lane: z.string(),
  status: JobStatus,
  progress: z.record(z.string(), z.unknown()),
  error: ErrorShape.nullable(),
  attempts: z.number().int(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
export type JobSnapshot = z.infer<typeof JobSnapshot>;

/** A document as it stood after the change. */
export const DocumentSnapshot = z.object({
  id: z.uuid(),
  jobId: z.uuid(),
  filename: z.string().nullable(),
  status: DocumentStatus,
  detectedType: z.string().nullable(),
  source: z.string(),
  sourceUrl: z.string().nullable(),
  parentDocumentId: z.uuid().nullable(),
  pageCount: z.number().int().nullable(),
  chunkCount: z.number().int().nullable(),
  error: ErrorShape.nullable(),
});
export type DocumentSnapshot = z.infer<typeof DocumentSnapshot>;

export const WebhookSnapshot = z.object({
  id: z.uuid(),
  url: z.string(),
  reason: z.string(),
});
export type WebhookSnapshot = z.infer<typeof WebhookSnapshot>;

const envelope = {
  v: z.literal(1),
  /** Unique per event: the stream's Nats-Msg-Id and a webhook delivery's `webhook-id`. */
  id: z.uuid(),
  tenantId: z.uuid(),
  occurredAt: z.string(),
};

/** An event as published, served and posted. */
export const QuarryEvent = z.discriminatedUnion('type', [
  z.object({ ...envelope, type: z.enum(JOB_EVENT_TYPES), jobId: z.uuid(), data: JobSnapshot }),
  z.object({
    ...envelope,
    type: z.enum(DOCUMENT_EVENT_TYPES as [string, ...string[]]),
    jobId: z.uuid(),
    documentId: z.uuid(),
    data: DocumentSnapshot,
  }),
  z.object({ ...envelope, type: z.enum(WEBHOOK_EVENT_TYPES), webhookId: z.uuid(), data: WebhookSnapshot }),
]);
export type QuarryEvent = z.infer<typeof QuarryEvent>;

/**
 * A pattern of event types, as webhooks and streams take them: `*` (every event), `job.*`, `document.*`, `webhook.*`,
 * or one type.
 */
export const EventTypePattern = z
  .string()
  .refine(
    (p) =>
      p === '*' || /^(job|document|webhook)\.\*$/.test(p) || (EVENT_TYPES as readonly string[]).includes(p),
    { message: `an event type (${EVENT_TYPES.join(', ')}), "job.*", "document.*", "webhook.*" or "*"` },
  );

export function eventTypeMatches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** The subject tokens a pattern selects: one type is `job.succeeded`; `job.*` stays; `*` is `*.*`. */
export function eventTypeSubjectTokens(pattern: string): string {
  return pattern === '*' ? '*.*' : pattern;
}
