import type { DocumentView, JobView } from '@quarry/persistence';

/** The public shape of a job; internal columns (tenant, traceparent) stay inside. */
export function jobResponse(job: JobView) {
  return {
    id: job.id,
    type: job.type,
    lane: job.lane,
    status: job.status,
    progress: job.progress,
    attempts: job.attempts,
    documents: job.documents.map(documentSummary),
    error: job.error ? { code: job.error.code, message: job.error.message } : null,
    traceId: job.traceId,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
    retryOfJobId: job.retryOfJobId,
  };
}

export function documentSummary(d: DocumentView) {
  return {
    id: d.id,
    filename: d.filename,
    status: d.status,
    error: d.error ? { code: d.error.code, message: d.error.message } : null,
  };
}
