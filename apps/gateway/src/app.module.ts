import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { MessagingModule, OutboxRelay } from '@quarry/messaging';
import { OutboxRepository, PersistenceModule, TenantsRepository } from '@quarry/persistence';
import { CoreModule, LOGGER, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import { AuthModule } from './auth/auth.module';
import { AnalysesModule } from './analyses/analyses.module';
import { CrawlsModule } from './crawls/crawls.module';
import { DeadLettersModule } from './dead-letters/dead-letters.module';
import { DocumentsModule } from './documents/documents.module';
import { EventsModule } from './events/events.module';
import { HealthModule } from './health/health.module';
import { ErrorsFilter } from './http/errors.filter';
import { JobsModule } from './jobs/jobs.module';
import { MaintenanceModule } from './maintenance/maintenance.module';
import { SearchModule } from './search/search.module';
import { UsageModule } from './usage/usage.module';
import { WebhooksModule } from './webhooks/webhooks.module';

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
          // And feeds every public event to the webhook dispatcher (ADR 30).
          dispatchesEvents: true,
          outboxStore: OutboxRepository,
          // The gateway's /metrics is the overview: the lag of every consumer of the jobs stream.
          consumerLag: 'all',
        }),
        // One module per feature; repositories come from PersistenceModule, each provided once there.
        // The guard of every route (API key, scope, rate) and the keys' own routes.
        AuthModule,
        HealthModule,
        DocumentsModule,
        CrawlsModule,
        JobsModule,
        SearchModule,
        AnalysesModule,
        DeadLettersModule,
        MaintenanceModule,
        UsageModule,
        EventsModule,
        WebhooksModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: ErrorsFilter }, GatewayLifecycle],
    };
  }
}
