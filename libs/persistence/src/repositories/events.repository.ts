import type { PrismaClient } from '../generated/prisma/client';
import { coalesceProgress, type StoredEvent } from '../domain/event-rules';

/** Only one relay publishes at a time, whichever replica it runs in, so the stream keeps the events' order. */
const RELAY_LOCK = 7_309_030;

export interface RelayPass {
  /** Another replica's relay held the lock; nothing was read. */
  busy: boolean;
  published: number;
  coalesced: number;
  /** The batch was full: more events are waiting. */
  more: boolean;
}

/**
 * The events the database wrote (triggers on jobs and documents, ADR 30) as the relay reads and marks them. A
 * publish repeated after a crash is a duplicate JetStream drops (`event:<eventId>` is the Nats-Msg-Id).
 */
export class EventsRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Under the relay lock: reads the oldest unpublished events in id order, leaves out progress a later event of the
   * batch makes stale, hands the rest to `publish` (which returns each one's stream sequence, or null where the
   * publish failed) and marks them. Events from the first failure on stay unpublished, so the stream keeps the order.
   */
  relay(limit: number, publish: (events: StoredEvent[]) => Promise<(number | null)[]>): Promise<RelayPass> {
    return this.prisma.$transaction(
      async (tx) => {
        const [lock] = await tx.$queryRaw<{ locked: boolean }[]>`
          SELECT pg_try_advisory_xact_lock(${RELAY_LOCK}::bigint) AS locked`;
        if (!lock?.locked) return { busy: true, published: 0, coalesced: 0, more: false };
        const rows = await tx.$queryRaw<
          {
            id: bigint;
            event_id: string;
            tenant_id: string;
            scope_id: string;
            job_id: string | null;
            document_id: string | null;
            type: string;
            data: unknown;
            traceparent: string | null;
            created_at: Date;
          }[]
        >`
          SELECT id, event_id, tenant_id, scope_id, job_id, document_id, type, data, traceparent, created_at
          FROM events WHERE published_at IS NULL ORDER BY id LIMIT ${limit}`;
        if (rows.length === 0) return { busy: false, published: 0, coalesced: 0, more: false };
        const batch: StoredEvent[] = rows.map((r) => ({
          id: r.id,
          eventId: r.event_id,
          tenantId: r.tenant_id,
          scopeId: r.scope_id,
          jobId: r.job_id,
          documentId: r.document_id,
          type: r.type,
          data: r.data,
          traceparent: r.traceparent,
          createdAt: r.created_at,
        }));
        const { publish: kept, coalesced } = coalesceProgress(batch);
        const seqs = await publish(kept);
        const firstFailure = seqs.findIndex((s) => s === null);
        const sent = firstFailure === -1 ? kept : kept.slice(0, firstFailure);
        const upTo = firstFailure === -1 ? null : (kept[firstFailure] as StoredEvent).id;
        const skipped = coalesced.filter((e) => upTo === null || e.id < upTo);
        const ids = [...sent.map((e) => e.id), ...skipped.map((e) => e.id)];
        const streamSeqs = [...sent.map((_, i) => seqs[i] ?? null), ...skipped.map(() => null)];
        if (ids.length > 0) {
          await tx.$executeRaw`
            UPDATE events e SET published_at = now(), stream_seq = x.seq
            FROM unnest(${ids}::bigint[], ${streamSeqs}::bigint[]) AS x(id, seq)
            WHERE e.id = x.id`;
        }
        return {
          busy: false,
          published: sent.length,
          coalesced: skipped.length,
          more: rows.length === limit && firstFailure === -1,
        };
      },
      { maxWait: 5_000, timeout: 60_000 },
    );
  }

  /**
   * Where a job's events stand: whether some are still unpublished, and the stream sequence of the last one published
   * (null when none is on record, or retention removed them).
   */
  async jobMark(jobId: string): Promise<{ waiting: boolean; lastSeq: number | null }> {
    const [row] = await this.prisma.$queryRaw<{ waiting: boolean; last_seq: bigint | null }[]>`
      SELECT EXISTS (SELECT 1 FROM events WHERE published_at IS NULL AND job_id = ${jobId}::uuid) AS waiting,
             (SELECT max(stream_seq) FROM events WHERE job_id = ${jobId}::uuid) AS last_seq`;
    return { waiting: row?.waiting ?? false, lastSeq: row?.last_seq == null ? null : Number(row.last_seq) };
  }

  /** Published events older than the cutoff, deleted in batches (retention); returns how many. */
  async deletePublishedBefore(cutoff: Date, batch = 5_000): Promise<number> {
    return this.prisma.$executeRaw`
      DELETE FROM events WHERE id IN (
        SELECT id FROM events WHERE created_at < ${cutoff} AND published_at IS NOT NULL ORDER BY created_at
        LIMIT ${batch})`;
  }
}
