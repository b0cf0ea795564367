import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import {
  commandEnvelope,
  QuarryError,
  sanitizeFilename,
  uuidv7,
  type Lane,
  type Topology,
} from '@quarry/contracts';
import { BLOB_STORE, OutboxRelay, TOPOLOGY, type BlobStore } from '@quarry/messaging';
import { JobsRepository, type JobView, type NewDocument, type OutboxInsert } from '@quarry/persistence';
import {
  currentOrNewTraceparent,
  LOGGER,
  parseTraceparent,
  QUARRY_METRICS,
  type Logger,
  type QuarryMetrics,
} from '@quarry/telemetry';
import type { MultipartFile, Multipart } from '@fastify/multipart';
import { createHash } from 'node:crypto';
import { finished, Readable, Transform } from 'node:stream';

export const UPLOAD_FIELD = 'files';

/**
 * The multipart parser rejects a malformed body (no boundary, bad part headers) with plain errors;
 * those are the client's fault (400), not a 500. @fastify/multipart's own `FST_*` errors keep their code.
 */
async function* clientFaults(parts: AsyncIterable<Multipart>): AsyncGenerator<Multipart> {
  try {
    yield* parts;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (error instanceof QuarryError || (typeof code === 'string' && code.startsWith('FST_'))) throw error;
    throw new QuarryError(
      'validation_failed',
      `malformed multipart body: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

export interface UploadResult {
  job: JobView;
  created: boolean;
}

@Injectable()
export class UploadService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly jobs: JobsRepository,
    private readonly relay: OutboxRelay,
    @Inject(QUARRY_METRICS) private readonly metrics: QuarryMetrics,
  ) {}

  /**
   * Streams every file to the object store while hashing it (no file is held in memory), then writes
   * the job, its documents and its outbox rows in one transaction, then publishes. Anything stored for
   * a request that ends in an error is deleted again.
   */
  async upload(
    tenantId: string,
    parts: AsyncIterableIterator<Multipart>,
    idempotencyKey: string | null,
    requestedLane: Lane | null = null,
  ): Promise<UploadResult> {
    const jobId = uuidv7();
    const stored: NewDocument[] = [];
    try {
      for await (const part of clientFaults(parts)) {
        if (part.type !== 'file') continue;
        if (part.fieldname !== UPLOAD_FIELD) {
          part.file.resume();
          throw new QuarryError(
            'validation_failed',
            `unexpected file field "${part.fieldname}": send files in "${UPLOAD_FIELD}"`,
          );
        }
        stored.push(await this.store(tenantId, part));
      }
    } catch (error) {
      await this.discard(stored);
      throw error;
    }
    if (stored.length === 0) {
      throw new QuarryError(
        'no_files',
        `no files: send one or more files in the multipart field "${UPLOAD_FIELD}"`,
      );
    }

    const traceparent = currentOrNewTraceparent();
    // Large batches go to the bulk lane unless the client says otherwise (ADR 10).
    const lane =
      requestedLane ?? (stored.length > this.config.uploads.bulkThreshold ? 'bulk' : 'interactive');
    const outbox: OutboxInsert[] = stored.map((d) =>
      commandEnvelope(this.topology, 'ingestDocument', {
        v: 1,
        jobId,
        tenantId,
        documentId: d.id,
        traceparent,
        lane,
      }),
    );
    let result: Awaited<ReturnType<JobsRepository['createIngestJob']>>;
    try {
      result = await this.jobs.createIngestJob({
        id: jobId,
        tenantId,
        lane,
        idempotencyKey,
        traceparent,
        traceId: parseTraceparent(traceparent)?.traceId ?? null,
        documents: stored,
        outbox,
      });
    } catch (error) {
      await this.discard(stored);
      throw error;
    }
    if (!result.created) {
      await this.discard(stored);
      return { job: result.job, created: false };
    }
    // Committed: from here a failure only delays the message (the relay sweeps the outbox).
    await this.relay.publishNow(result.outbox);
    this.metrics.counter('quarry_jobs_created_total').inc({ type: result.job.type, lane: result.job.lane });
    this.logger.info({ jobId, tenantId, documents: stored.length, traceparent }, 'job accepted');
    return { job: result.job, created: true };
  }

  private async store(tenantId: string, part: MultipartFile): Promise<NewDocument> {
    const id = uuidv7();
    const blobKey = `${tenantId}/${id}`;
    const filename = sanitizeFilename(part.filename);
    const hash = createHash('sha256');
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    // `pipe` forwards neither an error nor a close: a file stream cut short (client gone, body ending
    // mid-part; possibly before this method runs) must fail the upload, or `put` waits forever.
    finished(part.file, (error) => {
      if (error) counter.destroy(this.incomplete(filename, error));
    });
    const body = Readable.toWeb(part.file.pipe(counter)) as ReadableStream<Uint8Array>;
    try {
      await this.blobs.put(blobKey, body, { filename });
    } catch (error) {
      await this.discard([{ blobKey } as NewDocument]);
      if (part.file.truncated) throw this.tooLarge(filename);
      throw error;
    }
    if (part.file.truncated) {
      await this.blobs.delete(blobKey);
      throw this.tooLarge(filename);
    }
    if (size === 0) {
      await this.blobs.delete(blobKey);
      throw new QuarryError('empty_file', `file "${filename}" is empty`);
    }
    return {
      id,
      filename,
      claimedContentType: part.mimetype?.slice(0, 200) || null,
      sha256: hash.digest('hex'),
      sizeBytes: size,
      blobKey,
    };
  }

  private incomplete(filename: string, cause?: unknown): QuarryError {
    return new QuarryError(
      'validation_failed',
      `file "${filename}" ended before its multipart part was complete`,
      {
        cause,
      },
    );
  }

  private tooLarge(filename: string): QuarryError {
    return new QuarryError(
      'payload_too_large',
      `file "${filename}" is larger than the limit of ${this.config.uploads.maxBytes} bytes`,
    );
  }

  private async discard(docs: NewDocument[]): Promise<void> {
    for (const d of docs) {
      await this.blobs
        .delete(d.blobKey)
        .catch((error: unknown) =>
          this.logger.warn({ err: error, blobKey: d.blobKey }, 'could not delete blob of a rejected upload'),
        );
    }
  }
}
