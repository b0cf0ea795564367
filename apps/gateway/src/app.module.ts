import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { MessagingModule, OutboxRelay } from '@quarry/messaging';
import { OutboxRepository, PersistenceModule, TenantsRepository } from '@quarry/persistence';
import { CoreModule, LOGGER, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import { ApiKeyGuard } from './auth/api-key.guard';
import { DeadLettersModule } from './dead-letters/dead-letters.module';
import { FirecrawlController } from './crawls/firecrawl.controller';
import { FirecrawlReceiver } from './crawls/firecrawl.service';
import { DocumentsController } from './documents/documents.controller';
import { IngestJobAcceptor } from './documents/ingest-job-acceptor';
import { UploadService } from './documents/upload.service';
import { UrlIngestService } from './documents/url-ingest.service';
import { HealthController } from './health/health.controller';
import { MetricsController } from './health/metrics.controller';
import { ErrorsFilter } from './http/errors.filter';
import { CancelJobService } from './jobs/cancel-job.service';
import { JobsController } from './jobs/jobs.controller';
import { MaintenanceModule } from './maintenance/maintenance.module';
import { SearchController } from './search/search.controller';

/** Runs the outbox sweep and makes sure the bootstrap tenant exists. */
@Injectable()
class GatewayLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly tenants: TenantsRepository,
    private readonly relay: OutboxRelay,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.bootstrapApiKey) {
      const { tenantId } = await this.tenants.ensureTenantWithKey('default', this.config.bootstrapApiKey);
      this.logger.info({ tenantId }, 'bootstrap tenant "default" ready');
    }
    this.relay.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.relay.stop();
  }
}

@Module({})
export class GatewayModule {
  static forRoot(config: AppConfig, logger: Logger, metrics: QuarryMetrics): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        CoreModule.forRoot(config, logger, metrics),
        // Repositories hand what each commit wrote to the relay (publish, count finished jobs) before returning.
        PersistenceModule.forRoot({ afterCommit: OutboxRelay }),
        MessagingModule.forRoot({
          appName: 'quarry-gateway',
          consumes: {},
          // Its transport records the DLQ stream and rescues messages stranded at their delivery limit.
          watchesDeadLetters: true,
          outboxStore: OutboxRepository,
          // The gateway's /metrics is the overview: the lag of every consumer of the jobs stream.
          consumerLag: 'all',
        }),
        MaintenanceModule,
        DeadLettersModule,
      ],
      controllers: [
        HealthController,
        MetricsController,
        DocumentsController,
        FirecrawlController,
        JobsController,
        SearchController,
      ],
      providers: [
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_FILTER, useClass: ErrorsFilter },
        IngestJobAcceptor,
        UploadService,
        UrlIngestService,
        FirecrawlReceiver,
        CancelJobService,
        GatewayLifecycle,
      ],
    };
  }
}
