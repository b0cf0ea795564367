import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import {
  commandEnvelope,
  QuarryError,
  sanitizeFilename,
  uuidFromName,
  type DetectedType,
  type ErrorInfo,
  type IngestDocumentCommand,
  type Lane,
  type Topology,
} from '@quarry/contracts';
import type { ExtractedAttachment, ExtractedPage } from '@quarry/extraction';
import {
  BLOB_STORE,
  type BlobStore,
  CANCELLATION_WATCH,
  type CancellationWatch,
  type DeadLetterContext,
  type DeliveryContext,
  type HandlerOutcome,
  JobCancelledError,
  markDocumentFailedInTrace,
  NO_CANCELLATION_WATCH,
  OnCommand,
  OnDeadLetter,
  Outcome,
  TOPOLOGY,
} from '@quarry/messaging';
import {
  ExtractionRepository,
  JobControlRepository,
  type DocumentWork,
  type NewChildDocument,
  type OutboxInsert,
} from '@quarry/persistence';
import { LOGGER, QUARRY_METRICS, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline, Readable, Transform } from 'node:stream';
import { DOCUMENT_EXTRACTOR, URL_FETCHER, type DocumentExtractor, type UrlFetcher } from './extractor';
import { lowConfidencePages, noTextError } from './extraction-rules';

const PROGRESS_EVERY_MS = 1000;

/**
 * Ingest step of one document: get its bytes (from the object store, or by fetching its URL through the SSRF
 * guard), detect the type from them, extract text per page (parsers in a sandbox process, OCR for scans and
 * images), then store the pages, the documents found inside it and the next commands in one transaction (the
 * repository publishes them after the commit). A document that cannot be read fails on its own (with its code)
 * and the job's other documents go on.
 */
@Controller()
export class IngestDocumentHandler {
  constructor(
    private readonly extraction: ExtractionRepository,
    private readonly jobControl: JobControlRepository,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(DOCUMENT_EXTRACTOR) private readonly extractor: DocumentExtractor,
    @Inject(URL_FETCHER) private readonly fetcher: UrlFetcher,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(QUARRY_METRICS) private readonly metrics: QuarryMetrics,
    @Inject(CANCELLATION_WATCH) private readonly cancellation: CancellationWatch = NO_CANCELLATION_WATCH,
  ) {}

  @OnCommand('ingestDocument')
  async handle(@Payload() cmd: IngestDocumentCommand, @Ctx() ctx: DeliveryContext): Promise<HandlerOutcome> {
    const log = this.logger.child({
      jobId: cmd.jobId,
      documentId: cmd.documentId,
      delivery: ctx.deliveryCount,
    });
    const claim = await this.extraction.claimForExtraction(cmd.tenantId, cmd.documentId);
    if (!claim.claimed) {
      log.info({ reason: claim.reason }, 'nothing to do for this document');
      return Outcome.ack();
    }
    let work = claim.work;
    const traceparent = cmd.traceparent ?? work.traceparent ?? undefined;
    const workDir = await mkdtemp(path.join(tmpdir(), 'quarry-ingest-'));
    // Known once the bytes are read: a document that then fails still says what it was.
    let detected: DetectedType | undefined;
    try {
      let file: string | undefined;
      let filenameHint = work.filename;
      if (work.sha256 === null) {
        const fetched = await this.fetch(work, workDir, ctx.signal);
        if (fetched === 'failed') return Outcome.ack();
        if (fetched === 'stale') {
          log.info('nothing to do for this document: job finished or document moved on');
          return Outcome.ack();
        }
        work = { ...work, sha256: fetched.sha256 };
        file = fetched.path;
        filenameHint = fetched.filenameHint;
      }
      // The same bytes from the same tenant were extracted before under the same settings: copy those pages.
      const key = this.extractor.extractionKey;
      const reuse = await this.extraction.reuseExtraction(
        work,
        key,
        this.indexCommand(work, traceparent, cmd.lane),
      );
      if (reuse.outcome === 'reused') {
        this.succeeded();
        log.info({ fromDocumentId: reuse.fromDocumentId, pages: reuse.pageCount }, 'extraction reused');
        return Outcome.ack();
      }
      if (reuse.outcome === 'stale') {
        log.info('nothing to do for this document: job finished or document moved on');
        return Outcome.ack();
      }
      if (file === undefined) {
        file = path.join(workDir, 'document');
        await this.blobs.download(work.blobKey, file);
      }
      const parsing = performance.now();
      detected = await this.extractor.detect(file, filenameHint);
      const type = detected;
      let lastReport = 0;
      const extracted = await this.timed(parsing, type, ctx.signal, () =>
        this.extractor.extract(file, type, {
          workDir,
          filenameHint,
          signal: ctx.signal,
          onPage: async (page: ExtractedPage, total: number | undefined) => {
            if (ctx.signal.aborted) throw new QuarryError('dependency_unavailable', 'worker shutting down');
            if (this.cancellation.isCancelled(work.jobId)) throw new JobCancelledError(work.jobId);
            const now = Date.now();
            if (now - lastReport < PROGRESS_EVERY_MS) return;
            lastReport = now;
            await this.jobControl.reportProgress(work.jobId, {
              step: 'ingest',
              done: page.pageNumber,
              total: total ?? 0,
              message: `${work.filename}: page ${page.pageNumber}${total ? ` of ${total}` : ''}`,
            });
          },
        }),
      );
      const empty = noTextError(work.filename, type, extracted.pages, extracted.attachments.length);
      if (empty) throw empty;
      const children = await this.storeAttachments(work, extracted.attachments);
      const lowConfidence = lowConfidencePages(extracted.pages, this.config.extraction.ocr.minConfidence);
      const rows = await this.extraction.completeExtraction(
        work,
        {
          detectedType: type,
          pages: extracted.pages,
          title: extracted.title ?? null,
          lowConfidencePages: lowConfidence,
          extractionKey: key,
          children,
        },
        this.indexCommand(work, traceparent, cmd.lane),
        children.filter((c) => !c.failed).map((c) => this.ingestCommand(work, c.id, traceparent, cmd.lane)),
      );
      if (rows) {
        this.countPages(type, extracted.pages);
        this.succeeded();
      }
      log.info(
        {
          detected,
          pages: extracted.pageCount,
          attachments: children.length,
          lowConfidencePages: lowConfidence,
        },
        'document extracted',
      );
      return Outcome.ack();
    } catch (error) {
      if (error instanceof JobCancelledError) {
        // The cancel already moved the document to `cancelled`; nothing of it is to be stored.
        log.info('job cancelled: extraction stopped at a page boundary');
        return Outcome.ack();
      }
      if (error instanceof QuarryError && !error.retryable) {
        await this.failDocument(work, error.toInfo(), detected ? { detectedType: detected } : undefined);
        log.warn({ code: error.code, reason: error.message, detected }, 'document failed');
        return Outcome.ack();
      }
      throw error;
    } finally {
      await rm(workDir, { recursive: true, force: true }).catch((error: unknown) =>
        log.warn({ err: error, workDir }, 'could not remove the work folder'),
      );
    }
  }

  @OnDeadLetter('ingestDocument')
  async onDeadLetter(
    @Payload() cmd: IngestDocumentCommand,
    @Ctx() { error }: DeadLetterContext,
  ): Promise<void> {
    await this.failDocument({ jobId: cmd.jobId, documentId: cmd.documentId, tenantId: cmd.tenantId }, error);
  }

  /**
   * Fetches a URL document through the SSRF guard into the work folder, stores the bytes under the document's
   * blob key (so retries, reuse and retention treat it like an upload) and records what the fetch found. A
   * refused or failed fetch fails the document with its `url_*` code.
   */
  private async fetch(
    work: DocumentWork,
    workDir: string,
    signal: AbortSignal,
  ): Promise<{ path: string; sha256: string; filenameHint: string } | 'failed' | 'stale'> {
    const url = work.sourceUrl;
    if (work.source !== 'url' || url === null) {
      throw new QuarryError('blob_missing', `document ${work.documentId} has neither stored bytes nor a URL`);
    }
    const file = path.join(workDir, 'fetched');
    let fetched;
    try {
      fetched = await this.fetcher.fetchToFile(url, file, { signal });
    } catch (error) {
      if (!(error instanceof QuarryError) || !error.code.startsWith('url_')) throw error;
      this.metrics.counter('quarry_url_fetches_total').inc({ outcome: error.code });
      const details = error.details ?? {};
      await this.failDocument(work, error.toInfo(), {
        finalUrl: typeof details['finalUrl'] === 'string' ? details['finalUrl'] : undefined,
        httpStatus: typeof details['status'] === 'number' ? details['status'] : undefined,
      });
      this.logger.warn(
        { documentId: work.documentId, code: error.code, reason: error.message },
        'URL fetch failed',
      );
      return 'failed';
    }
    this.metrics.counter('quarry_url_fetches_total').inc({ outcome: 'fetched' });
    await this.storeFile(work.blobKey, file, work.filename);
    const recorded = await this.extraction.recordFetch(work, {
      sha256: fetched.sha256,
      sizeBytes: fetched.sizeBytes,
      finalUrl: fetched.finalUrl,
      httpStatus: fetched.status,
      contentType: fetched.contentType,
    });
    if (!recorded) return 'stale';
    return {
      path: file,
      sha256: fetched.sha256,
      filenameHint: hintFromFetch(work.filename, fetched.contentType),
    };
  }

  /**
   * Stores each attachment as a blob of its own; each becomes a document of the same job, parsed through this same
   * handler. Past MAX_NESTING_DEPTH they are still recorded, refused at birth with `too_deeply_nested`. Ids are
   * derived from the parent and position, so a redelivered parent stores and inserts each child once.
   */
  private async storeAttachments(
    work: DocumentWork,
    attachments: readonly ExtractedAttachment[],
  ): Promise<NewChildDocument[]> {
    const children: NewChildDocument[] = [];
    const depth = work.depth + 1;
    for (const [i, attachment] of attachments.entries()) {
      const id = uuidFromName(`${work.documentId}:attachment:${i}`);
      const blobKey = `${work.tenantId}/${id}`;
      const sha256 = await this.storeFile(blobKey, attachment.path, attachment.filename);
      const tooDeep = depth > this.config.extraction.maxNestingDepth;
      children.push({
        id,
        filename: sanitizeFilename(attachment.filename),
        claimedContentType: attachment.contentType?.slice(0, 200) ?? null,
        sha256,
        sizeBytes: attachment.sizeBytes,
        blobKey,
        ...(tooDeep
          ? {
              failed: {
                code: 'too_deeply_nested',
                message: `"${attachment.filename}" is nested ${depth} levels deep; MAX_NESTING_DEPTH is ${this.config.extraction.maxNestingDepth}`,
              },
            }
          : {}),
      });
    }
    return children;
  }

  /** Streams a file from the work folder into the blob store, hashing it on the way; returns its sha256. */
  private async storeFile(blobKey: string, file: string, filename: string): Promise<string> {
    const hash = createHash('sha256');
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    // pipeline, not pipe: a read error must fail the upload, not leave the store waiting for an end.
    pipeline(createReadStream(file), hashing, (error) => {
      if (error) hashing.destroy(error);
    });
    const body = Readable.toWeb(hashing) as ReadableStream<Uint8Array>;
    await this.blobs.put(blobKey, body, { filename });
    return hash.digest('hex');
  }

  private async failDocument(
    work: Pick<DocumentWork, 'jobId' | 'documentId' | 'tenantId'>,
    error: ErrorInfo,
    known?: { finalUrl?: string | undefined; httpStatus?: number | undefined; detectedType?: DetectedType },
  ) {
    // The last open document failing finishes the job (failed or completed_with_failures): the repository
    // publishes its event and counts it.
    await this.jobControl.failDocument(work, { code: error.code, message: error.message }, known);
    this.metrics
      .counter('quarry_documents_processed_total')
      .inc({ step: 'ingest', result: 'failed', code: error.code });
    markDocumentFailedInTrace(error.code, error.message);
  }

  private succeeded(): void {
    this.metrics
      .counter('quarry_documents_processed_total')
      .inc({ step: 'ingest', result: 'succeeded', code: '' });
  }

  private countPages(detected: DetectedType, pages: readonly ExtractedPage[]): void {
    const byMethod = new Map<string, number>();
    for (const p of pages) byMethod.set(p.method ?? 'parsed', (byMethod.get(p.method ?? 'parsed') ?? 0) + 1);
    for (const [method, n] of byMethod) {
      this.metrics.counter('quarry_pages_extracted_total').inc({ type: detected, method }, n);
    }
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

  /** An attachment's ingest command, in its parent's lane and trace. */
  private ingestCommand(
    work: DocumentWork,
    documentId: string,
    traceparent: string | undefined,
    lane: Lane | undefined,
  ): OutboxInsert {
    return commandEnvelope(this.topology, 'ingestDocument', {
      v: 1,
      jobId: work.jobId,
      tenantId: work.tenantId,
      documentId,
      ...(traceparent ? { traceparent } : {}),
      ...(lane ? { lane } : {}),
    });
  }
}

/**
 * A fetched document's name for tie-breaking only: the server's Content-Type settles Markdown against plain text
 * (and CSV), which the bytes alone cannot; it never decides a binary type.
 */
export function hintFromFetch(filename: string, contentType: string | null): string {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  const ext =
    type === 'text/markdown' || type === 'text/x-markdown'
      ? '.md'
      : type === 'text/csv'
        ? '.csv'
        : type === 'text/tab-separated-values'
          ? '.tsv'
          : type === 'text/plain'
            ? '.txt'
            : '';
  return ext === '' || filename.toLowerCase().endsWith(ext) ? filename : `${filename}${ext}`;
}
