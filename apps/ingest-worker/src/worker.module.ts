import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '@quarry/config';
import { CANCELLATION_WATCH, MessagingModule, NatsCancellationWatch } from '@quarry/messaging';
import { isDatabaseUnavailable, OutboxRepository, PersistenceModule } from '@quarry/persistence';
import { CoreModule, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import { DOCUMENT_EXTRACTOR, parsersExtractor } from './extractor';
import { IngestDocumentHandler } from './ingest-document.handler';

@Module({})
export class IngestWorkerModule {
  static forRoot(config: AppConfig, logger: Logger, metrics: QuarryMetrics): DynamicModule {
    return {
      module: IngestWorkerModule,
      imports: [
        CoreModule.forRoot(config, logger, metrics),
        PersistenceModule,
        MessagingModule.forRoot({
          appName: 'quarry-ingest-worker',
          consumes: {
            ingestDocument: {
              interactive: config.workers.ingestConcurrency,
              bulk: config.workers.ingestBulkConcurrency,
            },
          },
          outboxStore: OutboxRepository,
          // A database outage holds messages instead of spending their deliveries.
          isOutage: isDatabaseUnavailable,
        }),
      ],
      providers: [
        { provide: DOCUMENT_EXTRACTOR, useValue: parsersExtractor },
        { provide: CANCELLATION_WATCH, useClass: NatsCancellationWatch },
        IngestDocumentHandler,
      ],
    };
  }
}
