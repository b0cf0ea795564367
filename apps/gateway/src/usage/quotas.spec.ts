import { QuarryError } from '@quarry/contracts';
import { effectiveLimit, exhaustedQuota, monthOf, quotaExceeded, quotasOf, type Quota } from './quotas';

describe('monthOf', () => {
  it('is the calendar month in UTC, whatever the offset the instant was written with', () => {
    expect(monthOf(new Date('2026-12-31T23:30:00-02:00'))).toEqual({
      start: new Date('2027-01-01T00:00:00Z'),
      end: new Date('2027-02-01T00:00:00Z'),
    });
    expect(monthOf(new Date('2028-02-29T12:00:00Z'))).toEqual({
      start: new Date('2028-02-01T00:00:00Z'),
      end: new Date('2028-03-01T00:00:00Z'),
    });
  });
});

describe('effectiveLimit and quotasOf', () => {
  it("takes the tenant's own limit over the deployment's, 0 from either meaning none", () => {
    expect(effectiveLimit(null, 0)).toBeNull();
    expect(effectiveLimit(null, 1000)).toBe(1000);
    expect(effectiveLimit(50, 1000)).toBe(50);
    expect(effectiveLimit(0, 1000)).toBeNull();
    expect(effectiveLimit(50, 0)).toBe(50);
  });

  it('pairs each quota with its use', () => {
    expect(
      quotasOf(
        { pagesPerMonth: 100, embeddingTokensPerMonth: 0 },
        {
          overrides: { pagesPerMonth: null, embeddingTokensPerMonth: 9000 },
          used: { pages: 7, embeddingTokens: 12 },
        },
      ),
    ).toEqual([
      { name: 'pages_per_month', limit: 100, used: 7 },
      { name: 'embedding_tokens_per_month', limit: 9000, used: 12 },
    ]);
  });
});

describe('exhaustedQuota', () => {
  const q = (name: Quota['name'], limit: number | null, used: number): Quota => ({ name, limit, used });

  it('refuses once the use reaches the limit, not before', () => {
    expect(exhaustedQuota([q('pages_per_month', 10, 9)])).toBeNull();
    expect(exhaustedQuota([q('pages_per_month', 10, 10)])).toEqual(q('pages_per_month', 10, 10));
    expect(exhaustedQuota([q('pages_per_month', 10, 14)])?.name).toBe('pages_per_month');
  });

  it('never refuses for a quota without a limit, and names the first one used up', () => {
    expect(exhaustedQuota([q('pages_per_month', null, 1e9)])).toBeNull();
    expect(
      exhaustedQuota([q('pages_per_month', 10, 3), q('embedding_tokens_per_month', 500, 500)])?.name,
    ).toBe('embedding_tokens_per_month');
  });
});

describe('quotaExceeded', () => {
  it('is a 429 naming the quota, the use and the reset, with the seconds until then', () => {
    const now = new Date('2026-12-31T23:00:00Z');
    const error = quotaExceeded({ name: 'pages_per_month', limit: 100, used: 104 }, monthOf(now), now);
    expect(error).toBeInstanceOf(QuarryError);
    expect(error.code).toBe('quota_exceeded');
    expect(error.message).toBe(
      'quota pages_per_month exceeded: this tenant has 104 pages parsed this month against a quota of 100; ' +
        'new work is refused until the quota resets at 2027-01-01T00:00:00.000Z',
    );
    expect(error.details).toEqual({
      quota: 'pages_per_month',
      limit: 100,
      used: 104,
      resetsAt: '2027-01-01T00:00:00.000Z',
    });
    expect(error.retryAfterMs).toBe(3600_000);
  });
});
