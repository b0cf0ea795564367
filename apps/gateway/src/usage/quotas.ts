import type { AppConfig } from '@quarry/config';
import { QuarryError } from '@quarry/contracts';
import type { QuotaStanding } from '@quarry/persistence';

/** The quotas a tenant can have (ADR 32), per calendar month in UTC. */
export type QuotaName = 'pages_per_month' | 'embedding_tokens_per_month';

/** A quota's limit (null: none) and what the tenant used of it in the current period. */
export interface Quota {
  name: QuotaName;
  limit: number | null;
  used: number;
}

/** A quota period: [start, end). */
export interface QuotaPeriod {
  start: Date;
  end: Date;
}

/** The calendar month (UTC) `now` falls in: the period every quota counts. */
export function monthOf(now: Date): QuotaPeriod {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return { start, end };
}

/** The limit that applies: the tenant's own when it has one, else the deployment's; 0 from either means none. */
export function effectiveLimit(own: number | null, deployment: number): number | null {
  const limit = own ?? deployment;
  return limit > 0 ? limit : null;
}

/** The tenant's quotas with what it used of them in the period. */
export function quotasOf(deployment: AppConfig['quotas'], standing: QuotaStanding): Quota[] {
  return [
    {
      name: 'pages_per_month',
      limit: effectiveLimit(standing.overrides.pagesPerMonth, deployment.pagesPerMonth),
      used: standing.used.pages,
    },
    {
      name: 'embedding_tokens_per_month',
      limit: effectiveLimit(standing.overrides.embeddingTokensPerMonth, deployment.embeddingTokensPerMonth),
      used: standing.used.embeddingTokens,
    },
  ];
}

/**
 * The first quota the tenant has used up, or null. Work is refused once the use reaches the limit, not before: how
 * many pages an upload holds is known only once it is parsed, so the last work accepted may take the use past it.
 */
export function exhaustedQuota(quotas: readonly Quota[]): Quota | null {
  return quotas.find((q) => q.limit !== null && q.used >= q.limit) ?? null;
}

const NOUNS: Record<QuotaName, string> = {
  pages_per_month: 'pages parsed',
  embedding_tokens_per_month: 'embedding tokens',
};

/** 429 quota_exceeded naming the quota, the use, and when the period resets (Retry-After counts down to it). */
export function quotaExceeded(quota: Quota, period: QuotaPeriod, now: Date): QuarryError {
  const resetsAt = period.end.toISOString();
  return new QuarryError(
    'quota_exceeded',
    `quota ${quota.name} exceeded: this tenant has ${quota.used} ${NOUNS[quota.name]} this month against a quota ` +
      `of ${quota.limit ?? 0}; new work is refused until the quota resets at ${resetsAt}`,
    {
      details: { quota: quota.name, limit: quota.limit, used: quota.used, resetsAt },
      retryAfterMs: Math.max(0, period.end.getTime() - now.getTime()),
    },
  );
}
