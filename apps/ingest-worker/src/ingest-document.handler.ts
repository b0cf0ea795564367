import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import {
  commandEnvelope,
  QuarryError,
  type DetectedType,
  type ErrorInfo,
  type IngestDocumentCommand,
  type Lane,
  type Topology,
} from '@quarry/contracts';
import {
  BLOB_STORE,
  type BlobStore,
  CANCELLATION_WATCH,
  type CancellationWatch,
  type CommandHandler,
  type DeliveryContext,
  type HandlerOutcome,
  HandlesCommand,
  JobCancelledError,
  markDocumentFailedInTrace,
  NO_CANCELLATION_WATCH,
  OutboxRelay,
  Outcome,
  TOPOLOGY,
} from '@quarry/messaging';
import { finishedJobIn, PipelineRepository, type DocumentWork } from '@quarry/persistence';
import { LOGGER, QUARRY_METRICS, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import { DOCUMENT_EXTRACTOR, type DocumentExtractor } from './extractor';

const PROGRESS_EVERY_MS = 1000;

/**
 * Ingest step of one document: fetch the bytes, detect the type from them, extract text per page,
 * then store the pages and queue the index step in one transaction. A document that cannot be read
 * fails on its own (with its code) and the job's other documents go on.
 */
@Injectable()
@HandlesCommand('ingestDocument')
export class IngestDocumentHandler implements CommandHandler<'ingestDocument'> {
  constructor(
    private readonly pipeline: PipelineRepository,
    private readonly relay: OutboxRelay,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(DOCUMENT_EXTRACTOR) private readonly extractor: DocumentExtractor,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(QUARRY_METRICS) private readonly metrics: QuarryMetrics,
    @Inject(CANCELLATION_WATCH) private readonly cancellation: CancellationWatch = NO_CANCELLATION_WATCH,
  ) {}

  async handle(cmd: IngestDocumentCommand, ctx: DeliveryContext): Promise<HandlerOutcome> {
    const log = this.logger.child({
      jobId: cmd.jobId,
      documentId: cmd.documentId,
      delivery: ctx.deliveryCount,
    });
    const claim = await this.pipeline.claimForExtraction(cmd.tenantId, cmd.documentId);
    if (!claim.claimed) {
      log.info({ reason: claim.reason }, 'nothing to do for this document');
      return Outcome.ack();
    }
    const work = claim.work;
    try {
      // The same bytes from the same tenant were extracted before: copy those pages instead of parsing.
      const reuse = await this.pipeline.reuseExtraction(
        work,
        this.indexCommand(work, cmd.traceparent ?? work.traceparent ?? undefined, cmd.lane),
      );
      if (reuse.outcome === 'reused') {
        await this.relay.publishNow(reuse.outbox);
        this.succeeded();
        log.info({ fromDocumentId: reuse.fromDocumentId, pages: reuse.pageCount }, 'extraction reused');
        return Outcome.ack();
      }
      if (reuse.outcome === 'stale') {
        log.info('nothing to do for this document: job finished or document moved on');
        return Outcome.ack();
      }
      const bytes = await this.blobs.getBytes(work.blobKey);
      const parsing = performance.now();
      const detected = this.extractor.detect(bytes, work.filename);
      let lastReport = 0;
      const extracted = await this.timed(parsing, detected, ctx.signal, () =>
        this.extractor.extract(bytes, detected, {
          timeoutMs: this.config.parsing.pdfTimeoutMs,
          maxMemoryMb: this.config.parsing.maxMemoryMb,
          onPage: async (page) => {
            if (ctx.signal.aborted) throw new QuarryError('dependency_unavailable', 'worker shutting down');
            if (this.cancellation.isCancelled(work.jobId)) throw new JobCancelledError(work.jobId);
            const now = Date.now();
            if (now - lastReport < PROGRESS_EVERY_MS) return;
            lastReport = now;
            await this.pipeline.reportProgress(work.jobId, {
              step: 'ingest',
              done: page.pageNumber,
              total: 0,
              message: `${work.filename}: page ${page.pageNumber}`,
            });
          },
        }),
      );
      if (extracted.pages.every((p) => p.text.trim() === '')) {
        throw new QuarryError(
          'no_text',
          `no text found in "${work.filename}" (${detected}); scanned pages need OCR`,
        );
      }
      const rows = await this.pipeline.completeExtraction(
        work,
        { detectedType: detected, pages: extracted.pages },
        this.indexCommand(work, cmd.traceparent ?? work.traceparent ?? undefined, cmd.lane),
      );
      if (rows) {
        await this.relay.publishNow(rows);
        this.metrics.counter('quarry_pages_extracted_total').inc({ type: detected }, extracted.pageCount);
        this.succeeded();
      }
      log.info({ detected, pages: extracted.pageCount }, 'document extracted');
      return Outcome.ack();
    } catch (error) {
      if (error instanceof JobCancelledError) {
        // The cancel already moved the document to `cancelled`; nothing of it is to be stored.
        log.info('job cancelled: extraction stopped at a page boundary');
        return Outcome.ack();
      }
      if (error instanceof QuarryError && !error.retryable) {
        await this.failDocument(work, error.toInfo());
        log.warn({ code: error.code, reason: error.message }, 'document failed');
        return Outcome.ack();
      }
      throw error;
    }
  }

  async onDeadLetter(cmd: IngestDocumentCommand, error: ErrorInfo): Promise<void> {
    await this.failDocument({ jobId: cmd.jobId, documentId: cmd.documentId, tenantId: cmd.tenantId }, error);
  }

  private async failDocument(
    work: Pick<DocumentWork, 'jobId' | 'documentId' | 'tenantId'>,
    error: ErrorInfo,
  ) {
    const rows = await this.pipeline.failDocument(work, { code: error.code, message: error.message });
    await this.relay.publishNow(rows);
    this.metrics
      .counter('quarry_documents_processed_total')
      .inc({ step: 'ingest', result: 'failed', code: error.code });
    markDocumentFailedInTrace(error.code, error.message);
    // The last open document failing finishes the job (failed or completed_with_failures).
    this.metrics.jobFinished(finishedJobIn(rows));
  }

  private succeeded(): void {
    this.metrics
      .counter('quarry_documents_processed_total')
      .inc({ step: 'ingest', result: 'succeeded', code: '' });
  }

  /**
   * Parsing time by detected type, failures (a parser timeout) included; a parse stopped by a cancel
   * or a shutdown says nothing about the parser and is left out.
   */
  private async timed<T>(
    started: number,
    detected: DetectedType,
    signal: AbortSignal,
    parse: () => Promise<T>,
  ): Promise<T> {
    let stopped = false;
    try {
      return await parse();
    } catch (error) {
      stopped = error instanceof JobCancelledError || signal.aborted;
      throw error;
    } finally {
      if (!stopped) {
        this.metrics
          .histogram('quarry_extraction_duration_seconds')
          .observe({ type: detected }, (performance.now() - started) / 1000);
      }
    }
  }

  /** The index step stays in the lane the document came in on. */
  private indexCommand(work: DocumentWork, traceparent: string | undefined, lane: Lane | undefined) {
    return commandEnvelope(this.topology, 'indexDocument', {
      v: 1,
      jobId: work.jobId,
      tenantId: work.tenantId,
      documentId: work.documentId,
      ...(traceparent ? { traceparent } : {}),
      ...(lane ? { lane } : {}),
    });
  }
}
