import type { Prisma, PrismaClient } from '../generated/prisma/client';
import { sql, type Tx } from './sql';

/**
 * What a tenant's work is metered by (ADR 32), as stored in `usage_records.metric`:
 * - `documents`: documents accepted into a job (uploaded, given as a URL, delivered by a crawler, found inside another);
 * - `storage_bytes`: bytes written to the blob store for them;
 * - `pages_parsed`: pages extracted from bytes (every method, OCR included); `pages_ocr`: those of them OCR'd;
 * - `chunks_embedded` and `embedding_tokens`: chunks embedded by the model and their tokens (o200k, as chunked);
 * - `llm_tokens`: prompt and completion tokens a language model counted for an analysis or an upload's labels.
 * Copies (reused extraction or chunks, ADR 13; retries) embed and parse nothing, so they add no pages, chunks or
 * tokens.
 */
export const USAGE_METRICS = [
  'documents',
  'pages_parsed',
  'pages_ocr',
  'chunks_embedded',
  'embedding_tokens',
  'llm_tokens',
  'storage_bytes',
] as const;
export type UsageMetric = (typeof USAGE_METRICS)[number];

/** One quantity of one metric, used by a job for one subject (a document, or the job itself). */
export interface UsageInput {
  tenantId: string;
  jobId: string;
  subjectId: string;
  metric: UsageMetric;
  quantity: number;
}

/**
 * CTEs `usage_new` and `usage_day` of a statement: inserts the usage rows `source` selects (columns tenant_id, job_id,
 * subject_id, metric, quantity), leaving out zeros and keys already recorded (a redelivered step's), and adds exactly
 * what it inserted to the tenant's day. The daily rows are upserted in key order, so two statements touching the same
 * days wait for each other instead of deadlocking.
 */
export function usageCte(source: Prisma.Sql): Prisma.Sql {
  return sql`usage_new AS (
      INSERT INTO usage_records (tenant_id, job_id, subject_id, metric, quantity)
      SELECT u.tenant_id, u.job_id, u.subject_id, u.metric, u.quantity FROM (${source}) AS u
      WHERE u.quantity > 0
      ON CONFLICT DO NOTHING
      RETURNING tenant_id, metric, quantity, occurred_at),
    usage_day AS (
      INSERT INTO usage_daily (tenant_id, metric, day, quantity)
      SELECT tenant_id, metric, (occurred_at AT TIME ZONE 'UTC')::date, sum(quantity)::bigint
      FROM usage_new GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
      ON CONFLICT (tenant_id, metric, day) DO UPDATE SET quantity = usage_daily.quantity + excluded.quantity)`;
}

/** A `usageCte` source of rows given by the caller. */
export function usageValues(rows: readonly UsageInput[]): Prisma.Sql {
  return sql`
    SELECT * FROM unnest(${rows.map((r) => r.tenantId)}::uuid[], ${rows.map((r) => r.jobId)}::uuid[],
                         ${rows.map((r) => r.subjectId)}::uuid[], ${rows.map((r) => r.metric)}::text[],
                         ${rows.map((r) => r.quantity)}::bigint[])
      AS v(tenant_id, job_id, subject_id, metric, quantity)`;
}

/** Records usage on its own statement, inside the caller's transaction when given one. */
export async function recordUsage(db: Tx | PrismaClient, rows: readonly UsageInput[]): Promise<void> {
  if (!rows.some((r) => r.quantity > 0)) return;
  await db.$executeRaw`WITH ${usageCte(usageValues(rows))} SELECT 1`;
}

/**
 * The language-model tokens a kept analysis item cost: its `tokens` ({promptTokens, completionTokens}, as the model
 * counted them), 0 for an item that has none (an offline method's, or one kept before a model was configured).
 */
export function itemLlmTokens(output: unknown): number {
  if (typeof output !== 'object' || output === null || !('tokens' in output)) return 0;
  const tokens = output.tokens;
  if (typeof tokens !== 'object' || tokens === null) return 0;
  const count = (key: string): number => {
    const v = (tokens as Record<string, unknown>)[key];
    return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : 0;
  };
  return count('promptTokens') + count('completionTokens');
}
