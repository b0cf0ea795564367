import { QuarryApiError } from '@quarry/sdk';
import { CliError, describeError, EXIT, exitCodeOf } from './exit-codes';

const apiError = (status: number, code: string, retryAfterMs?: number) =>
  new QuarryApiError(status, code, `${code} happened`, { code, message: `${code} happened` }, retryAfterMs);

describe('cli exit codes', () => {
  it.each([
    [401, 'unauthorized', EXIT.auth],
    [403, 'insufficient_scope', EXIT.auth],
    [404, 'not_found', EXIT.notFound],
    [404, 'feature_disabled', EXIT.notFound],
    [429, 'rate_limited', EXIT.rateLimited],
    [429, 'quota_exceeded', EXIT.rateLimited],
    [500, 'internal', EXIT.unavailable],
    [502, 'llm_invalid_output', EXIT.unavailable],
    [503, 'unavailable', EXIT.unavailable],
    [400, 'validation_failed', EXIT.usage],
    [400, 'too_many_files', EXIT.usage],
    [413, 'payload_too_large', EXIT.usage],
    [409, 'conflict', EXIT.failed],
    [422, 'llm_not_configured', EXIT.failed],
  ])('maps %i %s to %i', (status, code, exit) => {
    expect(exitCodeOf(apiError(status, code))).toBe(exit);
  });

  it('maps network failures to unavailable, its own errors to theirs, anything else to 1', () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
    });
    expect(exitCodeOf(refused)).toBe(EXIT.unavailable);
    expect(describeError(refused)).toBe('cannot reach the gateway: ECONNREFUSED');
    expect(exitCodeOf(new CliError('not logged in', EXIT.auth))).toBe(EXIT.auth);
    expect(exitCodeOf(new Error('boom'))).toBe(EXIT.failed);
  });

  it('describes API errors by code, with what to do', () => {
    expect(describeError(apiError(401, 'unauthorized'))).toBe(
      'unauthorized: unauthorized happened; check the key, or run `quarry login`',
    );
    expect(describeError(apiError(429, 'rate_limited', 2500))).toBe(
      'rate_limited: rate_limited happened; retry in 3 s',
    );
    expect(describeError(apiError(400, 'too_many_files'))).toBe(
      'too_many_files: too_many_files happened; upload fewer at once with --batch-size',
    );
  });
});
