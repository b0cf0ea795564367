import type { PrismaClient } from '../generated/prisma/client';
import { z } from 'zod';
import { Batcher } from './batcher';
import type { OutboxRow } from './types';

/** An outbox row's headers as stored: string values only (traceparent and the like). */
const Headers = z.record(z.string(), z.string());

/** The relay's view of the outbox (implements @quarry/messaging's OutboxStore port structurally). */
export class OutboxRepository {
  /**
   * Marks wait this long to share a statement: nobody waits on them (the relay has published already), and at a
   * light load each commit would otherwise pay an UPDATE of its own. Far below the sweep's grace period.
   */
  static readonly MARK_LINGER_MS = 50;

  constructor(private readonly prisma: PrismaClient) {}

  async pending(limit: number, olderThanMs: number): Promise<OutboxRow[]> {
    const rows = await this.prisma.$queryRaw<
      {
        id: bigint;
        tenant_id: string | null;
        job_id: string | null;
        subject: string;
        msg_id: string;
        payload: unknown;
        headers: unknown;
      }[]
    >`
      SELECT id, tenant_id, job_id, subject, msg_id, payload, headers FROM outbox
      WHERE sent_at IS NULL AND created_at < now() - make_interval(secs => ${olderThanMs / 1000}::float8)
      ORDER BY created_at, id LIMIT ${limit}`;
    return rows.map((r) => ({
      id: r.id.toString(),
      tenantId: r.tenant_id,
      jobId: r.job_id,
      subject: r.subject,
      msgId: r.msg_id,
      payload: r.payload,
      headers: Headers.safeParse(r.headers).data ?? {},
    }));
  }

  /**
   * `seqs[i]`, when given, is the stream sequence `ids[i]` was stored at (see the stuck-job sweeper). Calls made
   * within MARK_LINGER_MS of each other (the publishes of concurrent transitions) are marked in one UPDATE.
   */
  markSent(ids: string[], seqs?: number[]): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    return this.marks.call({ ids, seqs });
  }

  private readonly marks = new Batcher<{ ids: string[]; seqs: number[] | undefined }, void>(
    async (calls) => {
      const ids = calls.flatMap((c) => c.ids.map(BigInt));
      const seqs = calls.flatMap((c) =>
        c.ids.map((_, i) => (c.seqs?.[i] === undefined ? null : BigInt(c.seqs[i]))),
      );
      // Committed asynchronously (no wait for the WAL flush): a mark lost to a database crash only
      // leaves the row unsent, and the relay's sweep publishes it again under the same Nats-Msg-Id,
      // which JetStream drops as a duplicate (ADR 23). SET LOCAL lasts until this statement's commit.
      await this.prisma.$executeRaw`
      UPDATE outbox SET sent_at = now(), published_seq = coalesce(x.seq, outbox.published_seq)
      FROM unnest(${ids}::bigint[], ${seqs}::bigint[]) AS x(id, seq),
           (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
      WHERE outbox.id = x.id AND outbox.sent_at IS NULL`;
      return calls.map(() => undefined);
    },
    1000,
    OutboxRepository.MARK_LINGER_MS,
  );

  async markFailed(id: string, error: string): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE outbox SET attempts = attempts + 1, last_error = ${error.slice(0, 2000)} WHERE id = ${BigInt(id)}`;
  }

  async unsentCount(): Promise<number> {
    const [r] = await this.prisma.$queryRaw<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL`;
    return r?.n ?? 0;
  }
}
