// The rules that decide how a job ends: pure functions of what the state machine read under the job's lock, so
// they are unit-tested without a database. The repositories store and load; these decide.
import {
  JobType,
  ErrorInfoSchema,
  MessageIds,
  type ErrorInfo,
  type JobEvent,
  type JobStatus,
  type Topology,
} from '@quarry/contracts';
import type { OutboxInsert } from '../repositories/types';

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

/** What ending a job needs to know of it: its row and its documents' tally, read under its lock. */
export interface JobTally extends Omit<DocumentTally, 'open'> {
  id: string;
  tenant_id: string;
  type: string;
  /** The status the ending replaces (queued or running). */
  status: string;
  trace_id: string | null;
  traceparent: string | null;
}

/** How a job ends: its final status, error and progress, and the event that tells the world. */
export interface JobEnding {
  jobId: string;
  type: string;
  status: JobStatus;
  fromStatus: string;
  error: ErrorInfo | null;
  progress: { step: 'index'; done: number; total: number };
  outbox: OutboxInsert;
}

/** The ending of a job from its tally and verdict: a pure function of what was read under the lock. */
export function jobEnding(
  topology: Topology,
  tally: JobTally,
  verdict: NonNullable<JobVerdict>,
  error: ErrorInfo | null,
  now: Date = new Date(),
): JobEnding {
  const final = verdict.status;
  const kind = final === 'failed' ? 'failed' : 'completed';
  const event: JobEvent = {
    v: 1,
    jobId: tally.id,
    tenantId: tally.tenant_id,
    type: JobType.catch('ingest').parse(tally.type),
    status: final,
    occurredAt: now.toISOString(),
    documents: { total: tally.total, succeeded: tally.ok, failed: tally.failed },
    ...(error ? { error: { code: error.code, message: error.message } } : {}),
    ...(tally.trace_id ? { traceId: tally.trace_id } : {}),
  };
  return {
    jobId: tally.id,
    type: tally.type,
    status: final,
    fromStatus: tally.status,
    error,
    progress: { step: 'index', done: tally.ok + tally.failed, total: tally.total },
    outbox: {
      tenantId: tally.tenant_id,
      jobId: tally.id,
      subject: topology.eventSubject(kind),
      msgId: MessageIds.jobEvent(tally.id, kind),
      payload: event,
      headers: tally.traceparent ? { traceparent: tally.traceparent } : {},
    },
  };
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
  const code = ErrorInfoSchema.shape.code.safeParse(tally.first_error_code).data;
  return code ? { ...verdict.error, code } : verdict.error;
}
