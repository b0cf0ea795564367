import {
  commandEnvelope,
  Commands,
  type CommandName,
  type DocumentStatus,
  type JobStatus,
  type Topology,
} from '@quarry/contracts';
import type { PrismaClient } from '../generated/prisma/client';
import { inTransaction, type AfterCommit } from './after-commit';
import { appendJobEvent, insertOutbox, type Tx } from './sql';
import type { OutboxInsert, OutboxRow } from './types';

/** An active job that has shown no sign of life (heartbeat, or creation when it never started) for a while. */
export interface StalledJob {
  id: string;
  tenantId: string;
  status: JobStatus;
  redrives: number;
  /** When it last showed a sign of life. */
  since: Date;
  /** A crawl's job still open for pages: having no open document means waiting for the crawler. */
  acceptingDocuments: boolean;
}

/** The newest outbox row carrying a document's command. */
export interface CommandRow {
  outboxId: string;
  msgId: string;
  /** False while the relay has not published it yet. */
  sent: boolean;
  /** Where JetStream stored it; null when published before sequences were recorded. */
  publishedSeq: number | null;
}

/** An open document of a stalled job and the command its status calls for. */
export interface OpenDocumentCommand {
  documentId: string;
  status: DocumentStatus;
  /** queued|extracting → ingestDocument, extracted|indexing → indexDocument. */
  command: CommandName;
  latest: CommandRow | null;
}

export type RedriveResult =
  | { outcome: 'redriven'; redrives: number; outbox: OutboxRow[] }
  /** The job already had `maxRedrives` re-drives: the caller fails its lost documents instead. */
  | { outcome: 'exhausted'; redrives: number }
  /** The job or every document moved on since the sweeper looked: nothing to do. */
  | { outcome: 'moved_on' };

export type DeleteDocumentResult =
  | { outcome: 'not_found' }
  | { outcome: 'job_active'; jobStatus: JobStatus }
  | { outcome: 'deleted'; blobDeleted: boolean };

const OPEN_DOCUMENT = ['queued', 'extracting', 'extracted', 'indexing'] as const;
const TERMINAL_JOB = ['succeeded', 'completed_with_failures', 'failed', 'cancelled'] as const;

/** Which command moves a document on from its status. */
export function commandForStatus(status: DocumentStatus): CommandName | null {
  if (status === 'queued' || status === 'extracting') return 'ingestDocument';
  if (status === 'extracted' || status === 'indexing') return 'indexDocument';
  return null;
}

/** Generation of a command message id (`<job>:<command>:<document>:<generation>`, MessageIds.command). */
const ms = (value: number) => value / 1000;

/**
 * The gateway's housekeeping: the stuck-job sweeper's reads and re-drives, retention, document
 * deletion and queue positions. Every write that touches a job takes the job row's lock first, as the
 * state machine's transitions do. A re-drive's outbox rows go to the after-commit port before it returns.
 */
export class MaintenanceRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly topology: Topology,
    private readonly afterCommit: AfterCommit,
  ) {}

  /**
   * How many queued jobs were created before this one (0: next in line), across tenants, as the work
   * queue is shared; null when the job is not queued.
   */
  async queuePosition(jobId: string): Promise<number | null> {
    const [row] = await this.prisma.$queryRaw<{ n: number }[]>`
      SELECT (SELECT count(*) FROM jobs q
              WHERE q.status = 'queued' AND (q.created_at, q.id) < (j.created_at, j.id))::int AS n
      FROM jobs j WHERE j.id = ${jobId}::uuid AND j.status = 'queued'`;
    return row ? row.n : null;
  }

  /**
   * Active jobs without a heartbeat (or, never started, created) for `stallAfterMs`, the quietest
   * first; `after` continues from the last job of a previous page, so a long backlog of waiting jobs
   * cannot hide the ones behind it from the sweeper.
   */
  async findStalledJobs(
    stallAfterMs: number,
    limit: number,
    after?: Pick<StalledJob, 'since' | 'id'>,
  ): Promise<StalledJob[]> {
    const rows = await this.prisma.$queryRaw<
      {
        id: string;
        tenant_id: string;
        status: JobStatus;
        redrives: number;
        since: Date;
        accepting: boolean;
      }[]
    >`
      SELECT id, tenant_id, status, redrives, since, accepting FROM (
        -- Milliseconds, as a JavaScript Date carries them: the cursor must compare equal to its own row.
        SELECT id, tenant_id, status::text AS status, redrives, accepting_documents AS accepting,
               date_trunc('milliseconds', coalesce(heartbeat_at, created_at)) AS since
        FROM jobs
        -- Analysis and re-embed jobs have no documents to re-drive: their one command is redelivered by JetStream
        -- until acked.
        WHERE status IN ('queued', 'running') AND type = 'ingest'
          AND coalesce(heartbeat_at, created_at) < now() - make_interval(secs => ${ms(stallAfterMs)}::float8)
      ) stalled
      WHERE ${after === undefined}::boolean
         OR (since, id) > (${after?.since ?? null}::timestamptz, ${after?.id ?? null}::uuid)
      ORDER BY since, id
      LIMIT ${limit}`;
    return rows.map((r) => ({
      id: r.id,
      tenantId: r.tenant_id,
      status: r.status,
      redrives: r.redrives,
      since: r.since,
      acceptingDocuments: r.accepting,
    }));
  }

  /** The job's open documents, each with the newest outbox row of the command its status calls for. */
  async openDocumentCommands(jobId: string): Promise<OpenDocumentCommand[]> {
    const rows = await this.prisma.$queryRaw<
      {
        id: string;
        status: DocumentStatus;
        outbox_id: bigint | null;
        msg_id: string | null;
        sent: boolean | null;
        published_seq: bigint | null;
      }[]
    >`
      SELECT d.id, d.status::text AS status, o.id AS outbox_id, o.msg_id, o.sent_at IS NOT NULL AS sent,
             o.published_seq
      FROM documents d
      LEFT JOIN LATERAL (
        SELECT id, msg_id, sent_at, published_seq FROM outbox
        WHERE document_id = d.id
          AND command = CASE WHEN d.status IN ('queued', 'extracting') THEN 'ingestDocument' ELSE 'indexDocument' END
        ORDER BY id DESC LIMIT 1) o ON true
      WHERE d.job_id = ${jobId}::uuid AND d.status::text = ANY(${[...OPEN_DOCUMENT]}::text[])
      ORDER BY d.created_at, d.id`;
    return rows.flatMap((r) => {
      const command = commandForStatus(r.status);
      if (!command) return [];
      return [
        {
          documentId: r.id,
          status: r.status,
          command,
          latest:
            r.outbox_id === null || r.msg_id === null
              ? null
              : {
                  outboxId: r.outbox_id.toString(),
                  msgId: r.msg_id,
                  sent: r.sent === true,
                  publishedSeq: r.published_seq === null ? null : Number(r.published_seq),
                },
        },
      ];
    });
  }

  /**
   * Re-publishes the lost commands of a job through the outbox, each with the next generation of its
   * message id (a new Nats-Msg-Id, so JetStream does not drop it as a duplicate), and counts one
   * re-drive. Under the job row's lock a document is only re-driven if it still has the status and
   * newest command row the sweeper saw, so a worker that finished meanwhile, or a second sweeper, wins.
   */
  async redrive(
    jobId: string,
    lost: Pick<OpenDocumentCommand, 'documentId' | 'status' | 'latest'>[],
    maxRedrives: number,
  ): Promise<RedriveResult> {
    return inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
      const [job] = await tx.$queryRaw<
        { tenant_id: string; status: JobStatus; redrives: number; traceparent: string | null }[]
      >`
        SELECT tenant_id, status::text AS status, redrives, traceparent FROM jobs
        WHERE id = ${jobId}::uuid FOR UPDATE`;
      if (!job || (job.status !== 'queued' && job.status !== 'running'))
        return { outcome: 'moved_on' } as const;
      const current = new Map((await this.openDocs(tx, jobId)).map((d) => [d.documentId, d]));
      const still = lost.filter((d) => {
        const now = current.get(d.documentId);
        return now?.status === d.status && (now.latest?.outboxId ?? null) === (d.latest?.outboxId ?? null);
      });
      if (still.length === 0) return { outcome: 'moved_on' } as const;
      if (job.redrives >= maxRedrives) return { outcome: 'exhausted', redrives: job.redrives } as const;

      const inserts: OutboxInsert[] = [];
      for (const d of still) {
        const command = commandForStatus(d.status);
        if (!command) continue;
        const previous = await this.commandRows(tx, d.documentId, command);
        const generation = Math.max(-1, ...previous.map((r) => r.generation ?? 0)) + 1;
        // The newest command's own body keeps its lane and trace; a document that never had one
        // (written by a path without an outbox row) gets one built from the job.
        const parsed = previous[0] ? Commands[command].schema.safeParse(previous[0].payload) : undefined;
        const payload = parsed?.success
          ? parsed.data
          : {
              v: 1 as const,
              jobId,
              tenantId: job.tenant_id,
              documentId: d.documentId,
              ...(job.traceparent ? { traceparent: job.traceparent } : {}),
            };
        inserts.push(commandEnvelope(this.topology, command, payload, generation));
      }
      const outbox = notes.rows(await insertOutbox(tx, inserts));
      const [updated] = await tx.$queryRaw<{ redrives: number }[]>`
        UPDATE jobs SET redrives = redrives + 1, heartbeat_at = now(), updated_at = now()
        WHERE id = ${jobId}::uuid RETURNING redrives`;
      await appendJobEvent(tx, {
        jobId,
        tenantId: job.tenant_id,
        kind: 'redriven',
        data: {
          redrive: updated?.redrives,
          documents: still.map((d) => ({ documentId: d.documentId, status: d.status })),
          msgIds: outbox.map((r) => r.msgId),
        },
      });
      return { outcome: 'redriven', redrives: updated?.redrives ?? job.redrives + 1, outbox } as const;
    });
  }

  private async openDocs(tx: Tx, jobId: string) {
    const rows = await tx.$queryRaw<{ id: string; status: DocumentStatus; outbox_id: bigint | null }[]>`
      SELECT d.id, d.status::text AS status,
             (SELECT max(o.id) FROM outbox o
              WHERE o.document_id = d.id
                AND o.command = CASE WHEN d.status IN ('queued', 'extracting')
                                     THEN 'ingestDocument' ELSE 'indexDocument' END) AS outbox_id
      FROM documents d
      WHERE d.job_id = ${jobId}::uuid AND d.status::text = ANY(${[...OPEN_DOCUMENT]}::text[])`;
    return rows.map((r) => ({
      documentId: r.id,
      status: r.status,
      latest: r.outbox_id === null ? null : { outboxId: r.outbox_id.toString() },
    }));
  }

  /** A document's rows for one command, newest first. */
  private commandRows(tx: Tx, documentId: string, command: CommandName) {
    return tx.$queryRaw<{ generation: number | null; payload: unknown }[]>`
      SELECT generation, payload FROM outbox
      WHERE document_id = ${documentId}::uuid AND command = ${command}
      ORDER BY id DESC`;
  }

  /**
   * Deletes up to `limit` terminal jobs that finished more than `olderThanMs` ago (their documents,
   * pages, chunks, steps and events go with them by cascade). `deleteBlobs` gets the blob keys no
   * other document references (a retry or replay job may share one) and runs before the commit, so a
   * failure to delete them keeps the rows for the next pass and no blob is ever orphaned.
   */
  async purgeTerminalJobs(
    olderThanMs: number,
    limit: number,
    deleteBlobs: (keys: string[]) => Promise<void>,
  ): Promise<{ jobs: number; blobs: number }> {
    return this.prisma.$transaction(
      async (tx) => {
        const jobs = await tx.$queryRaw<{ id: string }[]>`
          SELECT id FROM jobs
          WHERE status::text = ANY(${[...TERMINAL_JOB]}::text[])
            AND finished_at < now() - make_interval(secs => ${ms(olderThanMs)}::float8)
          ORDER BY finished_at LIMIT ${limit}
          FOR UPDATE SKIP LOCKED`;
        if (jobs.length === 0) return { jobs: 0, blobs: 0 };
        const ids = jobs.map((j) => j.id);
        const keys = await tx.$queryRaw<{ blob_key: string }[]>`
          SELECT DISTINCT d.blob_key FROM documents d
          WHERE d.job_id = ANY(${ids}::uuid[]) AND d.sha256 IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM documents o
                            WHERE o.blob_key = d.blob_key AND o.job_id <> ALL(${ids}::uuid[]))`;
        await deleteBlobs(keys.map((k) => k.blob_key));
        const deleted = await tx.$executeRaw`DELETE FROM jobs WHERE id = ANY(${ids}::uuid[])`;
        return { jobs: deleted, blobs: keys.length };
      },
      { timeout: 120_000 },
    );
  }

  /**
   * Deletes up to `limit` outbox rows sent more than `olderThanMs` ago. Rows of jobs still active stay:
   * they are how the sweeper knows a waiting document's command.
   */
  async purgeSentOutbox(olderThanMs: number, limit: number): Promise<number> {
    return this.prisma.$executeRaw`
      DELETE FROM outbox WHERE id IN (
        SELECT o.id FROM outbox o
        WHERE o.sent_at < now() - make_interval(secs => ${ms(olderThanMs)}::float8)
          AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = o.job_id AND j.status IN ('queued', 'running'))
        ORDER BY o.id LIMIT ${limit})`;
  }

  /** Deletes up to `limit` webhook receipts older than `olderThanMs`: senders stop retrying long before. */
  async purgeWebhookReceipts(olderThanMs: number, limit: number): Promise<number> {
    return this.prisma.$executeRaw`
      DELETE FROM webhook_receipts WHERE (tenant_id, source, delivery_id) IN (
        SELECT tenant_id, source, delivery_id FROM webhook_receipts
        WHERE received_at < now() - make_interval(secs => ${ms(olderThanMs)}::float8)
        ORDER BY received_at LIMIT ${limit})`;
  }

  /**
   * Deletes up to `limit` dead letters recorded more than `olderThanMs` ago; null when this database
   * has no dead_letters table (its migration belongs to the dead-letter recorder).
   */
  async purgeDeadLetters(olderThanMs: number, limit: number): Promise<number | null> {
    const [table] = await this.prisma.$queryRaw<{ present: boolean }[]>`
      SELECT to_regclass('dead_letters') IS NOT NULL AS present`;
    if (!table?.present) return null;
    return this.prisma.$executeRaw`
      DELETE FROM dead_letters WHERE id IN (
        SELECT id FROM dead_letters
        WHERE created_at < now() - make_interval(secs => ${ms(olderThanMs)}::float8)
        ORDER BY created_at LIMIT ${limit})`;
  }

  /**
   * Deletes a document of a terminal job with its pages and chunks. Its blob goes too unless another
   * document references it; `deleteBlob` runs before the commit, so the row outlives a failed blob
   * deletion (the client can repeat the request) and no blob is orphaned.
   */
  async deleteDocument(
    tenantId: string,
    documentId: string,
    deleteBlob: (key: string) => Promise<void>,
  ): Promise<DeleteDocumentResult> {
    return this.prisma.$transaction(
      async (tx) => {
        const [doc] = await tx.$queryRaw<
          { job_id: string; blob_key: string; has_bytes: boolean; job_status: JobStatus }[]
        >`
          SELECT d.job_id, d.blob_key, d.sha256 IS NOT NULL AS has_bytes, j.status::text AS job_status
          FROM documents d JOIN jobs j ON j.id = d.job_id
          WHERE d.id = ${documentId}::uuid AND d.tenant_id = ${tenantId}::uuid
          FOR UPDATE OF j`;
        if (!doc) return { outcome: 'not_found' } as const;
        if (doc.job_status === 'queued' || doc.job_status === 'running') {
          return { outcome: 'job_active', jobStatus: doc.job_status } as const;
        }
        await tx.$executeRaw`DELETE FROM documents WHERE id = ${documentId}::uuid`;
        const [shared] = await tx.$queryRaw<{ n: number }[]>`
          SELECT count(*)::int AS n FROM documents WHERE blob_key = ${doc.blob_key}`;
        // A URL document whose fetch never succeeded has no bytes stored under its key.
        const blobDeleted = (shared?.n ?? 0) === 0 && doc.has_bytes;
        if (blobDeleted) await deleteBlob(doc.blob_key);
        return { outcome: 'deleted', blobDeleted } as const;
      },
      { timeout: 30_000 },
    );
  }
}
