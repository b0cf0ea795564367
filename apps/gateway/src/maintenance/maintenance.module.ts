import {
  Injectable,
  Module,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { BLOB_STORE, WORK_QUEUE, type BlobStore, type WorkQueue } from '@quarry/messaging';
import { CrawlsRepository, MaintenanceRepository, JobControlRepository } from '@quarry/persistence';
import { LOGGER, QUARRY_METRICS, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import { LEADER_LOCK, leaderLockKey, PgAdvisoryLeaderLock, type LeaderLock } from './leader-lock';
import { MaintenanceScheduler } from './maintenance.scheduler';
import { RetentionService } from './retention';
import { StuckJobSweeper } from './stuck-job-sweeper';

@Injectable()
class MaintenanceLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(private readonly scheduler: MaintenanceScheduler) {}

  onApplicationBootstrap(): void {
    this.scheduler.start();
  }

  // Before the database and NATS connections close: a sweep under way finishes first.
  async beforeApplicationShutdown(): Promise<void> {
    await this.scheduler.stop();
  }
}

/** The gateway's leader-only housekeeping: stuck-job sweeper and retention (see MaintenanceScheduler). */
@Module({
  providers: [
    {
      provide: LEADER_LOCK,
      inject: [APP_CONFIG, LOGGER],
      useFactory: (config: AppConfig, logger: Logger) =>
        new PgAdvisoryLeaderLock(
          config.database.url,
          leaderLockKey(config.namespace),
          logger.child({ component: 'leader-lock' }),
        ),
    },
    {
      provide: StuckJobSweeper,
      inject: [
        MaintenanceRepository,
        JobControlRepository,
        WORK_QUEUE,
        APP_CONFIG,
        LOGGER,
        QUARRY_METRICS,
        CrawlsRepository,
      ],
      useFactory: (
        store: MaintenanceRepository,
        jobControl: JobControlRepository,
        probe: WorkQueue,
        config: AppConfig,
        logger: Logger,
        metrics: QuarryMetrics,
        crawls: CrawlsRepository,
      ) =>
        new StuckJobSweeper(
          store,
          jobControl,
          probe,
          {
            stallAfterMs: config.maintenance.stallAfterMs,
            maxRedrives: config.maintenance.maxRedrives,
            crawlIdleMs: config.maintenance.crawlIdleMs,
          },
          logger.child({ component: 'stuck-job-sweeper' }),
          metrics,
          crawls,
        ),
    },
    {
      provide: RetentionService,
      inject: [MaintenanceRepository, BLOB_STORE, APP_CONFIG, LOGGER],
      useFactory: (store: MaintenanceRepository, blobs: BlobStore, config: AppConfig, logger: Logger) =>
        new RetentionService(
          store,
          blobs,
          {
            jobRetentionMs: config.maintenance.jobRetentionMs,
            outboxRetentionMs: config.maintenance.outboxRetentionMs,
            deadLetterRetentionMs: config.maintenance.deadLetterRetentionMs,
            webhookReceiptRetentionMs: config.maintenance.webhookReceiptRetentionMs,
          },
          logger.child({ component: 'retention' }),
        ),
    },
    {
      provide: MaintenanceScheduler,
      inject: [LEADER_LOCK, StuckJobSweeper, RetentionService, APP_CONFIG, LOGGER],
      useFactory: (
        lock: LeaderLock,
        sweeper: StuckJobSweeper,
        retention: RetentionService,
        config: AppConfig,
        logger: Logger,
      ) =>
        new MaintenanceScheduler(
          lock,
          sweeper,
          retention,
          {
            sweepIntervalMs: config.maintenance.sweepIntervalMs,
            retentionIntervalMs: config.maintenance.retentionIntervalMs,
          },
          logger.child({ component: 'maintenance' }),
        ),
    },
    MaintenanceLifecycle,
  ],
  exports: [StuckJobSweeper, RetentionService, MaintenanceScheduler],
})
export class MaintenanceModule {}
