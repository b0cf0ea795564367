import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { sql } from './sql';
import { USAGE_METRICS, type UsageMetric } from './usage';
import { usageReadPlan } from './usage-ranges';

/** One metric's use on one UTC day (`YYYY-MM-DD`). */
export interface UsageOfDay {
  day: string;
  metric: UsageMetric;
  quantity: number;
}

/** A tenant's quota overrides (null: the deployment's default; 0: none) and what it used in a period. */
export interface QuotaStanding {
  overrides: { pagesPerMonth: number | null; embeddingTokensPerMonth: number | null };
  used: { pages: number; embeddingTokens: number };
}

const isMetric = (m: string): m is UsageMetric => (USAGE_METRICS as readonly string[]).includes(m);

/**
 * Reads what tenants used (ADR 32). Usage is written by the repositories whose statements do the work (see usage.ts);
 * this one only reads, always for one tenant.
 */
export class UsageRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * The tenant's use per UTC day and metric in [from, to): whole days from the daily totals, a partial first or last
   * day from the records. Days and metrics with no use are absent.
   */
  async usageByDay(tenantId: string, from: Date, to: Date): Promise<UsageOfDay[]> {
    const plan = usageReadPlan(from, to);
    const parts: Prisma.Sql[] = [];
    if (plan.days) {
      parts.push(sql`
        SELECT day, metric, quantity FROM usage_daily
        WHERE tenant_id = ${tenantId}::uuid AND day >= ${plan.days.first}::date AND day < ${plan.days.last}::date`);
    }
    for (const edge of plan.edges) {
      parts.push(sql`
        SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, metric, quantity FROM usage_records
        WHERE tenant_id = ${tenantId}::uuid AND occurred_at >= ${edge.from} AND occurred_at < ${edge.to}`);
    }
    if (parts.length === 0) return [];
    const rows = await this.prisma.$queryRaw<{ day: string; metric: string; quantity: number }[]>`
      SELECT to_char(day, 'YYYY-MM-DD') AS day, metric, sum(quantity)::float8 AS quantity
      FROM (${Prisma.join(parts, ' UNION ALL ')}) AS u
      GROUP BY day, metric
      ORDER BY day, metric`;
    return rows.flatMap((r) => (isMetric(r.metric) ? [{ ...r, metric: r.metric }] : []));
  }

  /**
   * One indexed read for a quota check: the tenant's overrides and its pages and embedding tokens in the days
   * [first, last) (`YYYY-MM-DD`). Null when there is no such tenant.
   */
  async quotaStanding(tenantId: string, first: string, last: string): Promise<QuotaStanding | null> {
    const [row] = await this.prisma.$queryRaw<
      {
        pages_limit: number | null;
        tokens_limit: number | null;
        pages: number;
        tokens: number;
      }[]
    >`
      SELECT t.quota_pages_per_month::float8 AS pages_limit,
             t.quota_embedding_tokens_per_month::float8 AS tokens_limit,
             coalesce(sum(u.quantity) FILTER (WHERE u.metric = 'pages_parsed'), 0)::float8 AS pages,
             coalesce(sum(u.quantity) FILTER (WHERE u.metric = 'embedding_tokens'), 0)::float8 AS tokens
      FROM tenants t
      LEFT JOIN usage_daily u ON u.tenant_id = t.id AND u.metric IN ('pages_parsed', 'embedding_tokens')
                             AND u.day >= ${first}::date AND u.day < ${last}::date
      WHERE t.id = ${tenantId}::uuid
      GROUP BY t.id`;
    if (!row) return null;
    return {
      overrides: { pagesPerMonth: row.pages_limit, embeddingTokensPerMonth: row.tokens_limit },
      used: { pages: row.pages, embeddingTokens: row.tokens },
    };
  }
}
