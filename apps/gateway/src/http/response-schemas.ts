import {
  ApiKeyScope,
  DetectedType,
  DocumentClassification,
  DocumentSource,
  DocumentStatus,
  ErrorCodes,
  IngestJobOptions,
  JobStatus,
  JobType,
  Lane,
  PageMethod,
  QuarryEvent,
  SearchHit,
  SearchMode,
  WorkerJobInput,
  WorkerJobResult,
  type ErrorCode as ErrorCodeName,
} from '@quarry/contracts';
import { z } from 'zod';

/**
 * The bodies the gateway answers with, as zod schemas (ADR 35). They are the one source of the OpenAPI document's
 * response schemas (`apiSchemas` below becomes `components.schemas`), and the view functions that build the answers
 * return `z.infer` of them, so the code cannot answer a shape the document does not describe without failing to
 * compile; what the types cannot see (formats, enums of stored strings) the integration and e2e tiers check on
 * every response they receive (`OpenApiConformance`).
 */

/** Named schemas: each becomes `#/components/schemas/<id>`, and routes refer to them by that $ref. */
export const apiSchemas = z.registry<{ id: string; description?: string }>();
const named = <S extends z.ZodType>(id: string, schema: S, description?: string): S => {
  apiSchemas.add(schema, description === undefined ? { id } : { id, description });
  return schema;
};

const Timestamp = z.iso.datetime();
const Id = z.uuid();

export const ErrorCode = named(
  'ErrorCode',
  z.enum(Object.keys(ErrorCodes) as [ErrorCodeName, ...ErrorCodeName[]]),
  'Every error code; docs/adr and the README say which status each maps to.',
);

/**
 * Every error answer: `{code, message}`, an `errorId` on a 5xx that is also in the gateway's log, and the details some
 * codes add (`issues` of validation_failed, `requiredScope` of insufficient_scope, the quota of quota_exceeded, …).
 */
export const ErrorBody = named(
  'ErrorBody',
  z
    .object({
      code: ErrorCode,
      message: z.string(),
      errorId: Id.optional(),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      requiredScope: ApiKeyScope.optional(),
      jobStatus: JobStatus.optional(),
      status: JobStatus.optional(),
      quota: z.string().optional(),
      limit: z.number().nullable().optional(),
      used: z.number().optional(),
      resetsAt: Timestamp.optional(),
    })
    .loose(),
);
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Why a job or a document failed. */
export const ErrorInfo = named('ErrorInfo', z.object({ code: ErrorCode, message: z.string() }));

export const DocumentSummary = named(
  'DocumentSummary',
  z.object({
    id: Id,
    filename: z.string(),
    status: DocumentStatus,
    error: ErrorInfo.nullable(),
    detectedType: DetectedType.nullable(),
    source: DocumentSource,
    sourceUrl: z.string().optional(),
    parentDocumentId: Id.optional(),
  }),
);
export type DocumentSummary = z.infer<typeof DocumentSummary>;

/**
 * A job's progress. An ingest job's adds up its documents (`processedFiles` of `totalFiles`); an analysis reports
 * its own phase; a job nobody has worked on yet may say nothing (`{}`).
 */
export const JobProgressBody = named(
  'JobProgress',
  z.object({
    step: z.string().optional(),
    done: z.number().int().nonnegative().optional(),
    total: z.number().int().nonnegative().optional(),
    message: z.string().optional(),
    details: z.string().optional(),
    processedFiles: z.number().int().nonnegative().optional(),
    totalFiles: z.number().int().nonnegative().optional(),
  }),
);

/** The result of an upload that asked for `classify`: per file its status, labels and error. */
export const UploadResult = named(
  'UploadResult',
  z.object({
    totalFiles: z.number().int(),
    successful: z.number().int(),
    failed: z.number().int(),
    results: z.array(
      z.object({
        documentId: Id,
        filename: z.string(),
        status: DocumentStatus,
        labels: z.array(z.string()),
        scores: z.array(z.object({ name: z.string(), score: z.number() })),
        error: ErrorInfo.nullable(),
      }),
    ),
  }),
);
export type UploadResult = z.infer<typeof UploadResult>;

export const AnalysisRequestBody = named('AnalysisInput', WorkerJobInput);
export const AnalysisResultBody = named('AnalysisResult', WorkerJobResult);

export const Job = named(
  'Job',
  z.object({
    id: Id,
    type: JobType,
    lane: Lane,
    status: JobStatus,
    progress: JobProgressBody,
    attempts: z.number().int(),
    documents: z.array(DocumentSummary),
    error: ErrorInfo.nullable(),
    traceId: z.string().nullable(),
    createdAt: Timestamp,
    startedAt: Timestamp.nullable(),
    finishedAt: Timestamp.nullable(),
    retryOfJobId: Id.nullable(),
    acceptingDocuments: z.boolean(),
    /** An analysis's (or re-embed's) request; an upload's options (classify). */
    input: z.union([AnalysisRequestBody, IngestJobOptions]).optional(),
    /** An analysis's result once it succeeded; an upload's classification, per file. */
    result: z.union([AnalysisResultBody, UploadResult]).nullable().optional(),
  }),
);
export type Job = z.infer<typeof Job>;

export const WaitingReason = named('WaitingReason', z.enum(['no_worker', 'tenant_capacity', 'queue']));
export const StuckReason = named(
  'StuckReason',
  z.enum([
    'no_worker',
    'tenant_capacity',
    'queued',
    'worker_silent',
    'no_open_documents',
    'waiting_for_crawler',
  ]),
);

/** GET /v1/jobs/:id: the job, and for an active one why it waits, its place in the queue and an eta. */
/** One step of a job: `ingest` and `index` for uploads, the analysis's own for analyses. */
export const JobStep = named(
  'JobStep',
  z.object({
    name: z.string(),
    status: z.string(),
    done: z.number().int(),
    total: z.number().int(),
    attempts: z.number().int(),
    startedAt: Timestamp.nullable(),
    finishedAt: Timestamp.nullable(),
    /** finishedAt − startedAt, or until now while it runs; null before it starts. */
    durationMs: z.number().int().nonnegative().nullable(),
  }),
);
export type JobStep = z.infer<typeof JobStep>;

export const JobDetail = named(
  'JobDetail',
  Job.extend({
    position: z.number().int().nonnegative().nullable(),
    waiting: WaitingReason.nullable(),
    eta: z.number().nonnegative().nullable(),
    /** Each step's progress and timings, in the order they ran. */
    steps: z.array(JobStep),
  }),
);
export type JobDetail = z.infer<typeof JobDetail>;

/** A job of a list; with `stuck=true`, also why it waits and since when it has shown no sign of life. */
export const JobListItem = named(
  'JobListItem',
  Job.extend({
    waiting: WaitingReason.nullable().optional(),
    stuck: z.object({ reason: StuckReason, since: Timestamp }).optional(),
  }),
);

const NextCursor = z
  .string()
  .nullable()
  .describe('Pass it back as `cursor` for the next page; null on the last');

export const JobList = named('JobList', z.object({ items: z.array(JobListItem), nextCursor: NextCursor }));
export type JobList = z.infer<typeof JobList>;

/** The 202 of an upload: the job in brief. */
export const AcceptedJob = named(
  'AcceptedJob',
  z.object({
    id: Id,
    status: JobStatus,
    lane: Lane,
    documents: z.array(DocumentSummary),
    createdAt: Timestamp,
  }),
);
export type AcceptedJob = z.infer<typeof AcceptedJob>;

export const AcceptedRetry = named('AcceptedRetry', AcceptedJob.extend({ retryOfJobId: Id.nullable() }));
export type AcceptedRetry = z.infer<typeof AcceptedRetry>;

export const Page = named(
  'Page',
  z.object({
    pageNumber: z.number().int().positive(),
    text: z.string(),
    method: PageMethod,
    ocrConfidence: z.number().nullable(),
    label: z.string().nullable(),
    sections: z.array(z.object({ offset: z.number().int(), path: z.array(z.string()) })),
  }),
);

export const Document = named(
  'Document',
  z.object({
    id: Id,
    jobId: Id,
    filename: z.string(),
    status: DocumentStatus,
    error: ErrorInfo.nullable(),
    sha256: z.string().nullable(),
    sizeBytes: z.number().int().nullable(),
    detectedType: DetectedType.nullable(),
    title: z.string().nullable(),
    pageCount: z.number().int().nullable(),
    chunkCount: z.number().int(),
    lowConfidencePages: z.array(z.number().int()),
    source: DocumentSource,
    sourceUrl: z.string().nullable(),
    finalUrl: z.string().nullable(),
    httpStatus: z.number().int().nullable(),
    parentDocumentId: Id.nullable(),
    depth: z.number().int(),
    metadata: z.record(z.string(), z.unknown()),
    tags: z.array(z.string()),
    language: z.string().nullable(),
    labels: DocumentClassification.optional(),
    createdAt: Timestamp,
  }),
);
export type Document = z.infer<typeof Document>;

export const DocumentWithPages = named('DocumentWithPages', Document.extend({ pages: z.array(Page) }));
export type DocumentWithPages = z.infer<typeof DocumentWithPages>;

export const SearchResponse = named(
  'SearchResponse',
  z.object({
    model: z.string(),
    mode: SearchMode,
    results: z.array(named('SearchHit', SearchHit)),
    nextCursor: NextCursor,
  }),
);
export type SearchResponse = z.infer<typeof SearchResponse>;

export const ApiKey = named(
  'ApiKey',
  z.object({
    id: Id,
    name: z.string(),
    prefix: z.string(),
    scopes: z.array(ApiKeyScope),
    createdAt: Timestamp,
    expiresAt: Timestamp.nullable(),
    lastUsedAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
  }),
);
export type ApiKey = z.infer<typeof ApiKey>;
export const CreatedApiKey = named(
  'CreatedApiKey',
  ApiKey.extend({ key: z.string().describe('The key itself: shown in this answer only') }),
);
export type CreatedApiKey = z.infer<typeof CreatedApiKey>;
export const ApiKeyList = named('ApiKeyList', z.object({ items: z.array(ApiKey) }));
export type ApiKeyList = z.infer<typeof ApiKeyList>;

export const Webhook = named(
  'Webhook',
  z.object({
    id: Id,
    url: z.string(),
    events: z.array(z.string()),
    description: z.string(),
    enabled: z.boolean(),
    disabledReason: z.string().nullable(),
    failingSince: Timestamp.nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  }),
);
export type Webhook = z.infer<typeof Webhook>;
export const CreatedWebhook = named(
  'CreatedWebhook',
  Webhook.extend({ secret: z.string().describe('The signing secret: shown in this answer only') }),
);
export type CreatedWebhook = z.infer<typeof CreatedWebhook>;
export const RotatedWebhook = named(
  'RotatedWebhook',
  Webhook.extend({
    secret: z.string().describe('The new signing secret: shown in this answer only'),
    previousSecretValidUntil: Timestamp,
  }),
);
export type RotatedWebhook = z.infer<typeof RotatedWebhook>;
export const WebhookList = named('WebhookList', z.object({ items: z.array(Webhook) }));
export type WebhookList = z.infer<typeof WebhookList>;

export const WebhookDelivery = named(
  'WebhookDelivery',
  z.object({
    id: Id,
    eventId: Id,
    eventType: z.string(),
    status: z.string(),
    attempts: z.number().int(),
    nextAttemptAt: Timestamp.nullable(),
    lastResponseStatus: z.number().int().nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    attemptLog: z.array(
      z.object({
        attemptedAt: Timestamp,
        latencyMs: z.number(),
        responseStatus: z.number().int().nullable(),
        responseBody: z.string().nullable(),
        error: z.string().nullable(),
        ok: z.boolean(),
      }),
    ),
  }),
);
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;
export const WebhookDeliveryList = named(
  'WebhookDeliveryList',
  z.object({ items: z.array(WebhookDelivery), nextCursor: NextCursor }),
);
export type WebhookDeliveryList = z.infer<typeof WebhookDeliveryList>;
export const WebhookDeliveryReplay = named(
  'WebhookDeliveryReplay',
  z.object({ webhookId: Id, deliveryId: Id, status: z.literal('pending') }),
);
export type WebhookDeliveryReplay = z.infer<typeof WebhookDeliveryReplay>;

const UsageTotals = z.object({
  documents: z.number(),
  pagesParsed: z.number(),
  pagesOcr: z.number(),
  chunksEmbedded: z.number(),
  embeddingTokens: z.number(),
  llmTokens: z.number(),
  storageBytes: z.number(),
});
const QuotaStanding = z.object({ limit: z.number().nullable(), used: z.number() });
export const UsageReport = named(
  'UsageReport',
  z.object({
    from: Timestamp,
    to: Timestamp,
    groupBy: z.enum(['day', 'none']),
    totals: UsageTotals,
    days: z.array(UsageTotals.extend({ day: z.iso.date() })).optional(),
    quotas: z.object({
      periodStart: Timestamp,
      periodEnd: Timestamp,
      pagesPerMonth: QuotaStanding,
      embeddingTokensPerMonth: QuotaStanding,
    }),
  }),
);
export type UsageReport = z.infer<typeof UsageReport>;

export const DeadLetter = named(
  'DeadLetter',
  z.object({
    id: Id,
    command: z.string(),
    code: z.string(),
    reason: z.string(),
    jobId: Id.nullable(),
    documentId: Id.nullable(),
    originSubject: z.string(),
    originMsgId: z.string(),
    deliveryCount: z.number().int(),
    dlqStreamSeq: z.number().int(),
    traceId: z.string().nullable(),
    payload: z.unknown().describe('The message as it was dead-lettered'),
    createdAt: Timestamp,
    replayedAt: Timestamp.nullable(),
    replayCount: z.number().int(),
    lastReplayJobId: Id.nullable(),
  }),
);
export type DeadLetter = z.infer<typeof DeadLetter>;
export const DeadLetterList = named(
  'DeadLetterList',
  z.object({ items: z.array(DeadLetter), nextCursor: NextCursor }),
);
export type DeadLetterList = z.infer<typeof DeadLetterList>;
export const DeadLetterReplay = named('DeadLetterReplay', z.object({ deadLetterId: Id, jobId: Id }));
export type DeadLetterReplay = z.infer<typeof DeadLetterReplay>;

export const FirecrawlReceipt = named(
  'FirecrawlReceipt',
  z.object({
    received: z.literal(true),
    jobId: Id.optional(),
    documents: z.number().int(),
    ignored: z.string().optional(),
    duplicate: z.literal(true).optional(),
    jobFinished: z.literal(true).optional(),
  }),
);
export type FirecrawlReceipt = z.infer<typeof FirecrawlReceipt>;

/** What each `data:` line of the event streams carries (docs/events.md). */
export const Event = named('QuarryEvent', QuarryEvent);
