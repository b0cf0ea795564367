import { MAX_RETRY_AFTER_MS, retryAfterMs } from './retry-after';

const h = (entries: Record<string, string>) => new Headers(entries);
const NOW = Date.parse('2026-12-05T12:00:00Z');

describe('retryAfterMs', () => {
  it("reads OpenAI's retry-after-ms before Retry-After", () => {
    expect(retryAfterMs(h({ 'retry-after-ms': '1500', 'retry-after': '9' }), NOW)).toBe(1500);
  });

  it('reads delay-seconds and HTTP-dates (RFC 9110)', () => {
    expect(retryAfterMs(h({ 'retry-after': '7' }), NOW)).toBe(7000);
    expect(retryAfterMs(h({ 'retry-after': 'Sat, 05 Dec 2026 12:00:30 GMT' }), NOW)).toBe(30_000);
    // A date already past means "now".
    expect(retryAfterMs(h({ 'retry-after': 'Sat, 05 Dec 2026 11:00:00 GMT' }), NOW)).toBe(0);
  });

  it('caps what a server asks for and ignores what it cannot mean', () => {
    expect(retryAfterMs(h({ 'retry-after': '86400' }), NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterMs(h({ 'retry-after': 'soon' }), NOW)).toBeUndefined();
    expect(retryAfterMs(h({ 'retry-after-ms': '-5' }), NOW)).toBeUndefined();
    expect(retryAfterMs(h({}), NOW)).toBeUndefined();
  });
});
