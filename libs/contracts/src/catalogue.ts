import { z } from 'zod';
import { eventTypeSubjectTokens } from './events';
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

/** Runs one analysis job (its request is stored on the job): classify, extract, summarize, answer, report. */
export const AnalyzeJobCommand = z.object({
  v: z.literal(1),
  jobId: z.uuid(),
  tenantId: z.uuid(),
  ...traceFields,
});
export type AnalyzeJobCommand = z.infer<typeof AnalyzeJobCommand>;

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

/** A metadata key a filter may name: letters, digits and `_ . -`, so it is never more than a key. */
export const MetadataKey = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'metadata keys are 1–64 letters, digits, "_", "." or "-"');
const MetadataScalar = z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]);
/** Equality with a scalar, or `{in: [...]}`: one of several. */
export const MetadataCondition = z.union([
  MetadataScalar,
  z.object({ in: z.array(MetadataScalar).min(1).max(100) }).strict(),
]);
export type MetadataCondition = z.infer<typeof MetadataCondition>;

/** Which chunks a search (or an analysis) may return: every field narrows, all of them together. */
export const SearchFilter = z
  .object({
    documentIds: z.array(z.uuid()).min(1).max(1000).optional(),
    jobIds: z.array(z.uuid()).min(1).max(1000).optional(),
    /** A glob on the filename: `*` any run, `?` one character. */
    filename: z.string().min(1).max(500).optional(),
    detectedTypes: z.array(z.string().min(1).max(200)).min(1).max(50).optional(),
    createdAfter: z.iso.datetime({ offset: true }).optional(),
    createdBefore: z.iso.datetime({ offset: true }).optional(),
    /** Documents carrying every one of these tags. */
    tags: z.array(z.string().min(1).max(100)).min(1).max(50).optional(),
    metadata: z
      .record(MetadataKey, MetadataCondition)
      .refine((m) => Object.keys(m).length <= 20, 'at most 20 metadata conditions')
      .optional(),
  })
  .strict();
export type SearchFilter = z.infer<typeof SearchFilter>;

/**
 * PostgreSQL's text-search configurations chunks are indexed with: a snowball stemmer for the document's language,
 * or 'simple' (lower-cased words, no stemming) where there is none. A keyword query is parsed with each.
 */
export const TEXT_SEARCH_CONFIGS = [
  'simple',
  'english',
  'german',
  'french',
  'spanish',
  'italian',
  'portuguese',
  'dutch',
  'russian',
  'swedish',
  'norwegian',
  'danish',
  'finnish',
  'hungarian',
  'turkish',
  'romanian',
] as const;
export type TextSearchConfig = (typeof TEXT_SEARCH_CONFIGS)[number];

export const SearchMode = z.enum(['hybrid', 'vector', 'keyword']);
export type SearchMode = z.infer<typeof SearchMode>;

export const SearchRequest = z.object({
  v: z.literal(1),
  tenantId: z.uuid(),
  query: z.string().min(1).max(2000),
  topK: z.number().int().min(1).max(100),
  mode: SearchMode.default('hybrid'),
  filter: SearchFilter.optional(),
  /** Results to skip (the gateway's cursor decoded). */
  offset: z.number().int().min(0).max(1000).default(0),
});
export type SearchRequest = z.infer<typeof SearchRequest>;

export const SearchHit = z.object({
  documentId: z.uuid(),
  filename: z.string(),
  page: z.number().int().positive(),
  /** The headings the chunk sits under, outermost first (empty where the format has none). */
  sectionPath: z.array(z.string()),
  chunkId: z.uuid(),
  text: z.string(),
  /** The fused score in hybrid mode (keyword and vector scores combined, each normalised), else the one ranking's. */
  score: z.number(),
  /** Each ranking's own score; null where the chunk was not among that ranking's candidates. */
  scores: z.object({ vector: z.number().nullable(), keyword: z.number().nullable() }),
  /** Where the query's terms matched in `text`, as UTF-16 offsets (end exclusive). */
  highlights: z.array(z.object({ start: z.number().int(), end: z.number().int() })),
});
export type SearchHit = z.infer<typeof SearchHit>;

export const SearchReply = z.union([
  z.object({
    ok: z.literal(true),
    results: z.array(SearchHit),
    model: z.string(),
    mode: SearchMode,
    /** Whether more results follow these (another page). */
    more: z.boolean(),
  }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type SearchReply = z.infer<typeof SearchReply>;

/** Work commands, consumed from the work-queue stream by exactly one handler each. */
export const Commands = {
  ingestDocument: { subject: 'jobs.ingest', consumer: 'ingest', schema: IngestDocumentCommand },
  indexDocument: { subject: 'jobs.index', consumer: 'index', schema: IndexDocumentCommand },
  analyzeJob: { subject: 'jobs.analyze', consumer: 'analyze', schema: AnalyzeJobCommand },
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
  /** Internal job signals (`events.job.<kind>`; the cancellation watch listens to `cancelled`). */
  eventSubject(kind: JobEventKind): string;
  /** A public event's subject (ADR 30): `<ns>.events.<tenant>.<scope>.<type>`. */
  publicEventSubject(tenantId: string, scopeId: string, type: string): string;
  /** A filter over public events: any tenant, scope or type where not given (a type may be a pattern). */
  publicEventFilter(filter: { tenantId?: string; scopeId?: string; type?: string }): string;
  /** The webhook dispatcher's durable consumer on the events stream. */
  webhookConsumerName: string;
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
    publicEventSubject: (tenantId, scopeId, type) => subject(`events.${tenantId}.${scopeId}.${type}`),
    publicEventFilter: (f) =>
      subject(`events.${f.tenantId ?? '*'}.${f.scopeId ?? '*'}.${eventTypeSubjectTokens(f.type ?? '*')}`),
    webhookConsumerName: `${namespace}_webhooks`,
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
    // A job-wide command (analyzeJob) is about the job itself.
    msgId: MessageIds.command(
      name,
      payload.jobId,
      'documentId' in payload ? payload.documentId : payload.jobId,
      generation,
    ),
    payload,
    headers: payload.traceparent ? { traceparent: payload.traceparent } : {},
  };
}
