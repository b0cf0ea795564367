import { loadConfig } from '@quarry/config';
import { MessageIds, topology, uuidv7, type IndexDocumentCommand } from '@quarry/contracts';
import type { CancellationWatch, DeliveryContext } from '@quarry/messaging';
import type {
  Claim,
  DocumentWork,
  OutboxRow,
  PageInput,
  IndexingRepository,
  JobControlRepository,
} from '@quarry/persistence';
import { chunkPages, FakeEmbeddingProvider } from '@quarry/retrieval';
import { createLogger, QuarryMetrics } from '@quarry/telemetry';
import { UploadLabeler } from './analyses/upload-labeler';
import { IndexDocumentHandler } from './index-document.handler';

// Cancellation of a job while one of its documents is being embedded; every port faked.

const topo = topology('qt_index_cancel');
const logger = createLogger({ level: 'silent', pretty: false, app: 't' });
const config = loadConfig({ EMBEDDING_BATCH_SIZE: '2', CHUNK_MAX_TOKENS: '16', CHUNK_OVERLAP_TOKENS: '0' });
const PAGES: PageInput[] = [1, 2, 3, 4, 5, 6].map((n) => ({
  pageNumber: n,
  text: `Page ${n} describes quarry number ${n} and the stones that were found in it during the survey.`,
}));

class FakeWatch implements CancellationWatch {
  readonly cancelled = new Set<string>();
  isCancelled(jobId: string): boolean {
    return this.cancelled.has(jobId);
  }
}

/** Cancels the job (in the watch) once `afterCalls` batches have been embedded. */
class CancellingProvider extends FakeEmbeddingProvider {
  constructor(
    private readonly watch: FakeWatch,
    private readonly jobId: string,
    private readonly afterCalls: number,
  ) {
    super({ dim: 16, id: 'fake-16' });
  }
  override async embed(texts: string[]): Promise<Float32Array[]> {
    const vectors = await super.embed(texts);
    if (this.calls.length === this.afterCalls) this.watch.cancelled.add(this.jobId);
    return vectors;
  }
}

function setup(cancelAfterBatches: number) {
  const cmd: IndexDocumentCommand = { v: 1, jobId: uuidv7(), tenantId: uuidv7(), documentId: uuidv7() };
  const work: DocumentWork = {
    documentId: cmd.documentId,
    tenantId: cmd.tenantId,
    jobId: cmd.jobId,
    filename: 'survey.txt',
    blobKey: `blobs/${cmd.documentId}`,
    sha256: 'd'.repeat(64),
    traceparent: null,
    source: 'upload',
    sourceUrl: null,
    claimedContentType: null,
    depth: 0,
  };
  const calls = { completed: 0, failed: 0, progress: 0 };
  const pipeline = {
    claimForIndexing: (): Promise<Claim<DocumentWork>> => Promise.resolve({ claimed: true, work }),
    reuseIndexing: (): Promise<{ outcome: 'none' }> => Promise.resolve({ outcome: 'none' }),
    loadPages: (): Promise<PageInput[]> => Promise.resolve(PAGES),
    completeIndexing: (): Promise<OutboxRow[] | null> => {
      calls.completed++;
      return Promise.resolve([]);
    },
    failDocument: (): Promise<OutboxRow[]> => {
      calls.failed++;
      return Promise.resolve([]);
    },
    reportProgress: (): Promise<void> => {
      calls.progress++;
      return Promise.resolve();
    },
  };
  const watch = new FakeWatch();
  const provider = new CancellingProvider(watch, cmd.jobId, cancelAfterBatches);
  const handler = new IndexDocumentHandler(
    pipeline as unknown as IndexingRepository,
    pipeline as unknown as JobControlRepository,
    provider,
    config,
    logger,
    new QuarryMetrics({ app: 'analysis-worker', processMetrics: false }),
    new UploadLabeler(provider),
    watch,
  );
  const ctx: DeliveryContext = {
    subject: topo.commandSubject('indexDocument'),
    msgId: MessageIds.command('indexDocument', cmd.jobId, cmd.documentId),
    deliveryCount: 1,
    maxDeliver: 5,
    traceparent: undefined,
    signal: new AbortController().signal,
    working: () => undefined,
  };
  return { cmd, ctx, handler, provider, calls };
}

describe('IndexDocumentHandler and a cancelled job', () => {
  it('has chunks for several batches (precondition)', () => {
    expect(chunkPages(PAGES, config.chunking).length).toBeGreaterThan(3 * config.embedding.batchSize);
  });

  it('stops between embedding batches once the job is cancelled, stores nothing and acks', async () => {
    const t = setup(2);

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });

    // Batches 1 and 2 ran; the boundary before batch 3 saw the cancellation.
    expect(t.provider.calls).toHaveLength(2);
    expect(t.calls.progress).toBe(2);
    expect(t.calls.completed).toBe(0);
    expect(t.calls.failed).toBe(0);
  });

  it('embeds every batch and completes when the job is not cancelled', async () => {
    const t = setup(Number.POSITIVE_INFINITY);
    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });
    const chunks = chunkPages(PAGES, config.chunking).length;
    expect(t.provider.calls).toHaveLength(Math.ceil(chunks / config.embedding.batchSize));
    expect(t.calls.completed).toBe(1);
  });
});
