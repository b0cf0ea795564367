import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import {
  QuarryError,
  sanitizeFilename,
  uuidv7,
  type Lane,
  type UploadClassification,
} from '@quarry/contracts';
import { BLOB_STORE, type BlobStore } from '@quarry/messaging';
import type { NewDocument } from '@quarry/persistence';
import { LOGGER, type Logger } from '@quarry/telemetry';
import type { MultipartFile, Multipart } from '@fastify/multipart';
import {
  type DocumentLabels,
  parseClassifyField,
  parseMetadataField,
  parseTagsField,
} from './document-labels';
import { createHash } from 'node:crypto';
import { finished, Readable, Transform } from 'node:stream';
import { IngestJobAcceptor, type UploadResult } from './ingest-job-acceptor';

export type { UploadResult } from './ingest-job-acceptor';

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

@Injectable()
export class UploadService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly acceptor: IngestJobAcceptor,
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
    classifyQuery?: string,
  ): Promise<UploadResult> {
    const stored: NewDocument[] = [];
    const labels: DocumentLabels = {};
    let classify: UploadClassification | undefined =
      classifyQuery === undefined ? undefined : parseClassifyField(classifyQuery);
    try {
      for await (const part of clientFaults(parts)) {
        if (part.type !== 'file') {
          // Fields may come before or after the files: they apply to every file of the request.
          if (part.fieldname === 'metadata') labels.metadata = parseMetadataField(String(part.value));
          else if (part.fieldname === 'tags') labels.tags = parseTagsField(String(part.value));
          else if (part.fieldname === 'classify') classify = parseClassifyField(String(part.value));
          continue;
        }
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

    for (const d of stored) {
      d.metadata = labels.metadata ?? {};
      d.tags = labels.tags ?? [];
    }
    let result: UploadResult;
    try {
      result = await this.acceptor.accept(
        tenantId,
        stored,
        idempotencyKey,
        requestedLane,
        classify ? { classify } : undefined,
      );
    } catch (error) {
      await this.discard(stored);
      throw error;
    }
    // An Idempotency-Key already used: the earlier job stands, and these bytes are not needed.
    if (!result.created) await this.discard(stored);
    return result;
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
