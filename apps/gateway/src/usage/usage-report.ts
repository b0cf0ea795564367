import { QuarryError } from '@quarry/contracts';
import { USAGE_METRICS, type UsageMetric, type UsageOfDay } from '@quarry/persistence';
import { z } from 'zod';
import { parseInput } from '../http/validation';
import type { Quota, QuotaPeriod } from './quotas';

/** The longest range one request may ask for: a year, leap day included. */
export const MAX_RANGE_DAYS = 366;
const DAY_MS = 24 * 3600 * 1000;

/** An instant: an ISO 8601 date-time with its offset, or a date (midnight UTC). */
const Instant = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], {
    error: 'must be an ISO 8601 date (2026-12-01) or date-time with an offset (2026-12-01T00:00:00Z)',
  })
  .transform((s) => new Date(s.length === 10 ? `${s}T00:00:00Z` : s));

export const UsageQuery = z.strictObject({
  from: Instant.optional(),
  to: Instant.optional(),
  groupBy: z.enum(['day', 'none']).default('none'),
});

export interface UsageRange {
  from: Date;
  to: Date;
  groupBy: 'day' | 'none';
}

/**
 * The range a request asks for, [from, to): by default from the start of the current month (UTC) until now. 400
 * validation_failed for a malformed value, a `from` after `to`, or more than MAX_RANGE_DAYS.
 */
export function usageRange(query: unknown, now: Date, monthStart: Date): UsageRange {
  const q = parseInput(UsageQuery, query ?? {}, 'query');
  const from = q.from ?? monthStart;
  const to = q.to ?? now;
  if (from.getTime() > to.getTime()) {
    throw new QuarryError(
      'validation_failed',
      `invalid query: from (${from.toISOString()}) is after to (${to.toISOString()})`,
    );
  }
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
    throw new QuarryError(
      'validation_failed',
      `invalid query: at most ${MAX_RANGE_DAYS} days per request; ask for a longer range in parts`,
    );
  }
  return { from, to, groupBy: q.groupBy };
}

/** What the API calls each metric. */
const FIELDS = {
  documents: 'documents',
  pages_parsed: 'pagesParsed',
  pages_ocr: 'pagesOcr',
  chunks_embedded: 'chunksEmbedded',
  embedding_tokens: 'embeddingTokens',
  llm_tokens: 'llmTokens',
  storage_bytes: 'storageBytes',
} as const satisfies Record<UsageMetric, string>;

export type UsageTotals = Record<(typeof FIELDS)[UsageMetric], number>;

const zeros = (): UsageTotals => Object.fromEntries(USAGE_METRICS.map((m) => [FIELDS[m], 0])) as UsageTotals;

export interface UsageReport {
  from: string;
  to: string;
  groupBy: 'day' | 'none';
  totals: UsageTotals;
  /** With groupBy=day: every UTC day the range touches, in order, days without use at zero. */
  days?: ({ day: string } & UsageTotals)[];
  quotas: {
    periodStart: string;
    periodEnd: string;
    pagesPerMonth: { limit: number | null; used: number };
    embeddingTokensPerMonth: { limit: number | null; used: number };
  };
}

/** The answer of GET /v1/usage from the per-day rows of the range, its days and the tenant's quota standing. */
export function usageReport(
  range: UsageRange,
  rows: readonly UsageOfDay[],
  days: readonly string[],
  quota: { period: QuotaPeriod; quotas: readonly Quota[] },
): UsageReport {
  const totals = zeros();
  const byDay = new Map(days.map((d) => [d, zeros()]));
  for (const row of rows) {
    const field = FIELDS[row.metric];
    totals[field] += row.quantity;
    const bucket = byDay.get(row.day);
    if (bucket) bucket[field] += row.quantity;
  }
  const standing = (name: Quota['name']) => {
    const q = quota.quotas.find((x) => x.name === name);
    return { limit: q?.limit ?? null, used: q?.used ?? 0 };
  };
  return {
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    groupBy: range.groupBy,
    totals,
    ...(range.groupBy === 'day' ? { days: [...byDay].map(([day, t]) => ({ day, ...t })) } : {}),
    quotas: {
      periodStart: quota.period.start.toISOString(),
      periodEnd: quota.period.end.toISOString(),
      pagesPerMonth: standing('pages_per_month'),
      embeddingTokensPerMonth: standing('embedding_tokens_per_month'),
    },
  };
}
