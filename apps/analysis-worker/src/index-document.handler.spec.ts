import { loadConfig } from '@quarry/config';
import {
  MessageIds,
  QuarryError,
  topology,
  uuidv7,
  type ErrorInfo,
  type IndexDocumentCommand,
} from '@quarry/contracts';
import { DeadLetterContext, type DeliveryContext } from '@quarry/messaging';
import type {
  ChunkInput,
  Claim,
  DocumentWork,
  IndexingReuse,
  OutboxRow,
  PageInput,
  IndexingRepository,
  JobControlRepository,
} from '@quarry/persistence';
import { chunkPages, FakeEmbeddingProvider, hashEmbedding } from '@quarry/retrieval';
import { createLogger, QuarryMetrics } from '@quarry/telemetry';
import { UploadLabeler } from './analyses/upload-labeler';
import { IndexDocumentHandler } from './index-document.handler';
import { PromText } from '@quarry/testing';

// Every port faked: no NATS, no PostgreSQL, no embedding model. Publishing what a transition wrote, and counting
// the job it ended, is the repository's (its after-commit port): the handler's part ends with the repository call.

const topo = topology('qt_index_unit');
const logger = createLogger({ level: 'silent', pretty: false, app: 't' });
const config = loadConfig({ EMBEDDING_BATCH_SIZE: '3', CHUNK_MAX_TOKENS: '16', CHUNK_OVERLAP_TOKENS: '0' });

const sentence = (n: number) =>
  `Paragraph ${n} talks about quarry number ${n} and the stones found in it during the survey.`;
/** Two pages of paragraphs, each paragraph about one chunk at 16 tokens. */
const PAGES: PageInput[] = [
  { pageNumber: 1, text: [1, 2, 3, 4].map(sentence).join('\n\n') },
  { pageNumber: 2, text: [5, 6, 7].map(sentence).join('\n\n') },
];

type PipelinePort = Pick<
  IndexingRepository,
  'claimForIndexing' | 'reuseIndexing' | 'loadPages' | 'completeIndexing'
> &
  Pick<JobControlRepository, 'failDocument' | 'reportProgress'>;

class FakePipeline implements PipelinePort {
  claim: Claim<DocumentWork>;
  pages: PageInput[] = PAGES;
  completeResult: OutboxRow[] | null = [];
  failResult: OutboxRow[] = [];
  readonly loads: [string, string][] = [];
  readonly completed: { work: DocumentWork; chunks: ChunkInput[]; model: { id: string; dim: number } }[] = [];
  readonly failed: { work: Pick<DocumentWork, 'jobId' | 'documentId' | 'tenantId'>; error: ErrorInfo }[] = [];
  readonly progress: { step: string; done: number; total: number; message?: string }[] = [];

  reuse: IndexingReuse = { outcome: 'none' };
  readonly reuses: { work: DocumentWork; model: { id: string; dim: number } }[] = [];

  constructor(work: DocumentWork) {
    this.claim = { claimed: true, work };
  }

  reuseIndexing(work: DocumentWork, model: { id: string; dim: number }): Promise<IndexingReuse> {
    this.reuses.push({ work, model });
    return Promise.resolve(this.reuse);
  }
  claimForIndexing(): Promise<Claim<DocumentWork>> {
    return Promise.resolve(this.claim);
  }
  loadPages(tenantId: string, documentId: string): Promise<PageInput[]> {
    this.loads.push([tenantId, documentId]);
    return Promise.resolve(this.pages);
  }
  completeIndexing(
    work: DocumentWork,
    chunks: ChunkInput[],
    model: { id: string; dim: number },
  ): Promise<OutboxRow[] | null> {
    this.completed.push({ work, chunks, model });
    return Promise.resolve(this.completeResult);
  }
  failDocument(
    work: Pick<DocumentWork, 'jobId' | 'documentId' | 'tenantId'>,
    error: ErrorInfo,
  ): Promise<OutboxRow[]> {
    this.failed.push({ work, error });
    return Promise.resolve(this.failResult);
  }
  reportProgress(
    _jobId: string,
    progress: { step: string; done: number; total: number; message?: string },
  ): Promise<void> {
    this.progress.push(progress);
    return Promise.resolve();
  }
}

function setup(provider = new FakeEmbeddingProvider({ dim: 32, id: 'fake-32' })) {
  const cmd: IndexDocumentCommand = { v: 1, jobId: uuidv7(), tenantId: uuidv7(), documentId: uuidv7() };
  const work: DocumentWork = {
    documentId: cmd.documentId,
    tenantId: cmd.tenantId,
    jobId: cmd.jobId,
    filename: 'survey.txt',
    blobKey: `blobs/${cmd.documentId}`,
    sha256: 'b'.repeat(64),
    traceparent: null,
    source: 'upload',
    sourceUrl: null,
    claimedContentType: null,
    depth: 0,
  };
  const pipeline = new FakePipeline(work);
  const metrics = new QuarryMetrics({ app: 'analysis-worker', processMetrics: false });
  const handler = new IndexDocumentHandler(
    pipeline as unknown as IndexingRepository,
    pipeline as unknown as JobControlRepository,
    provider,
    config,
    logger,
    metrics,
    new UploadLabeler(provider),
  );
  const abort = new AbortController();
  const ctx: DeliveryContext = {
    subject: topo.commandSubject('indexDocument'),
    msgId: MessageIds.command('indexDocument', cmd.jobId, cmd.documentId),
    deliveryCount: 1,
    maxDeliver: 5,
    traceparent: undefined,
    signal: abort.signal,
    working: () => undefined,
  };
  const scrape = async () => PromText.parse(await metrics.metrics());
  return { cmd, work, pipeline, provider, handler, abort, ctx, scrape };
}

const eventRow = (id: string): OutboxRow => ({
  id,
  tenantId: null,
  jobId: null,
  subject: topo.eventSubject('completed'),
  msgId: `event-${id}`,
  payload: {},
  headers: {},
});

const expectedChunks = chunkPages(PAGES, config.chunking);

describe('IndexDocumentHandler', () => {
  it('chunks the pages (precondition: enough chunks for three batches)', () => {
    expect(expectedChunks.length).toBeGreaterThan(2 * config.embedding.batchSize);
    expect(expectedChunks.length % config.embedding.batchSize).not.toBe(0);
  });

  it('embeds in batches of embedding.batchSize and stores every chunk with its vector and the model', async () => {
    const t = setup();
    t.pipeline.completeResult = [eventRow('5')];

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });

    expect(t.pipeline.loads).toEqual([[t.cmd.tenantId, t.cmd.documentId]]);
    const batch = config.embedding.batchSize;
    const n = expectedChunks.length;
    expect(t.provider.calls.map((c) => c.length)).toEqual(
      Array.from({ length: Math.ceil(n / batch) }, (_, i) => Math.min(batch, n - i * batch)),
    );
    expect(t.provider.calls.flat()).toEqual(expectedChunks.map((c) => c.text));

    expect(t.pipeline.completed).toHaveLength(1);
    const { work, chunks, model } = t.pipeline.completed[0]!;
    expect(work).toBe(t.work);
    expect(model).toEqual({ id: 'fake-32', dim: 32 });
    expect(chunks).toEqual(expectedChunks.map((c) => ({ ...c, embedding: hashEmbedding(c.text, 32) })));
    expect(new Set(chunks.map((c) => c.pageNumber))).toEqual(new Set([1, 2]));

    expect(t.pipeline.progress.map((p) => [p.step, p.done, p.total])).toEqual(
      Array.from({ length: Math.ceil(n / batch) }, (_, i) => ['index', Math.min((i + 1) * batch, n), n]),
    );
    const scraped = await t.scrape();
    expect(scraped.sum('quarry_chunks_indexed_total', { model: 'fake-32' })).toBe(n);
    // The fake provider is "local" by configuration (EMBEDDING_PROVIDER's default).
    expect(
      scraped.sum('quarry_embedding_duration_seconds_count', { provider: 'local', model: 'fake-32' }),
    ).toBe(Math.ceil(n / batch));
    expect(scraped.sum('quarry_documents_processed_total', { step: 'index', result: 'succeeded' })).toBe(1);
    // The job this document may have ended is counted by the repository's after-commit port, not here.
    expect(scraped.sum('quarry_jobs_finished_total')).toBe(0);
  });

  it('stores the model id and dimension of whichever provider is configured', async () => {
    const t = setup(new FakeEmbeddingProvider({ dim: 8, id: 'other-model' }));
    await t.handler.handle(t.cmd, t.ctx);
    expect(t.pipeline.completed[0]?.model).toEqual({ id: 'other-model', dim: 8 });
    expect(t.pipeline.completed[0]?.chunks.every((c) => c.embedding.length === 8)).toBe(true);
  });

  it.each(['not_found', 'job_finished', 'already_done'] as const)(
    'acks without loading pages or embedding when the claim is refused (%s)',
    async (reason) => {
      const t = setup();
      t.pipeline.claim = { claimed: false, reason };

      await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });
      expect(t.pipeline.loads).toEqual([]);
      expect(t.provider.calls).toEqual([]);
      expect(t.pipeline.completed).toEqual([]);
    },
  );

  it('returns a retry without embedding when the worker is already shutting down', async () => {
    const t = setup();
    t.abort.abort();

    const outcome = await t.handler.handle(t.cmd, t.ctx);
    expect(outcome).toMatchObject({ kind: 'retry', error: { code: 'dependency_unavailable' } });
    expect(t.provider.calls).toEqual([]);
    expect(t.pipeline.completed).toEqual([]);
  });

  it('stops between batches with a retry when shutdown starts mid-document', async () => {
    const t = setup();
    const embed = t.provider.embed.bind(t.provider);
    jest.spyOn(t.provider, 'embed').mockImplementation((texts) => {
      t.abort.abort();
      return embed(texts);
    });

    const outcome = await t.handler.handle(t.cmd, t.ctx);
    expect(outcome).toMatchObject({ kind: 'retry', error: { code: 'dependency_unavailable' } });
    expect(t.provider.calls).toHaveLength(1);
    expect(t.pipeline.completed).toEqual([]);
  });

  it('rejects with a retryable embedding_failed when the provider returns too few vectors', async () => {
    const t = setup();
    jest
      .spyOn(t.provider, 'embed')
      .mockImplementation((texts) => Promise.resolve(texts.slice(1).map((x) => hashEmbedding(x, 32))));

    const error = await t.handler.handle(t.cmd, t.ctx).catch((e: unknown) => e);
    expect(QuarryError.is(error, 'embedding_failed')).toBe(true);
    expect((error as QuarryError).retryable).toBe(true);
    expect(t.pipeline.completed).toEqual([]);
  });

  it('lets a provider failure propagate so that the message is retried', async () => {
    const t = setup();
    const failure = new QuarryError('dependency_unavailable', 'embedding server unreachable');
    jest.spyOn(t.provider, 'embed').mockRejectedValue(failure);

    await expect(t.handler.handle(t.cmd, t.ctx)).rejects.toBe(failure);
    expect(t.pipeline.completed).toEqual([]);
    expect(t.pipeline.failed).toEqual([]);
    // A failed batch took time too.
    expect((await t.scrape()).sum('quarry_embedding_duration_seconds_count')).toBe(1);
  });

  it('indexes a document without pages as zero chunks, without calling the provider', async () => {
    const t = setup();
    t.pipeline.pages = [];

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });
    expect(t.provider.calls).toEqual([]);
    expect(t.pipeline.completed.map((c) => c.chunks)).toEqual([[]]);
  });

  it('reuses the chunks of an earlier indexing of the same bytes with this model: nothing loaded or embedded', async () => {
    const t = setup();
    t.pipeline.reuse = {
      outcome: 'reused',
      fromDocumentId: uuidv7(),
      chunkCount: 7,
      outbox: [eventRow('5')],
    };

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });

    expect(t.pipeline.reuses).toEqual([{ work: t.work, model: { id: 'fake-32', dim: 32 } }]);
    expect(t.pipeline.loads).toEqual([]);
    expect(t.provider.calls).toEqual([]);
    expect(t.pipeline.completed).toEqual([]);
    // Nothing was embedded: reused chunks are not "indexed" again.
    const scraped = await t.scrape();
    expect(scraped.sum('quarry_chunks_indexed_total')).toBe(0);
    expect(scraped.sum('quarry_documents_processed_total', { step: 'index', result: 'succeeded' })).toBe(1);
  });

  it('acks without work when the reuse finds the job finished or the document moved on', async () => {
    const t = setup();
    t.pipeline.reuse = { outcome: 'stale' };

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });
    expect(t.pipeline.loads).toEqual([]);
    expect(t.provider.calls).toEqual([]);
    expect(t.pipeline.completed).toEqual([]);
  });

  it('acks without counting the document when another delivery already stored the chunks', async () => {
    const t = setup();
    t.pipeline.completeResult = null;

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });
    expect(t.pipeline.completed).toHaveLength(1);
    // The other delivery counted it.
    expect((await t.scrape()).sum('quarry_documents_processed_total')).toBe(0);
  });

  it('fails the document on dead-letter and counts it failed', async () => {
    const t = setup();
    t.pipeline.failResult = [eventRow('8')];

    await t.handler.onDeadLetter(
      t.cmd,
      new DeadLetterContext({ code: 'delivery_exhausted', message: 'gave up', retryable: false }),
    );

    expect(t.pipeline.failed).toEqual([
      {
        work: expect.objectContaining({
          jobId: t.cmd.jobId,
          documentId: t.cmd.documentId,
          tenantId: t.cmd.tenantId,
        }) as unknown,
        error: { code: 'delivery_exhausted', message: 'gave up' },
      },
    ]);
    expect(
      (await t.scrape()).sum('quarry_documents_processed_total', {
        step: 'index',
        result: 'failed',
        code: 'delivery_exhausted',
      }),
    ).toBe(1);
  });
});
