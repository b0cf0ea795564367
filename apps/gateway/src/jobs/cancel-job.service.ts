import { Inject, Injectable } from '@nestjs/common';
import { QuarryError } from '@quarry/contracts';
import { OutboxRelay } from '@quarry/messaging';
import { finishedJobIn, JobsRepository, PipelineRepository, type JobView } from '@quarry/persistence';
import { LOGGER, QUARRY_METRICS, type Logger, type QuarryMetrics } from '@quarry/telemetry';

/**
 * Cancels a tenant's active job. The job, its open documents, a job event and the
 * `events.job.cancelled` outbox row change in one transaction; the event is published after the
 * commit, and workers subscribed to it stop the job's documents at their next page or batch boundary.
 */
@Injectable()
export class CancelJobService {
  constructor(
    private readonly pipeline: PipelineRepository,
    private readonly jobs: JobsRepository,
    private readonly relay: OutboxRelay,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(QUARRY_METRICS) private readonly metrics: QuarryMetrics,
  ) {}

  async cancel(tenantId: string, jobId: string): Promise<JobView> {
    const result = await this.pipeline.cancelJob(tenantId, jobId);
    if (result.outcome === 'not_found') throw new QuarryError('not_found', `job ${jobId} not found`);
    if (result.outcome === 'terminal') {
      throw new QuarryError('conflict', `job ${jobId} is already ${result.status} and cannot be cancelled`, {
        details: { status: result.status },
      });
    }
    // Committed: a failed publish only delays the event until the relay's sweep.
    await this.relay.publishNow(result.outbox);
    this.metrics.jobFinished(finishedJobIn(result.outbox));
    this.logger.info(
      { jobId, tenantId, from: result.fromStatus, documents: result.cancelledDocuments },
      'job cancelled',
    );
    const job = await this.jobs.getJob(tenantId, jobId);
    if (!job) throw new QuarryError('not_found', `job ${jobId} not found`);
    return job;
  }
}
