/** What the API answers on an error: a stable `code`, a message, and an `errorId` for a 500 (it is in the logs). */
export interface ApiErrorBody {
  code: string;
  message: string;
  errorId?: string;
  [detail: string]: unknown;
}

/**
 * An error answer of the Quarry API, typed by its `code` (`not_found`, `validation_failed`, `insufficient_scope`,
 * `rate_limited`, `quota_exceeded`, …; docs/openapi.json lists each route's). `retryAfterMs` is set from
 * `Retry-After` on a 429 or 503.
 */
export class QuarryApiError extends Error {
  override readonly name = 'QuarryApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: ApiErrorBody,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }

  get errorId(): string | undefined {
    return this.body.errorId;
  }

  /** `QuarryApiError.is(e, 'not_found')` narrows an unknown error. */
  static is(error: unknown, code?: string): error is QuarryApiError {
    return error instanceof QuarryApiError && (code === undefined || error.code === code);
  }
}

/** Builds the error for a non-2xx answer, whatever its body (a proxy may answer HTML). */
export async function apiErrorOf(response: Response): Promise<QuarryApiError> {
  const text = await response.text();
  let body: ApiErrorBody;
  try {
    const parsed = JSON.parse(text) as Partial<ApiErrorBody>;
    body = {
      ...parsed,
      code: typeof parsed.code === 'string' ? parsed.code : `http_${response.status}`,
      message: typeof parsed.message === 'string' ? parsed.message : text.slice(0, 500),
    };
  } catch {
    // Not JSON: a proxy's or load balancer's page. Its status is all there is to go on.
    body = { code: `http_${response.status}`, message: text.slice(0, 500) || response.statusText };
  }
  return new QuarryApiError(response.status, body.code, body.message, body, retryAfterMs(response));
}

function retryAfterMs(response: Response): number | undefined {
  const header = response.headers.get('retry-after');
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
