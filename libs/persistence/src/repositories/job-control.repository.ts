import {
  JobType,
  MessageIds,
  type DetectedType,
  type ErrorInfo,
  type JobEvent,
  type JobStatus,
  type Topology,
} from '@quarry/contracts';
import type { PrismaClient } from '../generated/prisma/client';
import { inTransaction, type AfterCommit } from './after-commit';
import { lockActiveJob } from './document-steps';
import { finishJobIfDone } from './job-completion';
import { appendJobEvent, insertOutbox } from './sql';
import type { DocumentWork, OutboxRow } from './types';

/** What `cancelJob` did; `outbox` holds the cancelled event (handed to the after-commit port). */
export type CancelJobResult =
  | { outcome: 'not_found' }
  | { outcome: 'terminal'; status: JobStatus }
  | { outcome: 'cancelled'; fromStatus: JobStatus; cancelledDocuments: number; outbox: OutboxRow[] };

/**
 * What happens to a job besides its steps' work: progress reports, a document failing on its own (the job goes
 * on, or ends if that was its last document) and cancellation. Each is conditional on an active job, under its
 * row's lock when it may end the job; the job's final event goes to the after-commit port before returning.
 */
export class JobControlRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly topology: Topology,
    private readonly afterCommit: AfterCommit,
  ) {}

  async reportProgress(
    jobId: string,
    progress: { step: string; done: number; total: number; message?: string; details?: string },
  ) {
    await this.prisma.$executeRaw`
      UPDATE jobs SET progress = ${JSON.stringify(progress)}::jsonb, heartbeat_at = now(), updated_at = now()
      WHERE id = ${jobId}::uuid AND status = 'running'`;
  }

  /**
   * The document failed on its own; the job goes on, or finishes if this was its last document.
   * Scoped to the tenant and job given; the documents of a terminal job no longer change. Returns the rows of
   * the job's final event when this ended it (handed to the port with the job).
   */
  async failDocument(
    work: Pick<DocumentWork, 'jobId' | 'documentId' | 'tenantId'>,
    error: ErrorInfo,
    known?: { finalUrl?: string | undefined; httpStatus?: number | undefined; detectedType?: DetectedType },
  ): Promise<OutboxRow[]> {
    return inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
      if (!(await lockActiveJob(tx, work.jobId))) return [];
      const moved = await tx.$queryRaw<{ from_status: string }[]>`
        UPDATE documents d SET status = 'failed', error = ${JSON.stringify(error)}::jsonb, updated_at = now(),
               final_url = coalesce(${known?.finalUrl ?? null}, d.final_url),
               http_status = coalesce(${known?.httpStatus ?? null}::int, d.http_status),
               detected_type = coalesce(${known?.detectedType ?? null}, d.detected_type)
        FROM documents old
        WHERE d.id = ${work.documentId}::uuid AND d.tenant_id = ${work.tenantId}::uuid
          AND d.job_id = ${work.jobId}::uuid AND old.id = d.id AND d.status NOT IN ('indexed', 'failed', 'cancelled')
        RETURNING old.status::text AS from_status`;
      if (moved.length === 0) return [];
      await appendJobEvent(tx, {
        jobId: work.jobId,
        tenantId: work.tenantId,
        kind: 'document_failed',
        data: { documentId: work.documentId, from: moved[0]?.from_status, error },
      });
      return notes.ended(await finishJobIfDone(tx, this.topology, work.jobId));
    });
  }

  /**
   * Cancels an active job: the job and its open documents become `cancelled` and `events.job.cancelled`
   * goes into the outbox, in one transaction under the job row's lock. A worker completing a document
   * at the same moment either commits first (its document keeps its result) or finds the job terminal
   * and writes nothing; claims of later deliveries answer `job_finished`.
   */
  async cancelJob(tenantId: string, jobId: string): Promise<CancelJobResult> {
    return inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
      const [job] = await tx.$queryRaw<
        {
          status: JobStatus;
          type: string;
          trace_id: string | null;
          traceparent: string | null;
          created_at: Date;
        }[]
      >`
        SELECT status::text AS status, type, trace_id, traceparent, created_at FROM jobs
        WHERE id = ${jobId}::uuid AND tenant_id = ${tenantId}::uuid FOR UPDATE`;
      if (!job) return { outcome: 'not_found' } as const;
      const [moved] = await tx.$queryRaw<{ finished_at: Date }[]>`
        UPDATE jobs SET status = 'cancelled', finished_at = now(), updated_at = now(), heartbeat_at = now()
        WHERE id = ${jobId}::uuid AND status IN ('queued', 'running')
        RETURNING finished_at`;
      if (!moved) return { outcome: 'terminal', status: job.status } as const;
      const cancelled = await tx.$executeRaw`
        UPDATE documents SET status = 'cancelled', updated_at = now()
        WHERE job_id = ${jobId}::uuid AND status NOT IN ('indexed', 'failed', 'cancelled')`;
      const [counts] = await tx.$queryRaw<{ ok: number; failed: number; total: number }[]>`
        SELECT count(*) FILTER (WHERE status = 'indexed')::int AS ok,
               count(*) FILTER (WHERE status = 'failed')::int AS failed, count(*)::int AS total
        FROM documents WHERE job_id = ${jobId}::uuid`;
      await tx.$executeRaw`
        UPDATE job_steps SET status = 'cancelled', finished_at = coalesce(finished_at, now())
        WHERE job_id = ${jobId}::uuid AND status IN ('queued', 'running')`;
      await appendJobEvent(tx, {
        jobId,
        tenantId,
        kind: 'status',
        fromStatus: job.status,
        toStatus: 'cancelled',
        data: { cancelledDocuments: cancelled },
      });
      const event: JobEvent = {
        v: 1,
        jobId,
        tenantId,
        type: JobType.catch('ingest').parse(job.type),
        status: 'cancelled',
        occurredAt: new Date().toISOString(),
        documents: { total: counts?.total ?? 0, succeeded: counts?.ok ?? 0, failed: counts?.failed ?? 0 },
        ...(job.trace_id ? { traceId: job.trace_id } : {}),
      };
      const outbox = notes.ended({
        outbox: await insertOutbox(tx, [
          {
            tenantId,
            jobId,
            subject: this.topology.eventSubject('cancelled'),
            msgId: MessageIds.jobEvent(jobId, 'cancelled'),
            payload: event,
            headers: job.traceparent ? { traceparent: job.traceparent } : {},
          },
        ]),
        finishedJob: {
          jobId,
          type: job.type,
          status: 'cancelled',
          createdAt: job.created_at,
          finishedAt: moved.finished_at,
        },
      });
      return { outcome: 'cancelled', fromStatus: job.status, cancelledDocuments: cancelled, outbox } as const;
    });
  }
}
