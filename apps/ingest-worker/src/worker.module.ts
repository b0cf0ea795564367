import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '@quarry/config';
import {
  createOcrEngine,
  Extractor,
  ParserPool,
  ToolLauncher,
  useToolSpawner,
  type OcrEngine,
} from '@quarry/extraction';
import { CANCELLATION_WATCH, MessagingModule, NatsCancellationWatch, OutboxRelay } from '@quarry/messaging';
import { isDatabaseUnavailable, OutboxRepository, PersistenceModule } from '@quarry/persistence';
import { createSafeFetcher } from '@quarry/safe-fetch';
import { CoreModule, LOGGER, QUARRY_METRICS, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import { DOCUMENT_EXTRACTOR, URL_FETCHER } from './extractor';
import { IngestDocumentHandler } from './ingest-document.handler';
import { InstrumentedOcrEngine } from './instrumented-ocr';

const PARSER_POOL = Symbol('PARSER_POOL');
const OCR_ENGINE = Symbol('OCR_ENGINE');
const TOOL_LAUNCHER = Symbol('TOOL_LAUNCHER');

/**
 * Stops the parser processes, the OCR engine and the tool launcher after the consumers have handed back their
 * messages.
 */
@Injectable()
class ExtractionLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(PARSER_POOL) private readonly pool: ParserPool,
    @Inject(OCR_ENGINE) private readonly ocr: OcrEngine,
    @Inject(TOOL_LAUNCHER) private readonly launcher: ToolLauncher,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.pool.close(), this.ocr.close()]);
    useToolSpawner(undefined);
    await this.launcher.close();
  }
}

@Module({})
export class IngestWorkerModule {
  static forRoot(config: AppConfig, logger: Logger, metrics: QuarryMetrics): DynamicModule {
    return {
      module: IngestWorkerModule,
      imports: [
        CoreModule.forRoot(config, logger, metrics),
        // Repositories hand what each commit wrote to the relay (publish, count finished jobs) before returning.
        PersistenceModule.forRoot({ afterCommit: OutboxRelay }),
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
        {
          provide: TOOL_LAUNCHER,
          // Native tools (pdftotext, tesseract, pdftoppm) start from a small process of its own: starting a process
          // from the worker itself costs a fork of all its memory (ToolLauncher). Installed before anything runs one.
          useFactory: () => {
            const launcher = new ToolLauncher();
            useToolSpawner((command, args, env) => launcher.spawn(command, args, env));
            return launcher;
          },
        },
        {
          provide: PARSER_POOL,
          // Hosts start on the first document that needs one and exit when idle (ParserPool).
          useFactory: () =>
            new ParserPool({ size: config.extraction.processes, maxMemoryMb: config.extraction.maxMemoryMb }),
        },
        {
          provide: OCR_ENGINE,
          // After the launcher: creating the engine runs tesseract to list its languages.
          inject: [LOGGER, QUARRY_METRICS, TOOL_LAUNCHER],
          // Fails the boot when the configured languages are installed for no engine (OCR_LANGUAGES, OCR_ENGINE).
          useFactory: async (log: Logger, quarryMetrics: QuarryMetrics) => {
            const { ocr } = config.extraction;
            const engine = await createOcrEngine({
              engine: ocr.engine,
              languages: ocr.languages,
              concurrency: ocr.concurrency,
            });
            log.info({ ocr: engine.describe() }, 'OCR engine ready');
            return new InstrumentedOcrEngine(engine, quarryMetrics, ocr.minConfidence);
          },
        },
        {
          provide: DOCUMENT_EXTRACTOR,
          inject: [PARSER_POOL, OCR_ENGINE],
          useFactory: (pool: ParserPool, ocr: OcrEngine) =>
            new Extractor(pool, ocr, {
              timeoutMs: config.extraction.timeoutMs,
              maxMemoryMb: config.extraction.maxMemoryMb,
              limits: {
                maxPages: config.extraction.maxPages,
                maxPixels: config.extraction.maxPixels,
                maxArchiveEntries: config.extraction.maxArchiveEntries,
                maxUncompressedBytes: config.extraction.maxUncompressedBytes,
              },
              ocr: {
                languages: config.extraction.ocr.languages,
                dpi: config.extraction.ocr.dpi,
                minConfidence: config.extraction.ocr.minConfidence,
                pageTimeoutMs: config.extraction.ocr.pageTimeoutMs,
                pdfMinChars: config.extraction.ocr.pdfMinChars,
              },
            }),
        },
        {
          provide: URL_FETCHER,
          useFactory: () =>
            createSafeFetcher({
              allowHosts: config.urlFetch.allowHosts,
              maxBytes: config.urlFetch.maxBytes,
              timeoutMs: config.urlFetch.timeoutMs,
              userAgent: 'Quarry/1 (+document ingest)',
            }),
        },
        ExtractionLifecycle,
        { provide: CANCELLATION_WATCH, useClass: NatsCancellationWatch },
      ],
      // Its @OnCommand handler, run by the JetStream transport the worker boots with (see main.ts).
      controllers: [IngestDocumentHandler],
    };
  }
}
