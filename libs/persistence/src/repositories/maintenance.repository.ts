import {
  commandEnvelope,
  Commands,
  type CommandName,
  type DocumentStatus,
  type JobStatus,
  type JobStepName,
  type Lane,
  type Topology,
} from '@quarry/contracts';
import { deadlineExceeded, sameQueueTypes } from '../domain/job-liveness';
import type { PrismaClient } from '../generated/prisma/client';
import { inTransaction, type AfterCommit } from './after-commit';
import { lockActiveJob } from './document-steps';
import { finishJobIfDone } from './job-completion';
import { jobInclude, toJobView } from './jobs.repository';
import { appendJobEvent, insertOutbox, type Tx } from './sql';
import type { JobView, OutboxInsert, OutboxRow } from './types';

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

/** A document the sweeper failed because its step ran past the deadline. */
export interface OverdueDocument {
  jobId: string;
  tenantId: string;
  documentId: string;
  step: 'ingest' | 'index';
  startedAt: Date;
}

/** What says how a job stands (see MaintenanceRepository.liveness). */
export interface JobLivenessFacts {
  jobId: string;
  type: string;
  lane: Lane;
  status: JobStatus;
  acceptingDocuments: boolean;
  createdAt: Date;
  /** Its last sign of life: heartbeat, or creation when it never started. */
  since: Date;
  /** Its open documents by status: how many, and when the one that moved longest ago last moved. */
  documents: Partial<Record<DocumentStatus, { count: number; since: Date }>>;
}

/** What the database says of a command's document (or job), as the stranded-message scan weighs it. */
export interface CommandFacts {
  /** Deliveries of the document's current step (or the job's) that reached a claim. */
  attempts: number;
  jobStatus: JobStatus;
  /** Its job's last sign of life. */
  quietSince: Date;
}

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
   * How many of the tenant's queued jobs of the same lane and queue were created before this one (0: next in line);
   * null when the job is not queued. Only the tenant's own: another tenant's backlog is none of its business (ADR 33).
   */
  async queuePosition(job: Pick<JobView, 'id' | 'tenantId' | 'lane' | 'type'>): Promise<number | null> {
    const [row] = await this.prisma.$queryRaw<{ n: number }[]>`
      SELECT (SELECT count(*) FROM jobs q
              WHERE q.tenant_id = j.tenant_id AND q.status = 'queued' AND q.lane = j.lane
                AND q.type = ANY(${sameQueueTypes(job.type)}::text[])
                AND (q.created_at, q.id) < (j.created_at, j.id))::int AS n
      FROM jobs j
      WHERE j.id = ${job.id}::uuid AND j.tenant_id = ${job.tenantId}::uuid AND j.status = 'queued'`;
    return row ? row.n : null;
  }

  /**
   * The open documents, by status, of the tenant's active jobs in this job's lane and queue created up to and
   * including it, and how many of those jobs have no documents (analyses): the work between now and its end.
   */
  async workUpTo(
    job: Pick<JobView, 'id' | 'tenantId' | 'lane' | 'type' | 'createdAt'>,
  ): Promise<{ documents: Partial<Record<DocumentStatus, number>>; jobsWithoutDocuments: number }> {
    const types = sameQueueTypes(job.type);
    const [row] = await this.prisma.$queryRaw<
      { documents: Partial<Record<DocumentStatus, number>> | null; jobs: number }[]
    >`
      WITH ahead AS (
        SELECT q.id, q.type FROM jobs q
        WHERE q.tenant_id = ${job.tenantId}::uuid AND q.status IN ('queued', 'running') AND q.lane = ${job.lane}
          AND q.type = ANY(${types}::text[])
          AND (q.created_at, q.id) <= (${job.createdAt}::timestamptz, ${job.id}::uuid))
      SELECT (SELECT json_object_agg(status, n) FROM (
                SELECT d.status::text AS status, count(*)::int AS n
                FROM ahead JOIN documents d ON d.job_id = ahead.id
                WHERE d.status::text = ANY(${[...OPEN_DOCUMENT]}::text[])
                GROUP BY d.status) s) AS documents,
             (SELECT count(*) FROM ahead WHERE ahead.type <> 'ingest')::int AS jobs`;
    return { documents: row?.documents ?? {}, jobsWithoutDocuments: row?.jobs ?? 0 };
  }

  /**
   * Measured seconds per item of each step, from the tenant's recently finished jobs in this lane and queue: each
   * finished step's wall time divided by the items it did (documents; one for an analysis). The samples, newest
   * first, at most `perStep` per step, among the tenant's last 1,000 jobs; the caller takes their median.
   */
  async stepSamples(
    job: Pick<JobView, 'tenantId' | 'lane' | 'type'>,
    perStep = 50,
  ): Promise<Partial<Record<JobStepName, number[]>>> {
    const rows = await this.prisma.$queryRaw<{ name: JobStepName; seconds: number }[]>`
      WITH recent AS (
        SELECT id FROM jobs WHERE tenant_id = ${job.tenantId}::uuid ORDER BY created_at DESC, id DESC LIMIT 1000),
      finished AS (
        SELECT j.id, j.finished_at FROM jobs j JOIN recent USING (id)
        WHERE j.lane = ${job.lane} AND j.type = ANY(${sameQueueTypes(job.type)}::text[])
          AND j.status IN ('succeeded', 'completed_with_failures')),
      samples AS (
        SELECT s.name, extract(epoch FROM s.finished_at - s.started_at)::float8 / s.done AS seconds,
               row_number() OVER (PARTITION BY s.name ORDER BY f.finished_at DESC, f.id DESC) AS k
        FROM finished f JOIN job_steps s ON s.job_id = f.id
        WHERE s.done > 0 AND s.started_at IS NOT NULL AND s.finished_at >= s.started_at)
      SELECT name, seconds FROM samples WHERE k <= ${perStep} ORDER BY name, k`;
    const out: Partial<Record<JobStepName, number[]>> = {};
    for (const r of rows) (out[r.name] ??= []).push(r.seconds);
    return out;
  }

  /**
   * What says how the given jobs of a tenant stand: each one's last sign of life and its open documents by status,
   * with when the oldest of each status last moved (for a queued or extracted document: since when it waits); and
   * the database's clock, which those times are to be compared with.
   */
  async liveness(
    tenantId: string,
    jobIds: readonly string[],
  ): Promise<{ now: Date; jobs: Map<string, JobLivenessFacts> }> {
    const rows = await this.prisma.$queryRaw<
      {
        now: Date;
        // Null on the one row of a call that found none of its jobs (the row still carries the clock).
        id: string | null;
        type: string;
        lane: string;
        status: JobStatus;
        accepting: boolean;
        created_at: Date;
        since: Date;
        documents: Record<string, { n: number; since: string }> | null;
      }[]
    >`
      SELECT now() AS now, j.id, j.type, j.lane, j.status::text AS status, j.accepting_documents AS accepting,
             j.created_at,
             date_trunc('milliseconds', coalesce(j.heartbeat_at, j.created_at)) AS since,
             (SELECT json_object_agg(status, json_build_object('n', n, 'since', since)) FROM (
                SELECT d.status::text AS status, count(*)::int AS n, min(d.updated_at) AS since
                FROM documents d
                WHERE d.job_id = j.id AND d.status::text = ANY(${[...OPEN_DOCUMENT]}::text[])
                GROUP BY d.status) s) AS documents
      FROM (SELECT 1) one
      LEFT JOIN jobs j ON j.tenant_id = ${tenantId}::uuid AND j.id = ANY(${[...jobIds]}::uuid[])`;
    const jobs = new Map<string, JobLivenessFacts>();
    for (const r of rows) {
      if (r.id === null) continue;
      jobs.set(r.id, {
        jobId: r.id,
        type: r.type,
        lane: r.lane === 'bulk' ? 'bulk' : 'interactive',
        status: r.status,
        acceptingDocuments: r.accepting,
        createdAt: r.created_at,
        since: r.since,
        documents: Object.fromEntries(
          Object.entries(r.documents ?? {}).map(([status, d]) => [
            status,
            { count: d.n, since: new Date(d.since) },
          ]),
        ),
      });
    }
    return { now: rows[0]?.now ?? new Date(), jobs };
  }

  /**
   * Where workers were last seen at work, by command and lane: the latest heartbeat, within `withinMs`, of a running
   * job with a document extracting (ingestDocument) or indexing (indexDocument), or of a running analysis
   * (analyzeJob). Across tenants, and only ever used to tell whether a consumer has a worker (ADR 33): a worker on a
   * long document pulls and acknowledges nothing for a while, but reports progress. Keyed `<command>:<lane>`.
   */
  async workerActivity(withinMs: number): Promise<Map<string, Date>> {
    const rows = await this.prisma.$queryRaw<{ command: CommandName; lane: string; at: Date }[]>`
      WITH live AS (
        SELECT id, type, lane, heartbeat_at FROM jobs
        WHERE status = 'running' AND heartbeat_at > now() - make_interval(secs => ${ms(withinMs)}::float8))
      SELECT CASE d.status WHEN 'extracting' THEN 'ingestDocument' ELSE 'indexDocument' END AS command, live.lane,
             max(live.heartbeat_at) AS at
      FROM live JOIN documents d ON d.job_id = live.id
      WHERE live.type = 'ingest' AND d.status IN ('extracting', 'indexing')
      GROUP BY 1, 2
      UNION ALL
      SELECT 'analyzeJob', lane, max(heartbeat_at) FROM live WHERE type <> 'ingest' GROUP BY lane`;
    return new Map(rows.map((r) => [`${r.command}:${r.lane}`, r.at]));
  }

  /**
   * The tenant's active jobs without a sign of life (heartbeat, or creation when never started) for `quietForMs`,
   * newest first, keyset-paginated like the job list; each with its last sign of life.
   */
  async quietJobs(
    tenantId: string,
    quietForMs: number,
    options: {
      limit: number;
      cursor?: { createdAt: Date; id: string } | undefined;
      status?: 'queued' | 'running' | undefined;
    },
  ): Promise<{ items: { job: JobView; since: Date }[]; next: { createdAt: Date; id: string } | null }> {
    const c = options.cursor;
    const statuses = options.status ? [options.status] : ['queued', 'running'];
    const rows = await this.prisma.$queryRaw<{ id: string; since: Date }[]>`
      SELECT id, date_trunc('milliseconds', coalesce(heartbeat_at, created_at)) AS since FROM jobs
      WHERE tenant_id = ${tenantId}::uuid AND status::text = ANY(${statuses}::text[])
        AND coalesce(heartbeat_at, created_at) < now() - make_interval(secs => ${ms(quietForMs)}::float8)
        AND (${c === undefined}::boolean OR (created_at, id) < (${c?.createdAt ?? null}::timestamptz, ${c?.id ?? null}::uuid))
      ORDER BY created_at DESC, id DESC
      LIMIT ${options.limit + 1}`;
    const page = rows.slice(0, options.limit);
    const found = await this.prisma.job.findMany({
      where: { tenantId, id: { in: page.map((r) => r.id) } },
      include: jobInclude,
    });
    const byId = new Map(found.map((j) => [j.id, toJobView(j)]));
    const items = page.flatMap((r) => {
      const job = byId.get(r.id);
      return job ? [{ job, since: r.since }] : [];
    });
    const last = items[items.length - 1];
    return {
      items,
      next: rows.length > options.limit && last ? { createdAt: last.job.createdAt, id: last.job.id } : null,
    };
  }

  /**
   * Fails, with `deadline_exceeded`, up to `limit` documents of running ingest jobs whose current step (extracting,
   * indexing) began more than `deadlineMs` ago, whatever their worker's heartbeat says (ADR 33). Job by job, under
   * the job's lock and conditional on the document still being in that step past the deadline, so a worker that
   * finished it meanwhile wins; a job whose last open document this was ends, with its event. A hung worker cannot
   * undo it: completions move documents only from extracting or indexing, claims only from queued, extracting,
   * extracted or indexing. The jobs ended go to the after-commit port before this returns.
   */
  async failOverdueDocuments(deadlineMs: number, limit: number): Promise<OverdueDocument[]> {
    const found = await this.prisma.$queryRaw<{ id: string; job_id: string; tenant_id: string }[]>`
      SELECT d.id, d.job_id, d.tenant_id FROM jobs j JOIN documents d ON d.job_id = j.id
      WHERE j.status = 'running' AND j.type = 'ingest' AND d.status IN ('extracting', 'indexing')
        AND coalesce(d.step_started_at, d.updated_at) < now() - make_interval(secs => ${ms(deadlineMs)}::float8)
      ORDER BY coalesce(d.step_started_at, d.updated_at), d.id
      LIMIT ${limit}`;
    const byJob = new Map<string, { tenantId: string; ids: string[] }>();
    for (const d of found) {
      const job = byJob.get(d.job_id) ?? { tenantId: d.tenant_id, ids: [] };
      job.ids.push(d.id);
      byJob.set(d.job_id, job);
    }
    const failed: OverdueDocument[] = [];
    for (const [jobId, job] of byJob) {
      failed.push(
        ...(await inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
          if (!(await lockActiveJob(tx, jobId))) return [];
          const moved = await tx.$queryRaw<{ id: string; from_status: DocumentStatus; started_at: Date }[]>`
            UPDATE documents d
            SET status = 'failed', updated_at = now(),
                error = CASE old.status WHEN 'extracting' THEN ${JSON.stringify(deadlineExceeded('ingest', deadlineMs))}
                                        ELSE ${JSON.stringify(deadlineExceeded('index', deadlineMs))} END::jsonb
            FROM documents old
            WHERE d.id = ANY(${job.ids}::uuid[]) AND d.job_id = ${jobId}::uuid AND old.id = d.id
              AND d.status IN ('extracting', 'indexing')
              AND coalesce(d.step_started_at, d.updated_at) < now() - make_interval(secs => ${ms(deadlineMs)}::float8)
            RETURNING d.id, old.status::text AS from_status, coalesce(old.step_started_at, old.updated_at) AS started_at`;
          for (const d of moved) {
            await appendJobEvent(tx, {
              jobId,
              tenantId: job.tenantId,
              kind: 'document_failed',
              data: {
                documentId: d.id,
                from: d.from_status,
                error: deadlineExceeded(d.from_status === 'extracting' ? 'ingest' : 'index', deadlineMs),
              },
            });
          }
          if (moved.length > 0) notes.ended(await finishJobIfDone(tx, this.topology, jobId));
          return moved.map((d) => ({
            jobId,
            tenantId: job.tenantId,
            documentId: d.id,
            step: d.from_status === 'extracting' ? ('ingest' as const) : ('index' as const),
            startedAt: d.started_at,
          }));
        })),
      );
    }
    return failed;
  }

  /**
   * Running jobs of `type` without documents (analyses, re-embeds) whose analyze step began more than `deadlineMs`
   * ago, at most `limit`, the oldest first: the sweeper fails them through their own repository's ending.
   */
  async overdueWorkerJobs(
    type: string,
    deadlineMs: number,
    limit: number,
  ): Promise<{ jobId: string; tenantId: string; startedAt: Date }[]> {
    const rows = await this.prisma.$queryRaw<{ id: string; tenant_id: string; started_at: Date }[]>`
      SELECT j.id, j.tenant_id, s.started_at FROM jobs j
      JOIN job_steps s ON s.job_id = j.id AND s.name = 'analyze'
      WHERE j.status = 'running' AND j.type = ${type}
        AND s.started_at < now() - make_interval(secs => ${ms(deadlineMs)}::float8)
      ORDER BY s.started_at, j.id
      LIMIT ${limit}`;
    return rows.map((r) => ({ jobId: r.id, tenantId: r.tenant_id, startedAt: r.started_at }));
  }

  /**
   * Ends an active job whose documents are all in a final status (nothing a worker or a re-drive would move again),
   * under its lock, as its last document would have: final status, event, steps, the event's outbox row. True when
   * this call ended it.
   */
  async settleJob(jobId: string): Promise<boolean> {
    return inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
      if (!(await lockActiveJob(tx, jobId))) return false;
      return notes.ended(await finishJobIfDone(tx, this.topology, jobId)).length > 0;
    });
  }

  /**
   * For the stranded-message scan: what the database says of each command's document (or, for a command without
   * one, its job): the deliveries of its current step that reached a claim, its job's last sign of life.
   * Keyed by document id, or job id for a command without a document; commands of purged jobs are missing.
   */
  async commandFacts(
    commands: readonly { jobId: string; documentId: string | null }[],
  ): Promise<Map<string, CommandFacts>> {
    if (commands.length === 0) return new Map();
    const rows = await this.prisma.$queryRaw<
      { key: string; attempts: number; job_status: JobStatus; since: Date }[]
    >`
      SELECT coalesce(d.id, j.id)::text AS key, coalesce(d.attempts, j.attempts) AS attempts,
             j.status::text AS job_status, coalesce(j.heartbeat_at, j.created_at) AS since
      FROM unnest(${commands.map((c) => c.jobId)}::uuid[], ${commands.map((c) => c.documentId)}::uuid[])
             AS x(job_id, document_id)
      JOIN jobs j ON j.id = x.job_id
      LEFT JOIN documents d ON d.id = x.document_id AND d.job_id = x.job_id
      WHERE x.document_id IS NULL OR d.id IS NOT NULL`;
    return new Map(
      rows.map((r) => [r.key, { attempts: r.attempts, jobStatus: r.job_status, quietSince: r.since }]),
    );
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
