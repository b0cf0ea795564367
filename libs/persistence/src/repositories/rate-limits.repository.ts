import type { PrismaClient } from '../generated/prisma/client';

/**
 * A rate as GCRA needs it: one request is admitted every `intervalMs` on average, and a request may run ahead of
 * that schedule by at most `toleranceMs` (interval × burst: that many requests at once from a rested key).
 */
export interface GcraRate {
  intervalMs: number;
  toleranceMs: number;
}

export type RateDecision = { admitted: true } | { admitted: false; retryAfterMs: number };

/**
 * Per-key request rates kept in PostgreSQL, so every gateway replica counts against the same budget (ADR 31). One
 * row per key holds the theoretical arrival time (TAT) of its next request.
 */
export class RateLimitsRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Admits the request or says how long to wait. Admission is one statement: the upsert moves the TAT on only when
   * the request fits the rate, and its row lock makes concurrent requests of one key, from any replica, take turns.
   * A request arrives when it takes its turn (clock_timestamp() after the lock), not when its statement began
   * (now()): a statement that began first but got the lock second would otherwise be judged as arriving before the
   * one it waited for, and refused by the width of that wait.
   * A refused request changes nothing; a second statement then reads the wait from the row as it is now (the first
   * statement's snapshot may predate admissions it waited for, which would make the wait look shorter than it is).
   */
  async take(apiKeyId: string, rate: GcraRate): Promise<RateDecision> {
    const rows = await this.prisma.$queryRaw<{ admitted: boolean }[]>`
      WITH step AS (
        SELECT ${rate.intervalMs}::float8 * interval '1 millisecond' AS t,
               ${rate.toleranceMs}::float8 * interval '1 millisecond' AS tau
      ), admitted AS (
        INSERT INTO api_key_rate_limits AS b (api_key_id, tat)
        SELECT ${apiKeyId}::uuid, clock_timestamp() + step.t FROM step
        ON CONFLICT (api_key_id) DO UPDATE
          SET tat = greatest(b.tat, clock_timestamp()) + (SELECT t FROM step)
          WHERE greatest(b.tat, clock_timestamp()) + (SELECT t FROM step) <= clock_timestamp() + (SELECT tau FROM step)
        RETURNING 1
      )
      SELECT EXISTS (SELECT 1 FROM admitted) AS admitted`;
    if (!rows[0]) throw new Error('the rate limit statement returned no row');
    if (rows[0].admitted) return { admitted: true };
    const wait = await this.prisma.$queryRaw<{ wait_ms: number }[]>`
      SELECT (extract(epoch FROM tat - now()) * 1000 + ${rate.intervalMs}::float8 - ${rate.toleranceMs}::float8)::float8
             AS wait_ms
      FROM api_key_rate_limits WHERE api_key_id = ${apiKeyId}::uuid`;
    return { admitted: false, retryAfterMs: Math.max(0, wait[0]?.wait_ms ?? rate.intervalMs) };
  }
}
