import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import type { Topology } from '@quarry/contracts';
import { JOBS_CONSUMER_LAG, TOPOLOGY, type ConsumerLagReader } from '@quarry/messaging';
import { JobsRepository, MaintenanceRepository } from '@quarry/persistence';
import { CancelJobService } from './cancel-job.service';
import { JobLiveness } from './job-liveness';
import { JobsController } from './jobs.controller';
import { JobRetryController } from './retry.controller';
import { RetryService } from './retry.service';

/** Jobs: read, list, cancel and retry. Exports RetryService, which dead-letter replays use too. */
@Module({
  controllers: [JobsController, JobRetryController],
  providers: [
    CancelJobService,
    RetryService,
    {
      provide: JobLiveness,
      inject: [MaintenanceRepository, JOBS_CONSUMER_LAG, TOPOLOGY, APP_CONFIG, JobsRepository],
      useFactory: (
        store: MaintenanceRepository,
        consumers: ConsumerLagReader,
        topology: Topology,
        config: AppConfig,
        jobs: JobsRepository,
      ) =>
        new JobLiveness(
          store,
          consumers,
          topology,
          {
            noWorkerAfterMs: config.maintenance.noWorkerAfterMs,
            stuckAfterMs: config.maintenance.stuckAfterMs,
          },
          // The workers' fair share across tenants (ADR 34), as the database shows it.
          { atCapacity: (tenantId, lane) => jobs.fairShareHolds(tenantId, lane) },
        ),
    },
  ],
  exports: [RetryService],
})
export class JobsModule {}
