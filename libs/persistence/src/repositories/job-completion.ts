import { MessageIds, type ErrorInfo, type JobEvent, type JobStatus, type Topology } from '@quarry/contracts';
import { outboxInsertCte, outboxRowsOf, sql, type Tx } from './sql';
import type { FinishedJob, OutboxInsert, OutboxRow } from './types';

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

interface JobTallyRow extends DocumentTally {
  accepting: boolean;
  status: string;
  tenant_id: string;
  type: string;
  trace_id: string | null;
  traceparent: string | null;
  first_error_code: string | null;
}

/**
 * Runs with the job row locked: when the job can finish (see jobVerdict), it takes its final status
 * (conditional on being active, so it happens once) and its event goes into the outbox. `closing` carries the
 * error of a crawl the crawler reported failed, which the job reports when it has no document of its own.
 * Two statements: the tally (a statement of its own, so it sees every document committed before the lock was
 * taken), then, when the job ends, one that ends it, records the event, closes its steps and writes the outbox row.
 */
export async function finishJobIfDone(
  tx: Tx,
  topology: Topology,
  jobId: string,
  closing?: { error?: ErrorInfo },
): Promise<OutboxRow[]> {
  const [tally] = await tx.$queryRaw<JobTallyRow[]>`
    SELECT count(d.id) FILTER (WHERE d.status NOT IN ('indexed', 'failed', 'cancelled'))::int AS open,
           count(d.id) FILTER (WHERE d.status = 'indexed')::int AS ok,
           count(d.id) FILTER (WHERE d.status = 'failed')::int AS failed,
           count(d.id)::int AS total,
           j.accepting_documents AS accepting, j.status::text AS status, j.tenant_id, j.type, j.trace_id,
           j.traceparent,
           (SELECT f.error->>'code' FROM documents f WHERE f.job_id = j.id AND f.status = 'failed'
            ORDER BY f.updated_at LIMIT 1) AS first_error_code
    FROM jobs j LEFT JOIN documents d ON d.job_id = j.id
    WHERE j.id = ${jobId}::uuid
    GROUP BY j.id`;
  if (!tally || (tally.status !== 'queued' && tally.status !== 'running')) return [];
  const verdict = jobVerdict(tally, tally.accepting);
  if (!verdict) return [];
  const final = verdict.status;
  const error = finalJobError(verdict, tally, closing);
  const kind = final === 'failed' ? 'failed' : 'completed';
  const event: JobEvent = {
    v: 1,
    jobId,
    tenantId: tally.tenant_id,
    type: tally.type === 'analyze' ? 'analyze' : 'ingest',
    status: final,
    occurredAt: new Date().toISOString(),
    documents: { total: tally.total, succeeded: tally.ok, failed: tally.failed },
    ...(error ? { error: { code: error.code, message: error.message } } : {}),
    ...(tally.trace_id ? { traceId: tally.trace_id } : {}),
  };
  const outbox: OutboxInsert = {
    tenantId: tally.tenant_id,
    jobId,
    subject: topology.eventSubject(kind),
    msgId: MessageIds.jobEvent(jobId, kind),
    payload: event,
    headers: tally.traceparent ? { traceparent: tally.traceparent } : {},
  };
  // The caller holds the job row's lock, so the tallied status is the one this update replaces: a job whose
  // documents were all dead-lettered before any claim goes queued → failed, not running → failed.
  // Failed documents never count as done in a step: the steps close with the job, none stays running.
  const [done] = await tx.$queryRaw<
    { created_at: Date; finished_at: Date; outbox: { id: string; msg_id: string }[] }[]
  >`
    WITH done AS (
      UPDATE jobs SET status = ${final}::job_status, finished_at = now(), updated_at = now(), heartbeat_at = now(),
             error = ${error ? JSON.stringify(error) : null}::jsonb,
             progress = jsonb_build_object('step', 'index', 'done', ${tally.ok + tally.failed}::int, 'total', ${tally.total}::int)
      WHERE id = ${jobId}::uuid AND status IN ('queued', 'running')
      RETURNING created_at, finished_at),
    event AS (
      INSERT INTO job_events (job_id, tenant_id, kind, from_status, to_status, data)
      SELECT ${jobId}::uuid, ${tally.tenant_id}::uuid, 'status', ${tally.status}, ${final}, '{}'::jsonb FROM done),
    steps AS (
      UPDATE job_steps s SET finished_at = coalesce(s.finished_at, now()),
             status = CASE WHEN s.done >= s.total THEN 'succeeded' WHEN s.done = 0 THEN 'failed'
                           ELSE 'completed_with_failures' END
      WHERE s.job_id = ${jobId}::uuid AND s.status IN ('queued', 'running') AND EXISTS (SELECT 1 FROM done)),
    ${outboxInsertCte([outbox], sql`done`)}
    SELECT done.created_at, done.finished_at,
           coalesce((SELECT json_agg(json_build_object('id', id::text, 'msg_id', msg_id)) FROM outbox_row), '[]'::json)
             AS outbox
    FROM done`;
  if (!done) return [];
  return withFinishedJob(outboxRowsOf([outbox], done.outbox), {
    jobId,
    type: tally.type,
    status: final,
    createdAt: done.created_at,
    finishedAt: done.finished_at,
  });
}

/**
 * The error a finishing job reports: a crawl that delivered nothing reports the crawler's own error when it
 * gave one; a job with failed documents reports its first failed document's code (so clients see
 * `corrupt_pdf`, not a generic code) with the verdict's message.
 */
export function finalJobError(
  verdict: NonNullable<JobVerdict>,
  tally: { total: number; first_error_code: string | null },
  closing?: { error?: ErrorInfo },
): ErrorInfo | null {
  if (tally.total === 0 && closing?.error) return closing.error;
  if (!verdict.error || tally.total === 0 || !tally.first_error_code) return verdict.error;
  return { ...verdict.error, code: tally.first_error_code as ErrorInfo['code'] };
}

/** Marks the final event's row (the only row these calls insert) with the job it finished. */
export function withFinishedJob(rows: OutboxRow[], job: FinishedJob): OutboxRow[] {
  return rows.map((r, i) => (i === 0 ? { ...r, finishedJob: job } : r));
}
