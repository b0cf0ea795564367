import type { JobType } from '@quarry/contracts';
import {
  deadlineExceeded,
  type AnalysesRepository,
  type MaintenanceRepository,
  type OverdueDocument,
} from '@quarry/persistence';
import type { Logger } from '@quarry/telemetry';

export interface StepDeadlineOptions {
  /** Per job type, how long one of its steps may run (STEP_DEADLINE_MS and its per-type overrides). */
  deadlinesMs: Record<JobType, number>;
  /** Documents, and jobs of each type without documents, failed per run at most. */
  batchSize?: number;
}

export interface StepDeadlineReport {
  documents: OverdueDocument[];
  jobs: { jobId: string; type: string }[];
}

/** The job types whose one step is the job's (an analysis, a re-embed): they end as a whole. */
const WORKER_JOB_TYPES = ['analyze', 'reindex'] as const;

/**
 * Every job ends (ADR 33): a step that runs past its job type's deadline fails with `deadline_exceeded`, however
 * alive its worker says it is. A hung handler heartbeats its message forever, so neither JetStream's ack wait nor
 * the stuck-job sweeper (which only looks at quiet jobs) would ever end it. A document's step fails that document
 * (its job goes on, or ends if it was the last); an analysis or re-embed fails as a whole through its own ending.
 * Whatever the hung worker writes afterwards is refused: every completion is conditional on the step's status and
 * an active job. The leader runs it with every sweep.
 */
export class StepDeadlineEnforcer {
  readonly stats = { runs: 0, failedDocuments: 0, failedJobs: 0 };

  constructor(
    private readonly store: Pick<MaintenanceRepository, 'failOverdueDocuments' | 'overdueWorkerJobs'>,
    private readonly analyses: Pick<AnalysesRepository, 'finishAnalysis'>,
    private readonly options: StepDeadlineOptions,
    private readonly logger: Logger,
  ) {}

  async run(): Promise<StepDeadlineReport> {
    const batch = this.options.batchSize ?? 100;
    const deadlines = this.options.deadlinesMs;
    const documents = await this.store.failOverdueDocuments(deadlines.ingest, batch);
    if (documents.length > 0) {
      this.logger.warn(
        {
          deadlineMs: deadlines.ingest,
          documents: documents.map((d) => ({
            jobId: d.jobId,
            documentId: d.documentId,
            step: d.step,
            startedAt: d.startedAt.toISOString(),
          })),
        },
        'documents failed: their step ran past its deadline',
      );
    }
    const jobs: StepDeadlineReport['jobs'] = [];
    for (const type of WORKER_JOB_TYPES) {
      for (const job of await this.store.overdueWorkerJobs(type, deadlines[type], batch)) {
        const ended = await this.analyses.finishAnalysis(job.tenantId, job.jobId, {
          error: deadlineExceeded('analyze', deadlines[type]),
        });
        if (!ended) continue; // it ended by itself meanwhile
        jobs.push({ jobId: job.jobId, type });
        this.logger.warn(
          { jobId: job.jobId, type, deadlineMs: deadlines[type], startedAt: job.startedAt.toISOString() },
          'job failed: its step ran past its deadline',
        );
      }
    }
    this.stats.runs++;
    this.stats.failedDocuments += documents.length;
    this.stats.failedJobs += jobs.length;
    return { documents, jobs };
  }
}
