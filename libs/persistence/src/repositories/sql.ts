import { Prisma } from '../generated/prisma/client';
import type { OutboxInsert, OutboxRow } from './types';

export type Tx = Prisma.TransactionClient;
export const sql = Prisma.sql;

export async function insertOutbox(tx: Tx, rows: OutboxInsert[]): Promise<OutboxRow[]> {
  if (rows.length === 0) return [];
  // ON CONFLICT: a redelivered step that already wrote its next message must not fail on, or repeat, it.
  const inserted = await tx.$queryRaw<{ id: bigint; msg_id: string }[]>`
    INSERT INTO outbox (tenant_id, job_id, document_id, command, generation, subject, msg_id, payload, headers)
    ${outboxValues(rows)}
    ON CONFLICT (msg_id) DO NOTHING
    RETURNING id, msg_id`;
  return outboxRowsOf(
    rows,
    inserted.map((r) => ({ id: r.id.toString(), msg_id: r.msg_id })),
  );
}

/**
 * The SELECT that feeds outbox rows to an INSERT, one row per element. With a guard, only rows whose transition
 * happened: when the CTE named by `guard` returned a row at all or, with `guardIds`, a row whose `id` is the
 * row's own guard id.
 */
function outboxValues(
  rows: readonly OutboxInsert[],
  guard?: Prisma.Sql,
  guardIds?: readonly string[],
): Prisma.Sql {
  const ids = guardIds ?? rows.map(() => null);
  return sql`
    SELECT t, j, d, c, g, s, m, p::jsonb, h::jsonb
    FROM unnest(${rows.map((r) => r.tenantId)}::uuid[], ${rows.map((r) => r.jobId)}::uuid[],
                ${rows.map(commandDocumentId)}::uuid[], ${rows.map((r) => r.command ?? null)}::text[],
                ${rows.map((r) => r.generation ?? null)}::int[],
                ${rows.map((r) => r.subject)}::text[], ${rows.map((r) => r.msgId)}::text[],
                ${rows.map((r) => JSON.stringify(r.payload))}::text[], ${rows.map((r) => JSON.stringify(r.headers))}::text[],
                ${ids}::uuid[])
         AS x(t, j, d, c, g, s, m, p, h, guard)
    ${
      !guard
        ? Prisma.empty
        : guardIds
          ? sql`WHERE x.guard IN (SELECT id FROM ${guard})`
          : sql`WHERE EXISTS (SELECT 1 FROM ${guard})`
    }`;
}

/**
 * A CTE named `outbox_row` for a one-statement transition: inserts the rows whose transition happened (see
 * `outboxValues`) and returns the ids of those it inserted (not those a redelivery had already written).
 */
export function outboxInsertCte(
  rows: readonly OutboxInsert[],
  guard: Prisma.Sql,
  guardIds?: readonly string[],
): Prisma.Sql {
  return sql`outbox_row AS (
    INSERT INTO outbox (tenant_id, job_id, document_id, command, generation, subject, msg_id, payload, headers)
    ${outboxValues(rows, guard, guardIds)}
    ON CONFLICT (msg_id) DO NOTHING
    RETURNING id, msg_id)`;
}

/** What the `outbox_row` CTE inserted, as a JSON array of `{id, msg_id}` for `outboxRowsOf`. */
export const insertedOutboxRows = sql`coalesce((SELECT json_agg(json_build_object('id', id::text, 'msg_id', msg_id)) FROM outbox_row), '[]'::json)`;

/** The rows an INSERT … RETURNING id, msg_id actually inserted (not those a redelivery had already written). */
export function outboxRowsOf(
  rows: readonly OutboxInsert[],
  inserted: readonly { id: string; msg_id: string }[],
): OutboxRow[] {
  const byMsgId = new Map(inserted.map((r) => [r.msg_id, r.id]));
  return rows.flatMap((r) => {
    const id = byMsgId.get(r.msgId);
    return id === undefined ? [] : [{ ...r, id }];
  });
}

/**
 * Every command names its document in the payload; recording it lets the stuck-job sweeper find a
 * document's current command without parsing message ids. Events name none.
 */
export function commandDocumentId(row: OutboxInsert): string | null {
  const payload = row.payload as { documentId?: unknown } | null;
  const id = payload?.documentId;
  return typeof id === 'string' && UUID.test(id) ? id : null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function appendJobEvent(
  tx: Tx,
  e: {
    jobId: string;
    tenantId: string;
    kind: string;
    fromStatus?: string | null;
    toStatus?: string | null;
    data?: unknown;
  },
): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO job_events (job_id, tenant_id, kind, from_status, to_status, data)
    VALUES (${e.jobId}::uuid, ${e.tenantId}::uuid, ${e.kind}, ${e.fromStatus ?? null}, ${e.toStatus ?? null},
            ${JSON.stringify(e.data ?? {})}::jsonb)`;
}

/**
 * Documents joined a running job (attachments found, a crawler's pages): both steps have that many more to do, and
 * a step that had caught up with the earlier documents runs again.
 */
export async function growSteps(tx: Tx, jobId: string, documents: number): Promise<void> {
  if (documents === 0) return;
  await tx.$executeRaw`
    UPDATE job_steps SET total = total + ${documents}::int, status = 'running', finished_at = NULL
    WHERE job_id = ${jobId}::uuid AND name IN ('ingest', 'index')`;
}
