/**
 * What a cancelled operation rejects with: the signal's reason when it is an Error (the caller's own, e.g. a
 * QuarryError for a deadline), otherwise an AbortError, as the platform's own APIs reject.
 */
export function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  return new DOMException(typeof reason === 'string' ? reason : 'The operation was aborted', 'AbortError');
}
