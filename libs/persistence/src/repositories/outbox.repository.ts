import type { PrismaClient } from '../generated/prisma/client';
import { z } from 'zod';
import { Batcher } from './batcher';

/** An outbox row's headers as stored: string values only (traceparent and the like). */
const Headers = z.record(z.string(), z.string());
import type { OutboxRow } from './types';

/** The relay's view of the outbox (implements @quarry/messaging's OutboxStore port structurally). */
export class OutboxRepository {
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
   * together (the publishes of concurrent transitions) are marked in one UPDATE.
   */
  markSent(ids: string[], seqs?: number[]): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    return this.marks.call({ ids, seqs });
  }

  private readonly marks = new Batcher<{ ids: string[]; seqs: number[] | undefined }, void>(async (calls) => {
    const ids = calls.flatMap((c) => c.ids.map(BigInt));
    const seqs = calls.flatMap((c) =>
      c.ids.map((_, i) => (c.seqs?.[i] === undefined ? null : BigInt(c.seqs[i]))),
    );
    await this.prisma.$executeRaw`
      UPDATE outbox SET sent_at = now(), published_seq = coalesce(x.seq, outbox.published_seq)
      FROM unnest(${ids}::bigint[], ${seqs}::bigint[]) AS x(id, seq)
      WHERE outbox.id = x.id AND outbox.sent_at IS NULL`;
    return calls.map(() => undefined);
  }, 1000);

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
