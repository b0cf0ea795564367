/**
 * Every error that crosses a boundary carries a stable code. Transports translate the code, never the
 * message: the gateway maps it to an HTTP status, the messaging layer to ack / nak(delay) / term.
 */
export const ErrorCodes = {
  // request validation and auth
  validation_failed: { status: 400, retryable: false },
  unauthorized: { status: 401, retryable: false },
  not_found: { status: 404, retryable: false },
  conflict: { status: 409, retryable: false },
  payload_too_large: { status: 413, retryable: false },
  too_many_files: { status: 400, retryable: false },
  no_files: { status: 400, retryable: false },
  empty_file: { status: 400, retryable: false },
  not_multipart: { status: 415, retryable: false },
  unsupported_media_type: { status: 415, retryable: false },
  // document processing (a document fails on its own with one of these)
  unsupported_type: { status: 422, retryable: false },
  corrupt_pdf: { status: 422, retryable: false },
  encrypted_pdf: { status: 422, retryable: false },
  undecodable_text: { status: 422, retryable: false },
  no_text: { status: 422, retryable: false },
  parser_timeout: { status: 422, retryable: false },
  parser_crashed: { status: 422, retryable: false },
  blob_missing: { status: 422, retryable: false },
  // infrastructure (transient: retried with backoff)
  dependency_unavailable: { status: 503, retryable: true },
  search_unavailable: { status: 503, retryable: true },
  embedding_failed: { status: 502, retryable: true },
  delivery_exhausted: { status: 500, retryable: false },
  // the stuck-job sweeper gave up re-publishing a document's lost command (MAX_REDRIVES)
  stalled: { status: 500, retryable: false },
  internal: { status: 500, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ErrorCodes;

export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  retryable?: boolean;
}

export class QuarryError extends Error {
  override readonly name = 'QuarryError';
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? ErrorCodes[code].retryable;
    this.details = options.details;
  }

  readonly details: Record<string, unknown> | undefined;

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
