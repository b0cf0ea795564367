import { loadConfig } from '@quarry/config';
import {
  IndexDocumentCommand,
  MessageIds,
  QuarryError,
  topology,
  uuidFromName,
  uuidv7,
  type DetectedType,
  type ErrorInfo,
  type IngestDocumentCommand,
} from '@quarry/contracts';
import type { ExtractedAttachment, ExtractedPage, Extraction, ExtractionCall } from '@quarry/extraction';
import { DeadLetterContext, type DeliveryContext } from '@quarry/messaging';
import type {
  Claim,
  DocumentWork,
  ExtractionResult,
  ExtractionReuse,
  FetchRecord,
  OutboxInsert,
  OutboxRow,
  ExtractionRepository,
  JobControlRepository,
} from '@quarry/persistence';
import type { FetchedResource } from '@quarry/safe-fetch';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createLogger, QuarryMetrics } from '@quarry/telemetry';
import type { DocumentExtractor, UrlFetcher } from './extractor';
import { IngestDocumentHandler } from './ingest-document.handler';
import { PromText, MemoryBlobStore } from '@quarry/testing';

// Every port faked: no NATS, no PostgreSQL, no parsers. Publishing what a transition wrote is the repository's
// (its after-commit port), so the handler's part ends with the repository call.

const topo = topology('qt_ingest_unit');
const logger = createLogger({ level: 'silent', pretty: false, app: 't' });
const config = loadConfig({ MAX_NESTING_DEPTH: '2', OCR_MIN_CONFIDENCE: '70' });

type PipelinePort = Pick<
  ExtractionRepository,
  'claimForExtraction' | 'reuseExtraction' | 'completeExtraction' | 'recordFetch'
> &
  Pick<JobControlRepository, 'failDocument' | 'reportProgress'>;

class FakePipeline implements PipelinePort {
  claim: Claim<DocumentWork>;
  completeResult: OutboxRow[] | null = [];
  failResult: OutboxRow[] = [];
  completeError: Error | undefined;
  readonly claims: [string, string][] = [];
  readonly completed: {
    work: DocumentWork;
    result: ExtractionResult;
    next: OutboxInsert;
    childCommands: readonly OutboxInsert[];
  }[] = [];
  readonly failed: {
    work: Pick<DocumentWork, 'jobId' | 'documentId' | 'tenantId'>;
    error: ErrorInfo;
    known?: { finalUrl?: string | undefined; httpStatus?: number | undefined; detectedType?: DetectedType };
  }[] = [];
  readonly fetches: { work: DocumentWork; fetched: FetchRecord }[] = [];
  fetchRecorded = true;
  readonly progress: { jobId: string; progress: { step: string; done: number; total: number } }[] = [];

  reuse: ExtractionReuse = { outcome: 'none' };
  readonly reuses: { work: DocumentWork; key: string; next: OutboxInsert }[] = [];

  constructor(work: DocumentWork) {
    this.claim = { claimed: true, work };
  }

  reuseExtraction(work: DocumentWork, key: string, next: OutboxInsert): Promise<ExtractionReuse> {
    this.reuses.push({ work, key, next });
    return Promise.resolve(this.reuse);
  }
  recordFetch(work: DocumentWork, fetched: FetchRecord): Promise<boolean> {
    this.fetches.push({ work, fetched });
    return Promise.resolve(this.fetchRecorded);
  }
  claimForExtraction(tenantId: string, documentId: string): Promise<Claim<DocumentWork>> {
    this.claims.push([tenantId, documentId]);
    return Promise.resolve(this.claim);
  }
  completeExtraction(
    work: DocumentWork,
    result: ExtractionResult,
    next: OutboxInsert,
    childCommands: readonly OutboxInsert[] = [],
  ): Promise<OutboxRow[] | null> {
    if (this.completeError) return Promise.reject(this.completeError);
    this.completed.push({ work, result, next, childCommands });
    return Promise.resolve(this.completeResult);
  }
  failDocument(
    work: Pick<DocumentWork, 'jobId' | 'documentId' | 'tenantId'>,
    error: ErrorInfo,
    known?: { finalUrl?: string | undefined; httpStatus?: number | undefined; detectedType?: DetectedType },
  ): Promise<OutboxRow[]> {
    this.failed.push({ work, error, ...(known ? { known } : {}) });
    return Promise.resolve(this.failResult);
  }
  reportProgress(
    jobId: string,
    progress: { step: string; done: number; total: number; message?: string },
  ): Promise<void> {
    this.progress.push({ jobId, progress });
    return Promise.resolve();
  }
}

class FakeExtractor implements DocumentExtractor {
  readonly extractionKey = 'v2:test';
  detected: DetectedType = 'text';
  pages: ExtractedPage[] = [{ pageNumber: 1, text: 'hello world' }];
  /** Files written to the work folder and reported as attachments, by name and content. */
  attachments: { filename: string; content: string }[] = [];
  /** Thrown by extract() once every page was handed to onPage. */
  error: Error | undefined;
  readonly detects: { bytes: Uint8Array; filename: string }[] = [];
  readonly extracts: { bytes: Uint8Array; detected: DetectedType; call: ExtractionCall }[] = [];

  async detect(file: string, filename: string): Promise<DetectedType> {
    this.detects.push({ bytes: new Uint8Array(await readFile(file)), filename });
    return this.detected;
  }
  async extract(file: string, detected: DetectedType, call: ExtractionCall): Promise<Extraction> {
    this.extracts.push({ bytes: new Uint8Array(await readFile(file)), detected, call });
    for (const page of this.pages) await call.onPage?.(page, this.pages.length);
    if (this.error) throw this.error;
    const attachments: ExtractedAttachment[] = [];
    for (const [i, a] of this.attachments.entries()) {
      const at = path.join(call.workDir, `attachment-${i}`);
      await writeFile(at, a.content);
      attachments.push({ filename: a.filename, contentType: null, path: at, sizeBytes: a.content.length });
    }
    return { pageCount: this.pages.length, pages: this.pages, attachments };
  }
}

/** A fetcher that writes the given body, or throws the given error, as the SSRF-guarded one would. */
class FakeFetcher implements UrlFetcher {
  body = '# Fetched\n\nFrom the web.';
  contentType: string | null = 'text/markdown; charset=utf-8';
  error: Error | undefined;
  readonly calls: string[] = [];

  async fetchToFile(url: string, destPath: string): Promise<FetchedResource> {
    this.calls.push(url);
    if (this.error) throw this.error;
    await writeFile(destPath, this.body);
    return {
      url,
      finalUrl: `${url}?final`,
      status: 200,
      contentType: this.contentType,
      sizeBytes: Buffer.byteLength(this.body),
      sha256: createHash('sha256').update(this.body).digest('hex'),
      redirects: [`${url}?final`],
    };
  }
}

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function setup() {
  const cmd: IngestDocumentCommand = { v: 1, jobId: uuidv7(), tenantId: uuidv7(), documentId: uuidv7() };
  const work: DocumentWork = {
    documentId: cmd.documentId,
    tenantId: cmd.tenantId,
    jobId: cmd.jobId,
    filename: 'report.pdf',
    blobKey: `blobs/${cmd.documentId}`,
    sha256: 'a'.repeat(64),
    traceparent: TRACEPARENT,
    source: 'upload',
    sourceUrl: null,
    claimedContentType: 'application/pdf',
    depth: 0,
  };
  const pipeline = new FakePipeline(work);
  const blobs = new MemoryBlobStore();
  const bytes = new TextEncoder().encode('hello world');
  blobs.blobs.set(work.blobKey, bytes);
  const extractor = new FakeExtractor();
  const fetcher = new FakeFetcher();
  const metrics = new QuarryMetrics({ app: 'ingest-worker', processMetrics: false });
  const handler = new IngestDocumentHandler(
    pipeline as unknown as ExtractionRepository,
    pipeline as unknown as JobControlRepository,
    blobs,
    extractor,
    fetcher,
    topo,
    config,
    logger,
    metrics,
  );
  const abort = new AbortController();
  const ctx: DeliveryContext = {
    subject: topo.commandSubject('ingestDocument'),
    msgId: MessageIds.command('ingestDocument', cmd.jobId, cmd.documentId),
    deliveryCount: 1,
    maxDeliver: 5,
    traceparent: undefined,
    signal: abort.signal,
    working: () => undefined,
  };
  const scrape = async () => PromText.parse(await metrics.metrics());
  return {
    cmd,
    work,
    pipeline,
    blobs,
    bytes,
    extractor,
    fetcher,
    handler,
    abort,
    ctx,
    scrape,
  };
}

const outboxRow = (id: string, subject: string): OutboxRow => ({
  id,
  tenantId: null,
  jobId: null,
  subject,
  msgId: `msg-${id}`,
  payload: { id },
  headers: { traceparent: TRACEPARENT },
});

describe('IngestDocumentHandler', () => {
  it('extracts the pages and stores them with the index command', async () => {
    const t = setup();
    t.extractor.detected = 'pdf';
    t.extractor.pages = [
      { pageNumber: 1, text: 'first' },
      { pageNumber: 2, text: '' },
    ];
    t.pipeline.completeResult = [outboxRow('7', topo.commandSubject('indexDocument'))];

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });

    expect(t.pipeline.claims).toEqual([[t.cmd.tenantId, t.cmd.documentId]]);
    expect(t.blobs.reads).toEqual([t.work.blobKey]);
    expect(t.extractor.detects).toEqual([{ bytes: t.bytes, filename: 'report.pdf' }]);
    expect(t.extractor.extracts).toEqual([
      {
        bytes: t.bytes,
        detected: 'pdf',
        call: expect.objectContaining({ filenameHint: 'report.pdf', signal: t.ctx.signal }) as unknown,
      },
    ]);
    expect(t.pipeline.reuses.map((r) => r.key)).toEqual(['v2:test']);
    expect(t.pipeline.completed).toHaveLength(1);
    const { work, result, next, childCommands } = t.pipeline.completed[0]!;
    expect(work).toBe(t.work);
    expect(result).toEqual({
      detectedType: 'pdf',
      pages: t.extractor.pages,
      title: null,
      lowConfidencePages: [],
      extractionKey: 'v2:test',
      children: [],
    });
    expect(childCommands).toEqual([]);
    expect(next).toEqual({
      tenantId: t.cmd.tenantId,
      jobId: t.cmd.jobId,
      command: 'indexDocument',
      generation: 0,
      subject: topo.commandSubject('indexDocument'),
      msgId: MessageIds.command('indexDocument', t.cmd.jobId, t.cmd.documentId),
      payload: {
        v: 1,
        jobId: t.cmd.jobId,
        tenantId: t.cmd.tenantId,
        documentId: t.cmd.documentId,
        traceparent: TRACEPARENT,
      },
      headers: { traceparent: TRACEPARENT },
    });
    expect(IndexDocumentCommand.safeParse(next.payload).success).toBe(true);
    expect(t.pipeline.failed).toEqual([]);

    const scraped = await t.scrape();
    expect(scraped.sum('quarry_pages_extracted_total', { type: 'pdf', method: 'parsed' })).toBe(2);
    expect(scraped.sum('quarry_extraction_duration_seconds_count', { type: 'pdf' })).toBe(1);
    expect(scraped.sum('quarry_documents_processed_total', { step: 'ingest', result: 'succeeded' })).toBe(1);
    expect(scraped.sum('quarry_documents_processed_total', { result: 'failed' })).toBe(0);
  });

  it('carries the command’s own traceparent in preference to the job’s, and none when neither has one', async () => {
    const t = setup();
    const own = '00-11111111111111111111111111111111-2222222222222222-01';
    await t.handler.handle({ ...t.cmd, traceparent: own }, t.ctx);
    expect(t.pipeline.completed[0]?.next.headers).toEqual({ traceparent: own });

    const u = setup();
    u.pipeline.claim = { claimed: true, work: { ...u.work, traceparent: null } };
    await u.handler.handle(u.cmd, u.ctx);
    expect(u.pipeline.completed[0]?.next.headers).toEqual({});
    expect(u.pipeline.completed[0]?.next.payload).not.toHaveProperty('traceparent');
  });

  it.each(['not_found', 'job_finished', 'already_done'] as const)(
    'acks without reading the blob when the claim is refused (%s)',
    async (reason) => {
      const t = setup();
      t.pipeline.claim = { claimed: false, reason };

      await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });
      expect(t.blobs.reads).toEqual([]);
      expect(t.extractor.extracts).toEqual([]);
      expect(t.pipeline.completed).toEqual([]);
      expect(t.pipeline.failed).toEqual([]);
    },
  );

  it('fails an unreadable document with its own code and acks', async () => {
    const t = setup();
    t.extractor.error = new QuarryError('corrupt_pdf', 'xref table is broken');
    t.pipeline.failResult = [outboxRow('9', topo.eventSubject('failed'))];

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });

    expect(t.pipeline.failed).toEqual([
      {
        work: t.work,
        error: { code: 'corrupt_pdf', message: 'xref table is broken' },
        // What the bytes were is kept on the failed document.
        known: { detectedType: 'text' },
      },
    ]);
    expect(t.pipeline.completed).toEqual([]);

    const scraped = await t.scrape();
    expect(
      scraped.sum('quarry_documents_processed_total', {
        step: 'ingest',
        result: 'failed',
        code: 'corrupt_pdf',
      }),
    ).toBe(1);
    expect(scraped.sum('quarry_pages_extracted_total')).toBe(0);
    // A parser failure is still parsing time.
    expect(scraped.sum('quarry_extraction_duration_seconds_count', { type: t.extractor.detected })).toBe(1);
  });

  it('fails a document whose blob is gone with blob_missing', async () => {
    const t = setup();
    t.blobs.blobs.clear();

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });
    expect(t.pipeline.failed.map((f) => f.error.code)).toEqual(['blob_missing']);
    expect(t.extractor.extracts).toEqual([]);
  });

  it.each([
    ['no pages at all', []],
    [
      'only blank pages',
      [
        { pageNumber: 1, text: '  \n\t' },
        { pageNumber: 2, text: '' },
      ],
    ],
  ])('fails a document with %s as no_text', async (_name, pages: ExtractedPage[]) => {
    const t = setup();
    t.extractor.pages = pages;

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });
    expect(t.pipeline.failed).toEqual([
      {
        work: t.work,
        error: { code: 'no_text', message: expect.stringContaining('report.pdf') as unknown },
        known: { detectedType: 'text' },
      },
    ]);
    expect(t.pipeline.completed).toEqual([]);
  });

  it.each([
    ['a retryable QuarryError', new QuarryError('dependency_unavailable', 'object store down')],
    ['a permanent code marked retryable', new QuarryError('parser_crashed', 'killed', { retryable: true })],
    ['a plain Error', new Error('ECONNRESET')],
  ])('lets %s propagate so that the message is retried', async (_name, error) => {
    const t = setup();
    t.extractor.error = error;

    await expect(t.handler.handle(t.cmd, t.ctx)).rejects.toBe(error);
    expect(t.pipeline.failed).toEqual([]);
    expect(t.pipeline.completed).toEqual([]);
  });

  it('lets a database error while storing the pages propagate', async () => {
    const t = setup();
    t.pipeline.completeError = new Error('connection terminated');

    await expect(t.handler.handle(t.cmd, t.ctx)).rejects.toThrow('connection terminated');
    expect(t.pipeline.failed).toEqual([]);
  });

  it('acks without counting the document when another delivery already stored the pages', async () => {
    const t = setup();
    t.pipeline.completeResult = null;

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });
    expect(t.pipeline.completed).toHaveLength(1);
    // The other delivery counted it.
    const scraped = await t.scrape();
    expect(scraped.sum('quarry_documents_processed_total')).toBe(0);
    expect(scraped.sum('quarry_pages_extracted_total')).toBe(0);
  });

  it('reuses an earlier extraction of the same bytes: no blob read, no parsing', async () => {
    const t = setup();
    t.pipeline.reuse = {
      outcome: 'reused',
      fromDocumentId: uuidv7(),
      detectedType: 'pdf',
      pageCount: 3,
      outbox: [outboxRow('9', topo.commandSubject('indexDocument'))],
    };

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });

    expect(t.pipeline.reuses).toHaveLength(1);
    expect(t.pipeline.reuses[0]?.work).toBe(t.work);
    expect(t.pipeline.reuses[0]?.next.msgId).toBe(
      MessageIds.command('indexDocument', t.cmd.jobId, t.cmd.documentId),
    );
    expect(t.blobs.reads).toEqual([]);
    expect(t.extractor.detects).toEqual([]);
    expect(t.extractor.extracts).toEqual([]);
    expect(t.pipeline.completed).toEqual([]);
    const scraped = await t.scrape();
    expect(scraped.sum('quarry_documents_processed_total', { step: 'ingest', result: 'succeeded' })).toBe(1);
    expect(scraped.sum('quarry_extraction_duration_seconds_count')).toBe(0);
  });

  it('acks without work when the reuse finds the job finished or the document moved on', async () => {
    const t = setup();
    t.pipeline.reuse = { outcome: 'stale' };

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });
    expect(t.blobs.reads).toEqual([]);
    expect(t.pipeline.completed).toEqual([]);
    expect(t.pipeline.failed).toEqual([]);
  });

  it('stops at the next page with a retryable error once the worker shuts down', async () => {
    const t = setup();
    t.abort.abort();

    const error = await t.handler.handle(t.cmd, t.ctx).catch((e: unknown) => e);
    expect(QuarryError.is(error, 'dependency_unavailable')).toBe(true);
    expect((error as QuarryError).retryable).toBe(true);
    expect(t.pipeline.failed).toEqual([]);
    expect(t.pipeline.completed).toEqual([]);
  });

  it('reports page progress at most once a second', async () => {
    const t = setup();
    t.extractor.pages = [1, 2, 3, 4].map((n) => ({ pageNumber: n, text: `page ${n}` }));
    const clock = jest.spyOn(Date, 'now');
    [10_000, 10_400, 10_999, 11_100].forEach((ms) => clock.mockReturnValueOnce(ms));
    try {
      await t.handler.handle(t.cmd, t.ctx);
    } finally {
      clock.mockRestore();
    }
    expect(t.pipeline.progress.map((p) => [p.jobId, p.progress.done])).toEqual([
      [t.cmd.jobId, 1],
      [t.cmd.jobId, 4],
    ]);
  });

  it('fails the document on dead-letter and counts it failed', async () => {
    const t = setup();
    t.pipeline.failResult = [outboxRow('11', topo.eventSubject('completed'))];

    await t.handler.onDeadLetter(
      { ...t.cmd, traceparent: TRACEPARENT },
      new DeadLetterContext({
        code: 'delivery_exhausted',
        message: 'gave up after 5 deliveries',
        retryable: false,
      }),
    );

    expect(t.pipeline.failed).toEqual([
      {
        work: { jobId: t.cmd.jobId, documentId: t.cmd.documentId, tenantId: t.cmd.tenantId },
        error: { code: 'delivery_exhausted', message: 'gave up after 5 deliveries' },
      },
    ]);
    expect(t.pipeline.claims).toEqual([]);

    // Its failure finished the job: the repository's after-commit port counts that, not the handler.
    const scraped = await t.scrape();
    expect(scraped.sum('quarry_jobs_finished_total')).toBe(0);
    expect(
      scraped.sum('quarry_documents_processed_total', { result: 'failed', code: 'delivery_exhausted' }),
    ).toBe(1);
  });

  it('does not time a parse that a shutdown stopped', async () => {
    const t = setup();
    t.extractor.pages = [{ pageNumber: 1, text: 'first' }];
    t.abort.abort();

    await expect(t.handler.handle(t.cmd, t.ctx)).rejects.toThrow(/shutting down/);
    expect((await t.scrape()).sum('quarry_extraction_duration_seconds_count')).toBe(0);
  });
  it('fetches a URL document first: bytes stored under its key, the fetch recorded, the type hinted by Content-Type', async () => {
    const t = setup();
    const url = 'https://docs.example/guide';
    t.pipeline.claim = {
      claimed: true,
      work: {
        ...t.work,
        filename: 'guide',
        sha256: null,
        source: 'url',
        sourceUrl: url,
        blobKey: 'blobs/url-doc',
      },
    };
    t.extractor.detected = 'markdown';

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });

    expect(t.fetcher.calls).toEqual([url]);
    expect(new TextDecoder().decode(t.blobs.blobs.get('blobs/url-doc'))).toBe(t.fetcher.body);
    const sha = createHash('sha256').update(t.fetcher.body).digest('hex');
    expect(t.pipeline.fetches.map((f) => f.fetched)).toEqual([
      {
        sha256: sha,
        sizeBytes: 24,
        finalUrl: `${url}?final`,
        httpStatus: 200,
        contentType: 'text/markdown; charset=utf-8',
      },
    ]);
    // Reuse is looked up by the fetched bytes, and the parser sees them (not a second download).
    expect(t.pipeline.reuses[0]?.work.sha256).toBe(sha);
    expect(t.blobs.reads).toEqual([]);
    expect(t.extractor.detects).toEqual([
      { bytes: new TextEncoder().encode(t.fetcher.body), filename: 'guide.md' },
    ]);
    expect(t.pipeline.completed).toHaveLength(1);
    expect((await t.scrape()).sum('quarry_url_fetches_total', { outcome: 'fetched' })).toBe(1);
  });

  it('fails a URL document whose fetch is refused with its url_* code, keeping where the fetch ended', async () => {
    const t = setup();
    t.pipeline.claim = {
      claimed: true,
      work: { ...t.work, sha256: null, source: 'url', sourceUrl: 'http://169.254.169.254/latest' },
    };
    t.fetcher.error = new QuarryError('url_forbidden', 'refused: 169.254.169.254 is link-local', {
      details: {
        url: 'http://169.254.169.254/latest',
        finalUrl: 'http://169.254.169.254/latest',
        status: 302,
      },
    });

    await expect(t.handler.handle(t.cmd, t.ctx)).resolves.toEqual({ kind: 'ack' });

    expect(t.pipeline.failed).toEqual([
      {
        work: expect.objectContaining({ documentId: t.cmd.documentId }) as unknown,
        error: { code: 'url_forbidden', message: 'refused: 169.254.169.254 is link-local' },
        known: { finalUrl: 'http://169.254.169.254/latest', httpStatus: 302 },
      },
    ]);
    expect(t.pipeline.reuses).toEqual([]);
    expect(t.extractor.extracts).toEqual([]);
    expect((await t.scrape()).sum('quarry_url_fetches_total', { outcome: 'url_forbidden' })).toBe(1);
  });

  it("lets a fetch error that is not the URL's fault (shutdown, disk) propagate for a retry", async () => {
    const t = setup();
    t.pipeline.claim = {
      claimed: true,
      work: { ...t.work, sha256: null, source: 'url', sourceUrl: 'https://x.example/' },
    };
    t.fetcher.error = new Error('ENOSPC: no space left on device');
    await expect(t.handler.handle(t.cmd, t.ctx)).rejects.toThrow('ENOSPC');
    expect(t.pipeline.failed).toEqual([]);
  });

  it('stores attachments as documents of the job with stable ids, refusing those nested past the limit', async () => {
    const t = setup();
    t.extractor.detected = 'eml';
    t.extractor.attachments = [
      { filename: 'minutes.pdf', content: 'pdf bytes' },
      { filename: '../../forwarded.eml', content: 'mail bytes' },
    ];
    await t.handler.handle(t.cmd, t.ctx);
    const [first] = t.pipeline.completed;
    const children = first?.result.children ?? [];
    expect(children.map((c) => [c.filename, c.failed?.code])).toEqual([
      ['minutes.pdf', undefined],
      ['forwarded.eml', undefined],
    ]);
    expect(children[0]?.id).toBe(uuidFromName(`${t.cmd.documentId}:attachment:0`));
    expect(new TextDecoder().decode(t.blobs.blobs.get(children[0]!.blobKey))).toBe('pdf bytes');
    expect(children[0]?.sha256).toBe(createHash('sha256').update('pdf bytes').digest('hex'));
    expect(first?.childCommands.map((c) => c.msgId)).toEqual(
      children.map((c) => MessageIds.command('ingestDocument', t.cmd.jobId, c.id)),
    );

    // The same attachments two levels down (MAX_NESTING_DEPTH=2) are refused at birth and get no command.
    const deep = setup();
    deep.pipeline.claim = { claimed: true, work: { ...deep.work, depth: 2 } };
    deep.extractor.attachments = [{ filename: 'inner.eml', content: 'x' }];
    await deep.handler.handle(deep.cmd, deep.ctx);
    const refused = deep.pipeline.completed[0];
    expect(refused?.result.children?.map((c) => c.failed?.code)).toEqual(['too_deeply_nested']);
    expect(refused?.childCommands).toEqual([]);
  });

  it('flags OCR pages below OCR_MIN_CONFIDENCE on the document', async () => {
    const t = setup();
    t.extractor.detected = 'png';
    t.extractor.pages = [
      { pageNumber: 1, text: 'sharp', method: 'ocr', ocrConfidence: 93 },
      { pageNumber: 2, text: 'blurry', method: 'ocr', ocrConfidence: 41 },
    ];
    await t.handler.handle(t.cmd, t.ctx);
    expect(t.pipeline.completed[0]?.result.lowConfidencePages).toEqual([2]);
    expect((await t.scrape()).sum('quarry_pages_extracted_total', { type: 'png', method: 'ocr' })).toBe(2);
  });
});
