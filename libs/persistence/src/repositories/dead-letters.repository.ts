import type { DeadLetter, Prisma, PrismaClient } from '../generated/prisma/client';
import { inTransaction, type AfterCommit } from './after-commit';
import { existingJobForKey, insertRetryJob, type NewRetryJob, type RetryStart } from './jobs.repository';
import type { JobView, OutboxRow } from './types';

/** A message read from the DLQ stream, as the recorder stores it. */
export interface NewDeadLetter {
  id: string;
  /** Stored only when such a tenant exists; an invalid payload may name any id. */
  tenantId: string | null;
  jobId: string | null;
  documentId: string | null;
  command: string;
  originSubject: string;
  originMsgId: string;
  dlqStreamSeq: number;
  code: string;
  reason: string;
  deliveryCount: number;
  traceparent: string | null;
  payload: unknown;
  /** When the message entered the DLQ stream. */
  createdAt: Date;
}

/** A recorded dead letter: what the recorder stored, plus what replays did with it. */
export interface DeadLetterView extends NewDeadLetter {
  replayedAt: Date | null;
  replayCount: number;
  lastReplayJobId: string | null;
}

export interface DeadLetterCursor {
  createdAt: Date;
  id: string;
}

export type ReplayResult =
  | { kind: 'replayed' | 'existing'; deadLetter: DeadLetterView; job: JobView; outbox: OutboxRow[] }
  | { kind: 'not_found' }
  /** The message named no job and document (its payload was invalid): there is nothing to copy. */
  | { kind: 'no_document' }
  /** The document it named no longer exists (purged), so no copy can be made. */
  | { kind: 'document_gone'; documentId: string }
  | { kind: 'unknown_command'; command: string };

function toView(r: DeadLetter): DeadLetterView {
  return {
    id: r.id,
    tenantId: r.tenantId,
    jobId: r.jobId,
    documentId: r.documentId,
    command: r.command,
    originSubject: r.originSubject,
    originMsgId: r.originMsgId,
    dlqStreamSeq: Number(r.dlqStreamSeq),
    code: r.code,
    reason: r.reason,
    deliveryCount: r.deliveryCount,
    traceparent: r.traceparent,
    payload: r.payload,
    createdAt: r.createdAt,
    replayedAt: r.replayedAt,
    replayCount: r.replayCount,
    lastReplayJobId: r.lastReplayJobId,
  };
}

/** PostgreSQL text and jsonb cannot hold NUL; a dead letter may be any bytes, and must still be stored. */
const noNul = (v: string): string => v.replaceAll('\u0000', '\ufffd');
const jsonWithoutNul = (v: unknown): string =>
  JSON.stringify(v ?? null, (_key, x: unknown) => (typeof x === 'string' ? noNul(x) : x));

const REPLAYABLE: readonly string[] = ['ingestDocument', 'indexDocument'] satisfies RetryStart[];

/**
 * Dead letters recorded from the DLQ stream; every read is scoped by tenant. A replay's outbox rows go to the
 * after-commit port before it returns.
 */
export class DeadLettersRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly afterCommit: AfterCommit,
  ) {}

  /**
   * Stores a dead letter once: a second recording of the same DLQ message (a redelivery to the
   * recorder, two replicas) inserts nothing. Returns the row's id either way.
   */
  async record(input: NewDeadLetter): Promise<{ id: string; inserted: boolean }> {
    const d = {
      ...input,
      command: noNul(input.command),
      originSubject: noNul(input.originSubject),
      originMsgId: noNul(input.originMsgId),
      code: noNul(input.code),
      reason: noNul(input.reason),
      traceparent: input.traceparent === null ? null : noNul(input.traceparent),
    };
    const inserted = await this.prisma.$queryRaw<{ id: string }[]>`
      INSERT INTO dead_letters (id, tenant_id, job_id, document_id, command, origin_subject, origin_msg_id,
                                dlq_stream_seq, code, reason, delivery_count, traceparent, payload, created_at)
      VALUES (${d.id}::uuid, (SELECT id FROM tenants WHERE id = ${d.tenantId}::uuid), ${d.jobId}::uuid,
              ${d.documentId}::uuid, ${d.command}, ${d.originSubject}, ${d.originMsgId}, ${d.dlqStreamSeq}::bigint,
              ${d.code}, ${d.reason}, ${d.deliveryCount}::int, ${d.traceparent},
              ${jsonWithoutNul(d.payload)}::jsonb, ${d.createdAt}::timestamptz)
      ON CONFLICT (dlq_stream_seq) DO NOTHING
      RETURNING id::text`;
    if (inserted[0]) return { id: inserted[0].id, inserted: true };
    const existing = await this.prisma.deadLetter.findUniqueOrThrow({
      where: { dlqStreamSeq: BigInt(d.dlqStreamSeq) },
      select: { id: true },
    });
    return { id: existing.id, inserted: false };
  }

  async get(tenantId: string, id: string): Promise<DeadLetterView | null> {
    const row = await this.prisma.deadLetter.findFirst({ where: { id, tenantId } });
    return row ? toView(row) : null;
  }

  /** Newest first, keyset-paginated on (created_at, id) like the job list. */
  async list(
    tenantId: string,
    options: { jobId?: string | undefined; limit: number; cursor?: DeadLetterCursor | undefined },
  ): Promise<{ items: DeadLetterView[]; next: DeadLetterCursor | null }> {
    const where: Prisma.DeadLetterWhereInput = {
      tenantId,
      ...(options.jobId ? { jobId: options.jobId } : {}),
    };
    if (options.cursor) {
      const c = options.cursor;
      where.OR = [{ createdAt: { lt: c.createdAt } }, { createdAt: c.createdAt, id: { lt: c.id } }];
    }
    const rows = await this.prisma.deadLetter.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: options.limit + 1,
    });
    const items = rows.slice(0, options.limit).map(toView);
    const last = items[items.length - 1];
    return {
      items,
      next: rows.length > options.limit && last ? { createdAt: last.createdAt, id: last.id } : null,
    };
  }

  /**
   * Replays a dead letter as a new job (terminal jobs never change) retrying the dead letter's job,
   * holding a copy of its one document that starts with the command that was dead-lettered: an
   * index command whose document has no pages left starts at ingest instead. The job, its outbox rows
   * and the dead letter's replay count commit together.
   */
  async replay(tenantId: string, deadLetterId: string, input: NewRetryJob): Promise<ReplayResult> {
    try {
      return await inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
        const dl = await tx.deadLetter.findFirst({ where: { id: deadLetterId, tenantId } });
        if (!dl) return { kind: 'not_found' } as const;
        if (!REPLAYABLE.includes(dl.command))
          return { kind: 'unknown_command', command: dl.command } as const;
        if (!dl.jobId || !dl.documentId) return { kind: 'no_document' } as const;
        const doc = await tx.document.findFirst({
          where: { id: dl.documentId, jobId: dl.jobId, tenantId },
          include: { job: { select: { lane: true } }, _count: { select: { pages: true } } },
        });
        if (!doc) return { kind: 'document_gone', documentId: dl.documentId } as const;
        const startAt: RetryStart =
          dl.command === 'indexDocument' && doc._count.pages > 0 ? 'indexDocument' : 'ingestDocument';
        const created = await insertRetryJob(tx, input, { jobId: dl.jobId, lane: doc.job.lane }, [
          { ...doc, startAt },
        ]);
        notes.rows(created.outbox);
        const updated = await tx.deadLetter.update({
          where: { id: dl.id },
          data: { replayedAt: new Date(), replayCount: { increment: 1 }, lastReplayJobId: created.job.id },
        });
        return { kind: 'replayed', deadLetter: toView(updated), ...created } as const;
      });
    } catch (error) {
      const existing = await existingJobForKey(this.prisma, error, tenantId, input.idempotencyKey);
      const dl = existing ? await this.get(tenantId, deadLetterId) : null;
      if (existing && dl) return { kind: 'existing', deadLetter: dl, job: existing, outbox: [] };
      throw error;
    }
  }
}
