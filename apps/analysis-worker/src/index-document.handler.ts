import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { QuarryError, type IndexDocumentCommand } from '@quarry/contracts';
import {
  CANCELLATION_WATCH,
  type CancellationWatch,
  type DeadLetterContext,
  type DeliveryContext,
  type HandlerOutcome,
  markDocumentFailedInTrace,
  NO_CANCELLATION_WATCH,
  OnCommand,
  OnDeadLetter,
  Outcome,
} from '@quarry/messaging';
import { IndexingRepository, JobControlRepository, type ChunkInput } from '@quarry/persistence';
import { chunkPages, detectLanguage, withoutContentFree, type EmbeddingProvider } from '@quarry/retrieval';
import { LOGGER, QUARRY_METRICS, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import { UploadLabeler } from './analyses/upload-labeler';
import { EMBEDDING_PROVIDER } from './embeddings';

/**
 * Index step of one document: chunk its pages by tokens, embed the chunks in batches, store chunks
 * and vectors; the document becomes `indexed` and, if it was the job's last, the job finishes (the repository
 * publishes the job's event and counts it).
 */
@Controller()
export class IndexDocumentHandler {
  constructor(
    private readonly indexing: IndexingRepository,
    private readonly jobControl: JobControlRepository,
    @Inject(EMBEDDING_PROVIDER) private readonly embeddings: EmbeddingProvider,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(QUARRY_METRICS) private readonly metrics: QuarryMetrics,
    private readonly labels: UploadLabeler,
    @Inject(CANCELLATION_WATCH) private readonly cancellation: CancellationWatch = NO_CANCELLATION_WATCH,
  ) {}

  @OnCommand('indexDocument')
  async handle(@Payload() cmd: IndexDocumentCommand, @Ctx() ctx: DeliveryContext): Promise<HandlerOutcome> {
    const log = this.logger.child({
      jobId: cmd.jobId,
      documentId: cmd.documentId,
      delivery: ctx.deliveryCount,
    });
    const claim = await this.indexing.claimForIndexing(cmd.tenantId, cmd.documentId);
    if (!claim.claimed) {
      log.info({ reason: claim.reason }, 'nothing to do for this document');
      return Outcome.ack();
    }
    const work = claim.work;
    const classify = work.job?.classify;
    // The same bytes were indexed before with this model: copy those chunks and vectors, embed nothing. (Not when
    // the upload asked for labels: they are made from the vectors this step computes.)
    const reuse = classify
      ? ({ outcome: 'none' } as const)
      : await this.indexing.reuseIndexing(work, { id: this.embeddings.id, dim: this.embeddings.dim });
    if (reuse.outcome === 'reused') {
      this.succeeded();
      log.info({ fromDocumentId: reuse.fromDocumentId, chunks: reuse.chunkCount }, 'chunks reused');
      return Outcome.ack();
    }
    if (reuse.outcome === 'stale') {
      log.info('nothing to do for this document: job finished or document moved on');
      return Outcome.ack();
    }
    const pages = await this.indexing.loadPages(work.tenantId, work.documentId);
    // Page numbers and running headers alone would match every query about the document and crowd real hits out.
    const chunks = withoutContentFree(chunkPages(pages, this.config.chunking), pages);
    const text = detectLanguage(pages.map((p) => p.text).join('\n'));
    const batch = this.config.embedding.batchSize;
    const stored: ChunkInput[] = [];
    for (let i = 0; i < chunks.length; i += batch) {
      if (ctx.signal.aborted) {
        return Outcome.retry({ code: 'dependency_unavailable', message: 'worker shutting down' }, 0);
      }
      if (this.cancellation.isCancelled(work.jobId)) {
        // The cancel already moved the document to `cancelled`; nothing of it is to be stored.
        log.info({ embedded: i, chunks: chunks.length }, 'job cancelled: indexing stopped between batches');
        return Outcome.ack();
      }
      const slice = chunks.slice(i, i + batch);
      const vectors = await this.embed(slice.map((c) => c.text));
      slice.forEach((c, k) => {
        const embedding = vectors[k];
        if (!embedding)
          throw new QuarryError(
            'embedding_failed',
            `provider returned ${vectors.length} vectors for ${slice.length} texts`,
          );
        stored.push({ ...c, embedding });
      });
      await this.jobControl.reportProgress(work.jobId, {
        step: 'index',
        done: Math.min(i + batch, chunks.length),
        total: chunks.length,
        message: `${work.filename}: embedded ${Math.min(i + batch, chunks.length)}/${chunks.length} chunks`,
      });
    }
    const labels = classify
      ? await this.labels.classify(
          classify,
          stored.map((c) => c.embedding),
          stored.map((c) => c.text).join('\n'),
          ctx.signal,
        )
      : null;
    const rows = await this.indexing.completeIndexing(
      work,
      stored,
      { id: this.embeddings.id, dim: this.embeddings.dim },
      text,
      labels,
    );
    if (rows) {
      this.metrics.counter('quarry_chunks_indexed_total').inc({ model: this.embeddings.id }, stored.length);
      this.succeeded();
    }
    log.info({ chunks: stored.length, model: this.embeddings.id }, 'document indexed');
    return Outcome.ack();
  }

  @OnDeadLetter('indexDocument')
  async onDeadLetter(
    @Payload() cmd: IndexDocumentCommand,
    @Ctx() { error }: DeadLetterContext,
  ): Promise<void> {
    await this.jobControl.failDocument(cmd, { code: error.code, message: error.message });
    this.metrics
      .counter('quarry_documents_processed_total')
      .inc({ step: 'index', result: 'failed', code: error.code });
    markDocumentFailedInTrace(error.code, error.message);
  }

  /** One batch, timed whether the provider answers or fails. */
  private async embed(texts: string[]): Promise<Float32Array[]> {
    const started = performance.now();
    try {
      return await this.embeddings.embed(texts);
    } finally {
      this.metrics
        .histogram('quarry_embedding_duration_seconds')
        .observe(
          { provider: this.config.embedding.provider, model: this.embeddings.id },
          (performance.now() - started) / 1000,
        );
    }
  }

  private succeeded(): void {
    this.metrics
      .counter('quarry_documents_processed_total')
      .inc({ step: 'index', result: 'succeeded', code: '' });
  }
}
