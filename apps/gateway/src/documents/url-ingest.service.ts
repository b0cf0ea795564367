import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { filenameFromUrl, QuarryError, UploadClassification, uuidv7, type Lane } from '@quarry/contracts';
import type { NewDocument } from '@quarry/persistence';
import { z } from 'zod';
import { parseInput } from '../http/validation';
import { Metadata, Tags } from './document-labels';
import { IngestJobAcceptor } from './ingest-job-acceptor';

const MAX_URL_CHARS = 2048;

/** A URL the worker may try: http(s), no credentials. Whether its host may be reached is decided at fetch time. */
const FetchableUrl = z
  .string()
  .max(MAX_URL_CHARS)
  .refine((raw) => URL.canParse(raw), 'must be an absolute URL')
  .transform((raw) => new URL(raw))
  .refine((u) => u.protocol === 'http:' || u.protocol === 'https:', 'only http and https URLs can be fetched')
  .refine((u) => u.username === '' && u.password === '', 'credentials in a URL are not accepted')
  .transform((u) => u.href);

export function urlIngestBody(maxUrls: number) {
  return z.strictObject({
    urls: z.array(FetchableUrl).min(1, 'send at least one URL').max(maxUrls, `at most ${maxUrls} URLs`),
    metadata: Metadata.optional(),
    tags: Tags.optional(),
    classify: UploadClassification.optional(),
  });
}

/**
 * `POST /v1/documents` with `{"urls": [...], "metadata": {...}, "tags": [...]}`: one job, one document per URL, answered at once.
 * The gateway fetches nothing: the ingest worker fetches each URL through the SSRF guard, so a slow or hostile
 * server costs a worker slot, never a request, and a refused URL fails its own document, not the job.
 */
@Injectable()
export class UrlIngestService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly acceptor: IngestJobAcceptor,
  ) {}

  ingest(tenantId: string, body: unknown, idempotencyKey: string | null, requestedLane: Lane | null) {
    const { urls, metadata, tags, classify } = parseInput(
      urlIngestBody(this.config.urlFetch.maxUrlsPerRequest),
      body,
      'body',
    );
    const documents: NewDocument[] = urls.map((url) => {
      const id = uuidv7();
      return {
        id,
        filename: filenameFromUrl(url),
        claimedContentType: null,
        sha256: null,
        sizeBytes: null,
        blobKey: `${tenantId}/${id}`,
        source: 'url',
        sourceUrl: url,
        metadata: metadata ?? {},
        tags: tags ?? [],
      };
    });
    return this.acceptor.accept(
      tenantId,
      documents,
      idempotencyKey,
      requestedLane,
      classify ? { classify } : undefined,
    );
  }
}

/** 415 for a body that is neither multipart nor JSON. */
export function unsupportedBody(contentType: string | undefined): QuarryError {
  return new QuarryError(
    'not_multipart',
    `send multipart/form-data with files in the "files" field, or application/json with {"urls": [...]}` +
      (contentType ? ` (got ${contentType.split(';')[0]})` : ''),
  );
}
