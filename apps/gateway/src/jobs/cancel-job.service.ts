import { Inject, Injectable } from '@nestjs/common';
import { QuarryError } from '@quarry/contracts';
import { JobsRepository, JobControlRepository, type JobView } from '@quarry/persistence';
import { LOGGER, type Logger } from '@quarry/telemetry';

/**
 * Cancels a tenant's active job. The job, its open documents, a job event and the
 * `events.job.cancelled` outbox row change in one transaction; the repository publishes the event after
 * the commit, and workers subscribed to it stop the job's documents at their next page or batch boundary.
 */
@Injectable()
export class CancelJobService {
  constructor(
    private readonly jobControl: JobControlRepository,
    private readonly jobs: JobsRepository,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async cancel(tenantId: string, jobId: string): Promise<JobView> {
    const result = await this.jobControl.cancelJob(tenantId, jobId);
    if (result.outcome === 'not_found') throw new QuarryError('not_found', `job ${jobId} not found`);
    if (result.outcome === 'terminal') {
      throw new QuarryError('conflict', `job ${jobId} is already ${result.status} and cannot be cancelled`, {
        details: { status: result.status },
      });
    }
    this.logger.info(
      { jobId, tenantId, from: result.fromStatus, documents: result.cancelledDocuments },
      'job cancelled',
    );
    const job = await this.jobs.getJob(tenantId, jobId);
    if (!job) throw new QuarryError('not_found', `job ${jobId} not found`);
    return job;
  }
}
