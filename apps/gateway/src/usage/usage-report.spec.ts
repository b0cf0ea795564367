import { QuarryError } from '@quarry/contracts';
import { monthOf } from './quotas';
import { usageRange, usageReport } from './usage-report';

const now = new Date('2026-12-08T15:30:00Z');
const month = monthOf(now);
const range = (query: Record<string, unknown>) => usageRange(query, now, month.start);

function refusal(query: Record<string, unknown>): string {
  try {
    range(query);
  } catch (error) {
    if (error instanceof QuarryError && error.code === 'validation_failed') return error.message;
    throw error;
  }
  throw new Error('expected validation_failed');
}

describe('usageRange', () => {
  it('is the current month until now by default, totals only', () => {
    expect(range({})).toEqual({ from: month.start, to: now, groupBy: 'none' });
  });

  it('takes dates as midnight UTC and date-times with their offset', () => {
    expect(range({ from: '2026-11-01', to: '2026-12-01T01:00:00+01:00', groupBy: 'day' })).toEqual({
      from: new Date('2026-11-01T00:00:00Z'),
      to: new Date('2026-12-01T00:00:00Z'),
      groupBy: 'day',
    });
  });

  it('refuses malformed dates, an unknown grouping or parameter, from after to, and more than 366 days', () => {
    expect(refusal({ from: 'yesterday' })).toMatch(/^invalid query: from: must be an ISO 8601 date/);
    expect(refusal({ to: '2026-13-01' })).toMatch(/to: must be an ISO 8601 date/);
    expect(refusal({ from: '2026-12-01T00:00:00' })).toMatch(/from: must be an ISO 8601/);
    expect(refusal({ groupBy: 'week' })).toMatch(/groupBy/);
    expect(refusal({ tenant: 'someone-else' })).toMatch(/tenant/);
    expect(refusal({ from: '2026-12-02', to: '2026-12-01' })).toBe(
      'invalid query: from (2026-12-02T00:00:00.000Z) is after to (2026-12-01T00:00:00.000Z)',
    );
    expect(refusal({ from: '2025-01-01', to: '2026-01-03' })).toMatch(/at most 366 days/);
    expect(range({ from: '2024-01-01', to: '2025-01-01' }).groupBy).toBe('none');
  });
});

describe('usageReport', () => {
  const quota = {
    period: month,
    quotas: [
      { name: 'pages_per_month' as const, limit: 1000, used: 12 },
      { name: 'embedding_tokens_per_month' as const, limit: null, used: 400 },
    ],
  };

  it('sums every metric over the range and per day, days without use at zero', () => {
    const r = {
      from: new Date('2026-12-01T00:00:00Z'),
      to: new Date('2026-12-03T12:00:00Z'),
      groupBy: 'day' as const,
    };
    const report = usageReport(
      r,
      [
        { day: '2026-12-01', metric: 'pages_parsed', quantity: 10 },
        { day: '2026-12-01', metric: 'pages_ocr', quantity: 4 },
        { day: '2026-12-03', metric: 'pages_parsed', quantity: 2 },
        { day: '2026-12-03', metric: 'storage_bytes', quantity: 2048 },
      ],
      ['2026-12-01', '2026-12-02', '2026-12-03'],
      quota,
    );
    const zero = {
      documents: 0,
      pagesParsed: 0,
      pagesOcr: 0,
      chunksEmbedded: 0,
      embeddingTokens: 0,
      llmTokens: 0,
      storageBytes: 0,
    };
    expect(report).toEqual({
      from: '2026-12-01T00:00:00.000Z',
      to: '2026-12-03T12:00:00.000Z',
      groupBy: 'day',
      totals: { ...zero, pagesParsed: 12, pagesOcr: 4, storageBytes: 2048 },
      days: [
        { day: '2026-12-01', ...zero, pagesParsed: 10, pagesOcr: 4 },
        { day: '2026-12-02', ...zero },
        { day: '2026-12-03', ...zero, pagesParsed: 2, storageBytes: 2048 },
      ],
      quotas: {
        periodStart: '2026-12-01T00:00:00.000Z',
        periodEnd: '2027-01-01T00:00:00.000Z',
        pagesPerMonth: { limit: 1000, used: 12 },
        embeddingTokensPerMonth: { limit: null, used: 400 },
      },
    });
  });

  it('leaves the days out when not grouped by day', () => {
    const r = { from: month.start, to: now, groupBy: 'none' as const };
    const report = usageReport(r, [{ day: '2026-12-05', metric: 'llm_tokens', quantity: 77 }], [], quota);
    expect(report.days).toBeUndefined();
    expect(report.totals.llmTokens).toBe(77);
  });
});
