import { loadConfig } from '@quarry/config';
import {
  MessageIds,
  topology,
  uuidv7,
  type DetectedType,
  type IngestDocumentCommand,
} from '@quarry/contracts';
import type { CancellationWatch, DeliveryContext } from '@quarry/messaging';
import type {
  Claim,
  DocumentWork,
  OutboxRow,
  ExtractionRepository,
  JobControlRepository,
} from '@quarry/persistence';
import { createLogger, QuarryMetrics } from '@quarry/telemetry';
import type { ExtractedPage, Extraction, ExtractionCall } from '@quarry/extraction';
import { MemoryBlobStore } from '@quarry/testing';
import type { DocumentExtractor } from './extractor';
import { IngestDocumentHandler } from './ingest-document.handler';

// Cancellation of a job while one of its documents is being extracted; every port faked.

const topo = topology('qt_ingest_cancel');
const logger = createLogger({ level: 'silent', pretty: false, app: 't' });
const config = loadConfig({});

class FakeWatch implements CancellationWatch {
  readonly cancelled = new Set<string>();
  readonly asked: string[] = [];
  isCancelled(jobId: string): boolean {
    this.asked.push(jobId);
    return this.cancelled.has(jobId);
  }
}

/** Hands pages to onPage one by one, like the PDF parser, and stops when onPage throws. */
class PagedExtractor implements DocumentExtractor {
  readonly delivered: number[] = [];
  /** Called after page n was handed over; lets a test cancel the job "while" the parser runs. */
  afterPage: (pageNumber: number) => void = () => undefined;
  readonly extractionKey = 'v2:test';
  constructor(private readonly pages: ExtractedPage[]) {}
  detect(): Promise<DetectedType> {
    return Promise.resolve('pdf');
  }
  async extract(_file: string, _detected: DetectedType, call: ExtractionCall): Promise<Extraction> {
    for (const page of this.pages) {
      await call.onPage?.(page, this.pages.length);
      this.delivered.push(page.pageNumber);
      this.afterPage(page.pageNumber);
    }
    return { pageCount: this.pages.length, pages: this.pages, attachments: [] };
  }
}

function setup(pages: number) {
  const cmd: IngestDocumentCommand = { v: 1, jobId: uuidv7(), tenantId: uuidv7(), documentId: uuidv7() };
  const work: DocumentWork = {
    documentId: cmd.documentId,
    tenantId: cmd.tenantId,
    jobId: cmd.jobId,
    filename: 'long.pdf',
    blobKey: `blobs/${cmd.documentId}`,
    sha256: 'c'.repeat(64),
    traceparent: null,
    source: 'upload',
    sourceUrl: null,
    claimedContentType: null,
    depth: 0,
  };
  const calls = { completed: 0, failed: 0, progress: 0 };
  const pipeline = {
    claimForExtraction: (): Promise<Claim<DocumentWork>> => Promise.resolve({ claimed: true, work }),
    reuseExtraction: (): Promise<{ outcome: 'none' }> => Promise.resolve({ outcome: 'none' }),
    completeExtraction: (): Promise<OutboxRow[] | null> => {
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
  const blobs = new MemoryBlobStore();
  blobs.blobs.set(work.blobKey, new Uint8Array([0x25, 0x50, 0x44, 0x46]));
  const extractor = new PagedExtractor(
    Array.from({ length: pages }, (_, i) => ({ pageNumber: i + 1, text: `page ${i + 1}` })),
  );
  const watch = new FakeWatch();
  const handler = new IngestDocumentHandler(
    pipeline as unknown as ExtractionRepository,
    pipeline as unknown as JobControlRepository,
    blobs,
    extractor,
    { fetchToFile: () => Promise.reject(new Error('no URL documents here')) },
    topo,
    config,
    logger,
    new QuarryMetrics({ app: 'ingest-worker', processMetrics: false }),
    watch,
  );
  const ctx: DeliveryContext = {
    subject: topo.commandSubject('ingestDocument'),
    msgId: MessageIds.command('ingestDocument', cmd.jobId, cmd.documentId),
    deliveryCount: 1,
    maxDeliver: 5,
    traceparent: undefined,
    signal: new AbortController().signal,
    working: () => undefined,
  };
  return { cmd, ctx, handler, extractor, watch, calls };
}

describe('IngestDocumentHandler and a cancelled job', () => {
  it('stops at the next page boundary once the job is cancelled, stores nothing and acks', async () => {
    const t = setup(10);
    t.extractor.afterPage = (n) => {
      if (n === 3) t.watch.cancelled.add(t.cmd.jobId);
    };

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });

    // Pages 1-3 went through; page 4's boundary saw the cancellation and the parser stopped there.
    expect(t.extractor.delivered).toEqual([1, 2, 3]);
    expect(t.watch.asked).toHaveLength(4);
    expect(t.watch.asked.every((id) => id === t.cmd.jobId)).toBe(true);
    expect(t.calls.completed).toBe(0);
    expect(t.calls.failed).toBe(0);
  });

  it('asks at every page and completes as usual while the job is not cancelled', async () => {
    const t = setup(4);
    t.watch.cancelled.add(uuidv7()); // another job's cancellation changes nothing here

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });

    expect(t.extractor.delivered).toEqual([1, 2, 3, 4]);
    expect(t.watch.asked).toEqual([t.cmd.jobId, t.cmd.jobId, t.cmd.jobId, t.cmd.jobId]);
    expect(t.calls.completed).toBe(1);
  });

  it('stops before the first page when the job was cancelled before extraction began', async () => {
    const t = setup(3);
    t.watch.cancelled.add(t.cmd.jobId);

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });
    expect(t.extractor.delivered).toEqual([]);
    expect(t.calls.completed).toBe(0);
    expect(t.calls.failed).toBe(0);
  });
});
