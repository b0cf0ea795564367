import { Inject, Injectable } from '@nestjs/common';
import { commandEnvelope, QuarryError, uuidv7, type Topology } from '@quarry/contracts';
import { TOPOLOGY } from '@quarry/messaging';
import { DeadLettersRepository, JobsRepository, type JobView, type NewRetryJob } from '@quarry/persistence';
import {
  currentOrNewTraceparent,
  LOGGER,
  parseTraceparent,
  QUARRY_METRICS,
  type Logger,
  type QuarryMetrics,
} from '@quarry/telemetry';

/** Ports: the repositories implement them (and publish what they commit). */
export type RetryJobs = Pick<JobsRepository, 'createRetryJob'>;
export type ReplayDeadLetters = Pick<DeadLettersRepository, 'replay'>;

export interface RetryResult {
  job: JobView;
  /** False when the Idempotency-Key named an earlier job, which is answered instead. */
  created: boolean;
}

/**
 * Retries and replays make a NEW job (a terminal job never changes) that points at the job it retries,
 * with copies of the documents to try again; job, documents and outbox rows commit together and the
 * repository publishes the commands after the commit, as for an upload.
 */
@Injectable()
export class RetryService {
  constructor(
    @Inject(JobsRepository) private readonly jobs: RetryJobs,
    @Inject(DeadLettersRepository) private readonly deadLetters: ReplayDeadLetters,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(QUARRY_METRICS) private readonly metrics: Pick<QuarryMetrics, 'counter'>,
  ) {}

  /** A new job with copies of the failed documents of a `failed` or `completed_with_failures` job. */
  async retryJob(tenantId: string, jobId: string, idempotencyKey: string | null): Promise<RetryResult> {
    const r = await this.jobs.createRetryJob(jobId, this.newJob(tenantId, idempotencyKey));
    switch (r.kind) {
      case 'not_found':
        throw new QuarryError('not_found', `job ${jobId} not found`);
      case 'not_retryable':
        throw new QuarryError(
          'conflict',
          `job ${jobId} is ${r.status}: only a failed or completed_with_failures job can be retried`,
        );
      case 'no_failed_documents':
        throw new QuarryError('conflict', `job ${jobId} has no failed documents to retry`);
    }
    if (r.kind === 'created') {
      this.jobCreated(r.job);
      this.logger.info(
        { jobId: r.job.id, retryOf: jobId, tenantId, documents: r.job.documents.length },
        'job retried',
      );
    }
    return { job: r.job, created: r.kind === 'created' };
  }

  /** A new job running the dead letter's document again from the command that was dead-lettered. */
  async replayDeadLetter(
    tenantId: string,
    deadLetterId: string,
    idempotencyKey: string | null,
  ): Promise<RetryResult> {
    const r = await this.deadLetters.replay(tenantId, deadLetterId, this.newJob(tenantId, idempotencyKey));
    switch (r.kind) {
      case 'not_found':
        throw new QuarryError('not_found', `dead letter ${deadLetterId} not found`);
      case 'no_document':
        throw new QuarryError(
          'conflict',
          `dead letter ${deadLetterId} names no job and document (its message was invalid): nothing to replay`,
        );
      case 'document_gone':
        throw new QuarryError(
          'conflict',
          `dead letter ${deadLetterId} cannot be replayed: its document ${r.documentId} no longer exists`,
        );
      case 'unknown_command':
        throw new QuarryError(
          'conflict',
          `dead letter ${deadLetterId} is a "${r.command}" message, which cannot be replayed`,
        );
    }
    if (r.kind === 'replayed') {
      this.jobCreated(r.job);
      this.logger.info(
        { jobId: r.job.id, deadLetterId, retryOf: r.job.retryOfJobId, replays: r.deadLetter.replayCount },
        'dead letter replayed',
      );
    }
    return { job: r.job, created: r.kind === 'replayed' };
  }

  private jobCreated(job: JobView): void {
    this.metrics.counter('quarry_jobs_created_total').inc({ type: job.type, lane: job.lane });
  }

  private newJob(tenantId: string, idempotencyKey: string | null): NewRetryJob {
    const traceparent = currentOrNewTraceparent();
    return {
      id: uuidv7(),
      tenantId,
      idempotencyKey,
      traceparent,
      traceId: parseTraceparent(traceparent)?.traceId ?? null,
      newDocumentId: () => uuidv7(),
      command: (c) =>
        commandEnvelope(this.topology, c.name, {
          v: 1,
          jobId: c.jobId,
          tenantId: c.tenantId,
          documentId: c.documentId,
          traceparent,
          lane: c.lane,
        }),
    };
  }
}
