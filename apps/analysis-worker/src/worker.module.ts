import { Module, type DynamicModule } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { CANCELLATION_WATCH, MessagingModule, NatsCancellationWatch, OutboxRelay } from '@quarry/messaging';
import { isDatabaseUnavailable, OutboxRepository, PersistenceModule } from '@quarry/persistence';
import { createEmbeddingProvider, OpenAiLanguageModel, type LanguageModel } from '@quarry/retrieval';
import { CoreModule, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import { AnalyzeJobHandler } from './analyses/analyze-job.handler';
import { OfflineAnalyzers } from './analyses/analyzers';
import { LANGUAGE_MODEL, LlmAnalyzers } from './analyses/llm-analyzers';
import { AnalysisSources } from './analyses/sources';
import { ReembedChunks } from './reindex/reembed-chunks';
import { UploadLabeler } from './analyses/upload-labeler';
import { EMBEDDING_PROVIDER, EmbeddingLifecycle } from './embeddings';
import { IndexDocumentHandler } from './index-document.handler';
import { SearchService } from './search.service';

@Module({})
export class AnalysisWorkerModule {
  static forRoot(config: AppConfig, logger: Logger, metrics: QuarryMetrics): DynamicModule {
    return {
      module: AnalysisWorkerModule,
      imports: [
        CoreModule.forRoot(config, logger, metrics),
        // Repositories hand what each commit wrote to the relay (publish, count finished jobs) before returning.
        PersistenceModule.forRoot({ afterCommit: OutboxRelay, searches: true }),
        MessagingModule.forRoot({
          appName: 'quarry-analysis-worker',
          consumes: {
            indexDocument: {
              interactive: config.workers.analysisConcurrency,
              bulk: config.workers.analysisBulkConcurrency,
            },
            analyzeJob: {
              interactive: config.workers.analysisConcurrency,
              bulk: config.workers.analysisBulkConcurrency,
            },
          },
          serves: ['search'],
          outboxStore: OutboxRepository,
          // A database outage holds messages instead of spending their deliveries.
          isOutage: isDatabaseUnavailable,
        }),
      ],
      providers: [
        {
          provide: EMBEDDING_PROVIDER,
          inject: [APP_CONFIG],
          useFactory: (c: AppConfig) =>
            createEmbeddingProvider(c.embedding, {
              onTokens: (tokens) =>
                metrics
                  .counter('quarry_embedding_tokens_total')
                  .inc({ model: c.embedding.openai.model }, tokens),
            }),
        },
        {
          provide: LANGUAGE_MODEL,
          inject: [APP_CONFIG],
          useFactory: (c: AppConfig): LanguageModel | null => (c.llm ? new OpenAiLanguageModel(c.llm) : null),
        },
        AnalysisSources,
        LlmAnalyzers,
        ReembedChunks,
        EmbeddingLifecycle,
        { provide: CANCELLATION_WATCH, useClass: NatsCancellationWatch },
        OfflineAnalyzers,
        UploadLabeler,
      ],
      // The @OnCommand and @OnRequest handlers, run by the JetStream transport the worker boots with (main.ts).
      controllers: [IndexDocumentHandler, AnalyzeJobHandler, SearchService],
    };
  }
}
