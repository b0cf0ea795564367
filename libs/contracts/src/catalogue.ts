import { z } from 'zod';
import { JobStatus, JobType } from './jobs';

/**
 * The one catalogue of messages. Subjects are relative to a namespace (`quarry` in production, a random
 * one per test run) so that test runs and a developer's `npm start` never consume each other's work.
 * Every message body is versioned; consumers reject versions they do not know.
 */

/**
 * Which lane a job's commands travel in. Interactive and bulk work have separate subjects, durable
 * consumers and worker capacity (NATS 2.9 has no priority groups), so a bulk batch of a thousand
 * documents can never delay an interactive upload (ADR 10).
 */
export const Lane = z.enum(['interactive', 'bulk']);
export type Lane = z.infer<typeof Lane>;
export const LANES: readonly Lane[] = Lane.options;

const traceFields = {
  /** W3C trace context of the job, also carried in the `traceparent` header. */
  traceparent: z.string().optional(),
  /** Absent means interactive (messages written before lanes existed). */
  lane: Lane.optional(),
};

export const IngestDocumentCommand = z.object({
  v: z.literal(1),
  jobId: z.uuid(),
  tenantId: z.uuid(),
  documentId: z.uuid(),
  ...traceFields,
});
export type IngestDocumentCommand = z.infer<typeof IngestDocumentCommand>;

export const IndexDocumentCommand = z.object({
  v: z.literal(1),
  jobId: z.uuid(),
  tenantId: z.uuid(),
  documentId: z.uuid(),
  ...traceFields,
});
export type IndexDocumentCommand = z.infer<typeof IndexDocumentCommand>;

export const JobEvent = z.object({
  v: z.literal(1),
  jobId: z.uuid(),
  tenantId: z.uuid(),
  type: JobType,
  status: JobStatus,
  occurredAt: z.iso.datetime(),
  documents: z
    .object({ total: z.number().int(), succeeded: z.number().int(), failed: z.number().int() })
    .optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  traceId: z.string().optional(),
});
export type JobEvent = z.infer<typeof JobEvent>;

export const SearchRequest = z.object({
  v: z.literal(1),
  tenantId: z.uuid(),
  query: z.string().min(1).max(2000),
  topK: z.number().int().min(1).max(100),
});
export type SearchRequest = z.infer<typeof SearchRequest>;

export const SearchHit = z.object({
  documentId: z.uuid(),
  filename: z.string(),
  page: z.number().int().positive(),
  chunkId: z.uuid(),
  text: z.string(),
  score: z.number(),
});
export type SearchHit = z.infer<typeof SearchHit>;

export const SearchReply = z.union([
  z.object({ ok: z.literal(true), results: z.array(SearchHit), model: z.string() }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type SearchReply = z.infer<typeof SearchReply>;

/** Work commands, consumed from the work-queue stream by exactly one handler each. */
export const Commands = {
  ingestDocument: { subject: 'jobs.ingest', consumer: 'ingest', schema: IngestDocumentCommand },
  indexDocument: { subject: 'jobs.index', consumer: 'index', schema: IndexDocumentCommand },
} as const;
export type CommandName = keyof typeof Commands;
export type CommandPayload<N extends CommandName> = z.infer<(typeof Commands)[N]['schema']>;

export const JOB_EVENT_KINDS = ['completed', 'failed', 'cancelled', 'progress'] as const;
export type JobEventKind = (typeof JOB_EVENT_KINDS)[number];

/** Request/reply services (core NATS, queue group). */
export const Services = {
  search: { subject: 'svc.search', queue: 'search', request: SearchRequest, reply: SearchReply },
} as const;

/** Names of streams and the object-store bucket, derived from the namespace. */
export interface Topology {
  namespace: string;
  jobsStream: string;
  eventsStream: string;
  dlqStream: string;
  blobBucket: string;
  /** Key-value bucket for blobs small enough to be one message (see NatsBlobStore). */
  smallBlobBucket: string;
  subject(relative: string): string;
  commandSubject(name: CommandName, lane?: Lane): string;
  consumerName(name: CommandName, lane?: Lane): string;
  eventSubject(kind: JobEventKind): string;
  dlqSubject(name: CommandName): string;
  serviceSubject(name: keyof typeof Services): string;
}

const NAMESPACE_PATTERN = /^[a-z][a-z0-9_]{0,30}$/;

export function topology(namespace: string): Topology {
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new Error(`invalid namespace "${namespace}": lower-case letters, digits and _ only`);
  }
  const upper = namespace.toUpperCase();
  const subject = (relative: string) => `${namespace}.${relative}`;
  return {
    namespace,
    jobsStream: `${upper}_JOBS`,
    eventsStream: `${upper}_EVENTS`,
    dlqStream: `${upper}_DLQ`,
    blobBucket: `${namespace}_blobs`,
    smallBlobBucket: `${namespace}_small_blobs`,
    subject,
    // The interactive lane keeps the plain names (`quarry.jobs.ingest`, `quarry_ingest`).
    commandSubject: (name, lane = 'interactive') =>
      subject(lane === 'interactive' ? Commands[name].subject : `${Commands[name].subject}.${lane}`),
    consumerName: (name, lane = 'interactive') =>
      `${namespace}_${Commands[name].consumer}${lane === 'interactive' ? '' : `_${lane}`}`,
    eventSubject: (kind) => subject(`events.job.${kind}`),
    dlqSubject: (name) => subject(`dlq.${Commands[name].subject}`),
    serviceSubject: (name) => subject(Services[name].subject),
  };
}

/** Deterministic message ids: a publish repeated after a crash is a duplicate JetStream drops. */
export const MessageIds = {
  command: (name: CommandName, jobId: string, documentId: string, generation = 0) =>
    `${jobId}:${name}:${documentId}:${generation}`,
  jobEvent: (jobId: string, kind: JobEventKind, seq = 0) => `${jobId}:event:${kind}:${seq}`,
};

/** Everything needed to publish (or write to the outbox) one command: subject, id, body, headers. */
export interface CommandEnvelope<N extends CommandName> {
  tenantId: string;
  jobId: string;
  /** The command and its generation, stored with an outbox row as columns of their own. */
  command: N;
  generation: number;
  subject: string;
  msgId: string;
  payload: CommandPayload<N>;
  headers: Record<string, string>;
}

/** The one way a command is addressed, so every producer gets the same subject and message id. */
export function commandEnvelope<N extends CommandName>(
  t: Topology,
  name: N,
  payload: CommandPayload<N>,
  generation = 0,
): CommandEnvelope<N> {
  return {
    tenantId: payload.tenantId,
    jobId: payload.jobId,
    command: name,
    generation,
    subject: t.commandSubject(name, payload.lane),
    msgId: MessageIds.command(name, payload.jobId, payload.documentId, generation),
    payload,
    headers: payload.traceparent ? { traceparent: payload.traceparent } : {},
  };
}
