import {
  Injectable,
  Module,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import type { Topology } from '@quarry/contracts';
import {
  BLOB_STORE,
  JetStreamPublisher,
  TOPOLOGY,
  WORK_QUEUE,
  type BlobStore,
  type WorkQueue,
} from '@quarry/messaging';
import {
  AnalysesRepository,
  CrawlsRepository,
  MaintenanceRepository,
  JobControlRepository,
} from '@quarry/persistence';
import { LOGGER, QUARRY_METRICS, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import { MaxDeliveriesWatcher } from '../dead-letters/max-deliveries-watcher';
import { LEADER_LOCK, leaderLockKey, PgAdvisoryLeaderLock, type LeaderLock } from './leader-lock';
import { MaintenanceScheduler } from './maintenance.scheduler';
import { RetentionService } from './retention';
import { StepDeadlineEnforcer } from './step-deadlines';
import { StrandedMessageScan } from './stranded-message-scan';
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

/**
 * The gateway's leader-only housekeeping (see MaintenanceScheduler): the stuck-job sweeper, step deadlines and the
 * stranded-message scan with every sweep, retention.
 */
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
      provide: StepDeadlineEnforcer,
      inject: [MaintenanceRepository, AnalysesRepository, APP_CONFIG, LOGGER],
      useFactory: (
        store: MaintenanceRepository,
        analyses: AnalysesRepository,
        config: AppConfig,
        logger: Logger,
      ) =>
        new StepDeadlineEnforcer(
          store,
          analyses,
          { deadlinesMs: config.maintenance.stepDeadlineMs },
          logger.child({ component: 'step-deadlines' }),
        ),
    },
    {
      provide: StrandedMessageScan,
      inject: [TOPOLOGY, WORK_QUEUE, JetStreamPublisher, MaintenanceRepository, APP_CONFIG, LOGGER],
      useFactory: (
        topology: Topology,
        queue: WorkQueue,
        publisher: JetStreamPublisher,
        store: MaintenanceRepository,
        config: AppConfig,
        logger: Logger,
      ) => {
        const log = logger.child({ component: 'stranded-message-scan' });
        // The advisory watcher's own rescue, so a message the scan finds is dead-lettered exactly as one the
        // advisory names (this instance is not a controller: it subscribes to nothing).
        const rescuer = new MaxDeliveriesWatcher(topology, queue, publisher, log);
        return new StrandedMessageScan(
          topology,
          queue,
          store,
          rescuer,
          { quietAfterMs: config.maintenance.stallAfterMs },
          log,
        );
      },
    },
    {
      provide: MaintenanceScheduler,
      inject: [
        LEADER_LOCK,
        StuckJobSweeper,
        RetentionService,
        StepDeadlineEnforcer,
        StrandedMessageScan,
        APP_CONFIG,
        LOGGER,
      ],
      useFactory: (
        lock: LeaderLock,
        sweeper: StuckJobSweeper,
        retention: RetentionService,
        deadlines: StepDeadlineEnforcer,
        stranded: StrandedMessageScan,
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
          [
            { name: 'step-deadlines', run: () => deadlines.run() },
            { name: 'stranded-message-scan', run: () => stranded.run() },
          ],
        ),
    },
    MaintenanceLifecycle,
  ],
  exports: [
    StuckJobSweeper,
    RetentionService,
    StepDeadlineEnforcer,
    StrandedMessageScan,
    MaintenanceScheduler,
  ],
})
export class MaintenanceModule {}
