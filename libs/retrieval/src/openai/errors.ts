import { QuarryError, type ErrorCode } from '@quarry/contracts';
import OpenAI, { APIError } from 'openai';
import { retryAfterMs } from './retry-after';

/**
 * What a failed call to an OpenAI-compatible server means for the job: timeouts, lost connections, 408, 409, 429
 * and 5xx are the server's trouble and are retried (429 and 503 after the delay the server asked for); any other
 * status (a bad key, an unknown model, an input too long) fails the same way every time and is not.
 */
export function fromOpenAiError(
  error: unknown,
  code: Extract<ErrorCode, 'llm_unavailable' | 'embedding_failed'>,
  server: string,
  timeoutMs?: number,
): unknown {
  if (error instanceof OpenAI.APIUserAbortError) {
    return new QuarryError(code, `request to ${server} aborted: the worker is stopping`, {
      cause: error,
      retryable: true,
    });
  }
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    const after = timeoutMs === undefined ? '' : ` after ${timeoutMs} ms`;
    return new QuarryError(code, `request to ${server} timed out${after}`, { cause: error, retryable: true });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new QuarryError(code, `request to ${server} failed: ${describe(error)}`, {
      cause: error,
      retryable: true,
    });
  }
  if (isApiError(error)) {
    const { status, headers } = error;
    if (status === undefined) return error;
    const retryable = status >= 500 || status === 408 || status === 409 || status === 429;
    const delay = retryable && headers ? retryAfterMs(headers, Date.now()) : undefined;
    return new QuarryError(code, `${server} answered ${status}: ${error.message}`, {
      cause: error,
      retryable,
      details: { status },
      ...(delay === undefined ? {} : { retryAfterMs: delay }),
    });
  }
  return error;
}

/** `instanceof` alone would type the error's status and headers `any` (the class is generic). */
function isApiError(error: unknown): error is APIError {
  return error instanceof APIError;
}

function describe(error: Error): string {
  // undici hides the useful part (ECONNREFUSED, ENOTFOUND) in the cause's cause. Duck-typed rather than
  // `instanceof`: fetch's errors come from undici's realm, which is not the caller's under Jest's module sandbox.
  const parts = [error.message];
  let inner: unknown = error.cause;
  for (let depth = 0; depth < 3 && typeof inner === 'object' && inner !== null; depth++) {
    if ('message' in inner && typeof inner.message === 'string') parts.push(inner.message);
    inner = 'cause' in inner ? inner.cause : undefined;
  }
  return [...new Set(parts.filter(Boolean))].join(': ');
}
