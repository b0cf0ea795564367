import { z } from 'zod';
/**
 * Every error that crosses a boundary carries a stable code. Transports translate the code, never the
 * message: the gateway maps it to an HTTP status, the messaging layer to ack / nak(delay) / term.
 */
export const ErrorCodes = {
  // request validation and auth
  validation_failed: { status: 400, retryable: false },
  unauthorized: { status: 401, retryable: false },
  /** The API key is valid but lacks the scope the route needs (ADR 31). */
  insufficient_scope: { status: 403, retryable: false },
  /** The API key's request rate is used up; the answer says when to try again (Retry-After). */
  rate_limited: { status: 429, retryable: true },
  not_found: { status: 404, retryable: false },
  conflict: { status: 409, retryable: false },
  payload_too_large: { status: 413, retryable: false },
  too_many_files: { status: 400, retryable: false },
  no_files: { status: 400, retryable: false },
  empty_file: { status: 400, retryable: false },
  not_multipart: { status: 415, retryable: false },
  unsupported_media_type: { status: 415, retryable: false },
  /**
   * The tenant used up a quota of the period (pages or embedding tokens per month, ADR 32): new work is refused until
   * the period resets, which the answer names (and Retry-After counts down to).
   */
  quota_exceeded: { status: 429, retryable: false },
  // document processing (a document fails on its own with one of these)
  unsupported_type: { status: 422, retryable: false },
  corrupt_pdf: { status: 422, retryable: false },
  corrupt_image: { status: 422, retryable: false },
  corrupt_docx: { status: 422, retryable: false },
  corrupt_pptx: { status: 422, retryable: false },
  corrupt_xlsx: { status: 422, retryable: false },
  corrupt_csv: { status: 422, retryable: false },
  corrupt_odt: { status: 422, retryable: false },
  corrupt_ods: { status: 422, retryable: false },
  corrupt_odp: { status: 422, retryable: false },
  corrupt_rtf: { status: 422, retryable: false },
  corrupt_eml: { status: 422, retryable: false },
  corrupt_epub: { status: 422, retryable: false },
  corrupt_html: { status: 422, retryable: false },
  corrupt_markdown: { status: 422, retryable: false },
  encrypted_pdf: { status: 422, retryable: false },
  /** Any other password-protected or DRM-encrypted document (Office, ZIP entries, EPUB). */
  encrypted: { status: 422, retryable: false },
  undecodable_text: { status: 422, retryable: false },
  no_text: { status: 422, retryable: false },
  parser_timeout: { status: 422, retryable: false },
  parser_out_of_memory: { status: 422, retryable: false },
  parser_crashed: { status: 422, retryable: false },
  /** More pages (or slides, sheets, frames, chapters) than PARSER_MAX_PAGES. */
  too_many_pages: { status: 422, retryable: false },
  /** An image or rendered page above IMAGE_MAX_PIXELS (decompression bombs). */
  too_many_pixels: { status: 422, retryable: false },
  /** An archive (DOCX, XLSX, EPUB, …) with more entries or more expanded bytes than allowed. */
  archive_too_large: { status: 422, retryable: false },
  /** Attachments nested deeper than MAX_NESTING_DEPTH (an e-mail inside an e-mail inside …). */
  too_deeply_nested: { status: 422, retryable: false },
  blob_missing: { status: 422, retryable: false },
  // URL ingest: the document fails, never the job or the request
  url_forbidden: { status: 422, retryable: false },
  url_unreachable: { status: 422, retryable: false },
  url_too_large: { status: 422, retryable: false },
  url_http_error: { status: 422, retryable: false },
  // a crawler said the crawl failed before delivering anything
  crawl_failed: { status: 422, retryable: false },
  // Analyses: extract needs a language model; a selection that matched no indexed document; a model that answered
  // with something other than the schema asked for, or not at all (retried, then the job fails with it).
  llm_not_configured: { status: 422, retryable: false },
  no_documents: { status: 422, retryable: false },
  llm_invalid_output: { status: 502, retryable: true },
  llm_unavailable: { status: 503, retryable: true },
  // webhook receivers
  invalid_signature: { status: 401, retryable: false },
  feature_disabled: { status: 404, retryable: false },
  // infrastructure (transient: retried with backoff)
  dependency_unavailable: { status: 503, retryable: true },
  search_unavailable: { status: 503, retryable: true },
  embedding_failed: { status: 502, retryable: true },
  delivery_exhausted: { status: 500, retryable: false },
  // the stuck-job sweeper gave up re-publishing a document's lost command (MAX_REDRIVES)
  stalled: { status: 500, retryable: false },
  /** A step ran longer than its job type's STEP_DEADLINE_MS, heartbeat or not (ADR 33). */
  deadline_exceeded: { status: 504, retryable: false },
  internal: { status: 500, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ErrorCodes;

export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  retryable?: boolean;
}

/** An ErrorInfo as stored (a job's or document's `error` column): parsed, never cast. */
export const ErrorInfoSchema = z.object({
  code: z.enum(Object.keys(ErrorCodes) as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
  retryable: z.boolean().optional(),
});

export class QuarryError extends Error {
  override readonly name = 'QuarryError';
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: {
      cause?: unknown;
      retryable?: boolean;
      details?: Record<string, unknown>;
      /** How long the other side asked us to wait before trying again (an HTTP `Retry-After`). */
      retryAfterMs?: number;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? ErrorCodes[code].retryable;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
  }

  readonly details: Record<string, unknown> | undefined;
  readonly retryAfterMs: number | undefined;

  toInfo(): ErrorInfo {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }

  static is(error: unknown, code?: ErrorCode): error is QuarryError {
    return error instanceof QuarryError && (code === undefined || error.code === code);
  }
}

export function httpStatusOf(code: ErrorCode): number {
  return ErrorCodes[code].status;
}
