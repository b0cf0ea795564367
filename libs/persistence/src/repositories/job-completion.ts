import { MessageIds, type ErrorInfo, type JobEvent, type JobStatus, type Topology } from '@quarry/contracts';
import { appendJobEvent, insertOutbox, type Tx } from './sql';
import type { FinishedJob, OutboxRow } from './types';

/** How a job's documents stand when it may finish. */
export interface DocumentTally {
  open: number;
  ok: number;
  failed: number;
  total: number;
}

/** A job's final status and error from its documents, or null while it cannot finish. */
export type JobVerdict = { status: JobStatus; error: ErrorInfo | null } | null;

/**
 * The rule that ends a job. It waits while any document is open or while a crawler may still deliver pages
 * (`accepting`). Then: all documents indexed → succeeded; none → failed; some → completed_with_failures. A job
 * that ends with no document at all (a crawl that delivered nothing) fails with `crawl_failed`.
 */
export function jobVerdict(t: DocumentTally, accepting: boolean): JobVerdict {
  if (accepting || t.open > 0) return null;
  if (t.total === 0) {
    return {
      status: 'failed',
      error: { code: 'crawl_failed', message: 'the crawl ended without a single page' },
    };
  }
  if (t.failed === 0) return { status: 'succeeded', error: null };
  if (t.ok === 0)
    return { status: 'failed', error: { code: 'internal', message: `all ${t.total} document(s) failed` } };
  return {
    status: 'completed_with_failures',
    error: { code: 'internal', message: `${t.failed} of ${t.total} document(s) failed` },
  };
}

/**
 * Runs with the job row locked: when the job can finish (see jobVerdict), it takes its final status
 * (conditional on being active, so it happens once) and its event goes into the outbox. `closing` carries the
 * error of a crawl the crawler reported failed, which the job reports when it has no document of its own.
 */
export async function finishJobIfDone(
  tx: Tx,
  topology: Topology,
  jobId: string,
  closing?: { error?: ErrorInfo },
): Promise<OutboxRow[]> {
  const [counts] = await tx.$queryRaw<(DocumentTally & { accepting: boolean })[]>`
    SELECT count(d.id) FILTER (WHERE d.status NOT IN ('indexed', 'failed', 'cancelled'))::int AS open,
           count(d.id) FILTER (WHERE d.status = 'indexed')::int AS ok,
           count(d.id) FILTER (WHERE d.status = 'failed')::int AS failed,
           count(d.id)::int AS total,
           j.accepting_documents AS accepting
    FROM jobs j LEFT JOIN documents d ON d.job_id = j.id
    WHERE j.id = ${jobId}::uuid
    GROUP BY j.accepting_documents`;
  if (!counts) return [];
  const verdict = jobVerdict(counts, counts.accepting);
  if (!verdict) return [];
  const final = verdict.status;
  const error =
    counts.total === 0 && closing?.error
      ? closing.error
      : verdict.error && counts.total > 0
        ? await firstDocumentError(tx, jobId, verdict.error)
        : verdict.error;
  // Every caller holds the job row's lock, so `prev` is the status this update replaces: a job whose
  // documents were all dead-lettered before any claim goes queued → failed, not running → failed.
  const done = await tx.$queryRaw<
    {
      tenant_id: string;
      type: string;
      trace_id: string | null;
      traceparent: string | null;
      from_status: string;
      created_at: Date;
      finished_at: Date;
    }[]
  >`
    WITH prev AS (SELECT status::text AS status FROM jobs WHERE id = ${jobId}::uuid)
    UPDATE jobs SET status = ${final}::job_status, finished_at = now(), updated_at = now(), heartbeat_at = now(),
           error = ${error ? JSON.stringify(error) : null}::jsonb,
           progress = jsonb_build_object('step', 'index', 'done', ${counts.ok + counts.failed}::int, 'total', ${counts.total}::int)
    FROM prev
    WHERE jobs.id = ${jobId}::uuid AND jobs.status IN ('queued', 'running')
    RETURNING jobs.tenant_id, jobs.type, jobs.trace_id, jobs.traceparent, prev.status AS from_status,
              jobs.created_at, jobs.finished_at`;
  const job = done[0];
  if (!job) return [];
  await appendJobEvent(tx, {
    jobId,
    tenantId: job.tenant_id,
    kind: 'status',
    fromStatus: job.from_status,
    toStatus: final,
  });
  // Failed documents never count as done in a step: close the steps with the job, none stays running.
  await tx.$executeRaw`
    UPDATE job_steps SET finished_at = coalesce(finished_at, now()),
           status = CASE WHEN done >= total THEN 'succeeded' WHEN done = 0 THEN 'failed'
                         ELSE 'completed_with_failures' END
    WHERE job_id = ${jobId}::uuid AND status IN ('queued', 'running')`;
  const kind = final === 'failed' ? 'failed' : 'completed';
  const event: JobEvent = {
    v: 1,
    jobId,
    tenantId: job.tenant_id,
    type: job.type === 'analyze' ? 'analyze' : 'ingest',
    status: final,
    occurredAt: new Date().toISOString(),
    documents: { total: counts.total, succeeded: counts.ok, failed: counts.failed },
    ...(error ? { error: { code: error.code, message: error.message } } : {}),
    ...(job.trace_id ? { traceId: job.trace_id } : {}),
  };
  const rows = await insertOutbox(tx, [
    {
      tenantId: job.tenant_id,
      jobId,
      subject: topology.eventSubject(kind),
      msgId: MessageIds.jobEvent(jobId, kind),
      payload: event,
      headers: job.traceparent ? { traceparent: job.traceparent } : {},
    },
  ]);
  return withFinishedJob(rows, {
    jobId,
    type: job.type,
    status: final,
    createdAt: job.created_at,
    finishedAt: job.finished_at,
  });
}

/** A failed job reports its first document's error code, so clients see `corrupt_pdf`, not a generic code. */
async function firstDocumentError(tx: Tx, jobId: string, fallback: ErrorInfo): Promise<ErrorInfo> {
  const [row] = await tx.$queryRaw<{ code: string | null }[]>`
    SELECT error->>'code' AS code FROM documents WHERE job_id = ${jobId}::uuid AND status = 'failed'
    ORDER BY updated_at LIMIT 1`;
  return row?.code ? { ...fallback, code: row.code as ErrorInfo['code'] } : fallback;
}

/** Marks the final event's row (the only row these calls insert) with the job it finished. */
export function withFinishedJob(rows: OutboxRow[], job: FinishedJob): OutboxRow[] {
  return rows.map((r, i) => (i === 0 ? { ...r, finishedJob: job } : r));
}
