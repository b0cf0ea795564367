/** Longest wait a server may ask for: beyond it the message would outlive reasonable job deadlines. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/**
 * The delay an HTTP response asks for before the next attempt, from `retry-after-ms` (OpenAI's, milliseconds) or
 * `Retry-After` (RFC 9110: delay-seconds or an HTTP-date), capped at {@link MAX_RETRY_AFTER_MS}; undefined when the
 * response asks for none or says something unreadable.
 */
export function retryAfterMs(headers: Pick<Headers, 'get'>, now: number): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return cap(Number(ms));
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return cap(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : cap(at - now);
}

function cap(ms: number): number {
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.round(ms)));
}
