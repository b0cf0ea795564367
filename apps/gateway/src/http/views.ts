import type { JobType } from '@quarry/contracts';
import type { DocumentView, JobStepView, JobView } from '@quarry/persistence';
import type { FastifyReply } from 'fastify';
import { jobProgress } from './job-progress';
import type { AcceptedJob, Document, DocumentSummary, Job, JobStep, UploadResult } from './response-schemas';

/** The public shape of a job; internal columns (tenant, traceparent) stay inside. */
export function jobResponse(job: JobView): Job {
  return {
    id: job.id,
    // A text column; JobType names every value the code writes (the conformance check holds it to that).
    type: job.type as JobType,
    lane: job.lane,
    status: job.status,
    progress: jobProgress(job),
    attempts: job.attempts,
    documents: job.documents.map(documentSummary),
    error: job.error ? { code: job.error.code, message: job.error.message } : null,
    traceId: job.traceId,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
    retryOfJobId: job.retryOfJobId,
    acceptingDocuments: job.acceptingDocuments,
    // An analysis job's request and, once it succeeded, its result; an upload's classification, per file.
    ...(job.input ? { input: job.input } : {}),
    ...(job.input ? { result: job.type === 'ingest' ? uploadResult(job) : job.result } : {}),
  };
}

/** A step's timings as clients read them; a running step's duration runs up to `now`. */
export function jobStepResponse(step: JobStepView, now: Date = new Date()): JobStep {
  const end = step.finishedAt ?? (step.startedAt ? now : null);
  return {
    name: step.name,
    status: step.status,
    done: step.done,
    total: step.total,
    attempts: step.attempts,
    startedAt: step.startedAt?.toISOString() ?? null,
    finishedAt: step.finishedAt?.toISOString() ?? null,
    durationMs: step.startedAt && end ? Math.max(0, end.getTime() - step.startedAt.getTime()) : null,
  };
}

export function documentSummary(d: DocumentView): DocumentSummary {
  return {
    id: d.id,
    filename: d.filename,
    status: d.status,
    error: d.error ? { code: d.error.code, message: d.error.message } : null,
    detectedType: d.detectedType,
    source: d.source,
    ...(d.sourceUrl ? { sourceUrl: d.sourceUrl } : {}),
    ...(d.parentDocumentId ? { parentDocumentId: d.parentDocumentId } : {}),
  };
}

/** A document with everything known about it (GET /v1/documents/:id), pages aside. */
export function documentDetail(d: DocumentView): Document {
  return {
    id: d.id,
    jobId: d.jobId,
    filename: d.filename,
    status: d.status,
    error: d.error ? { code: d.error.code, message: d.error.message } : null,
    sha256: d.sha256,
    sizeBytes: d.sizeBytes,
    detectedType: d.detectedType,
    title: d.title,
    pageCount: d.pageCount,
    chunkCount: d.chunkCount ?? 0,
    lowConfidencePages: d.lowConfidencePages,
    source: d.source,
    sourceUrl: d.sourceUrl,
    finalUrl: d.finalUrl,
    httpStatus: d.httpStatus,
    parentDocumentId: d.parentDocumentId,
    depth: d.depth,
    metadata: d.metadata,
    tags: d.tags,
    language: d.language,
    ...(d.labels ? { labels: d.labels } : {}),
    createdAt: d.createdAt.toISOString(),
  };
}

/**
 * Headers of the 202 a request that created a job answers (an upload, a retry, a replay): Location
 * names the job; Idempotent-Replayed says an Idempotency-Key found an earlier one instead.
 */
export function markJobAccepted(job: Pick<JobView, 'id'>, created: boolean, reply: FastifyReply): void {
  void reply.header('Location', `/v1/jobs/${job.id}`);
  if (!created) void reply.header('Idempotent-Replayed', 'true');
}

/** The 202 of an upload or a retry: those headers and the job in brief. */
export function acceptedJob(job: JobView, created: boolean, reply: FastifyReply): AcceptedJob {
  markJobAccepted(job, created, reply);
  return {
    id: job.id,
    status: job.status,
    lane: job.lane,
    documents: job.documents.map(documentSummary),
    createdAt: job.createdAt.toISOString(),
  };
}

/**
 * The result of an upload that asked for `classify`, in the shape the classification service's clients read:
 * per file its status, labels (once indexed) and error.
 */
export function uploadResult(job: JobView): UploadResult | null {
  if (!job.input || !('classify' in job.input) || !job.input.classify) return null;
  const results = job.documents.map((d) => ({
    documentId: d.id,
    filename: d.filename,
    status: d.status,
    labels: d.labels?.labels ?? [],
    scores: d.labels?.scores ?? [],
    error: d.error ? { code: d.error.code, message: d.error.message } : null,
  }));
  return {
    totalFiles: results.length,
    successful: results.filter((r) => r.status === 'indexed').length,
    failed: results.filter((r) => r.status === 'failed').length,
    results,
  };
}
