import {
  commandEnvelope,
  MessageIds,
  WorkerJobInput,
  type ErrorInfo,
  type JobEvent,
  type Lane,
  type SearchFilter,
  type Topology,
  type WorkerJobResult,
} from '@quarry/contracts';
import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { inTransaction, type AfterCommit } from './after-commit';
import { documentConditions } from './chunks.repository';
import { toVectorLiteral } from './document-steps';
import { existingJobForKey, jobInclude, toJobView } from './jobs.repository';
import { appendJobEvent, insertOutbox } from './sql';
import type { JobView } from './types';
import { itemLlmTokens, usageCte } from './usage';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const sql = Prisma.sql;

/** The job types the analysis worker runs through this repository. */
const WORKER_JOB_TYPES: readonly string[] = ['analyze', 'reindex'];

const jobTypeOf = (input: WorkerJobInput): 'analyze' | 'reindex' =>
  input.type === 'reindex' ? 'reindex' : 'analyze';

export interface NewAnalysisJob {
  id: string;
  tenantId: string;
  /** An analysis, or a re-embed (`reindex`): the job's type follows. */
  input: WorkerJobInput;
  idempotencyKey: string | null;
  traceparent: string;
  traceId: string | null;
  lane?: Lane;
}

/** What the analysis worker claimed: the job's request, or why there is nothing to do. */
export type AnalysisClaim =
  | { claimed: true; jobId: string; tenantId: string; input: WorkerJobInput; traceId: string | null }
  | { claimed: false; reason: 'not_found' | 'job_inactive' | 'invalid_input' };

/** A document an analysis reads. */
export interface AnalysisDocument {
  id: string;
  filename: string;
}

/** A chunk of a document, in document order, with its vector when asked for. */
export interface AnalysisChunk {
  chunkId: string;
  documentId: string;
  filename: string;
  page: number;
  text: string;
}

/**
 * Analysis jobs (ADR 28): the job row keeps the request and the result; the analyze command goes through the outbox
 * like every other; finished items of a long analysis are kept so a redelivery resumes. Every read is scoped to the
 * tenant, and to the documents of the model the worker embeds with.
 */
export class AnalysesRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly topology: Topology,
    private readonly afterCommit: AfterCommit,
  ) {}

  /** The job, its analyze step, its queued event and its command, in one transaction; an Idempotency-Key replays. */
  async createAnalysisJob(input: NewAnalysisJob): Promise<{ job: JobView; created: boolean }> {
    try {
      const job = await inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
        const created = await tx.job.create({
          data: {
            id: input.id,
            tenantId: input.tenantId,
            type: jobTypeOf(input.input),
            lane: input.lane ?? 'interactive',
            status: 'queued',
            progress: { step: 'analyze', done: 0, total: 1 },
            traceparent: input.traceparent,
            traceId: input.traceId,
            idempotencyKey: input.idempotencyKey,
            input: input.input as Prisma.InputJsonValue,
            steps: { create: [{ tenantId: input.tenantId, name: 'analyze', total: 1 }] },
          },
          include: jobInclude,
        });
        await appendJobEvent(tx, {
          jobId: input.id,
          tenantId: input.tenantId,
          kind: 'status',
          toStatus: 'queued',
          data: { analysis: input.input.type },
        });
        notes.rows(
          await insertOutbox(tx, [
            commandEnvelope(this.topology, 'analyzeJob', {
              v: 1,
              jobId: input.id,
              tenantId: input.tenantId,
              traceparent: input.traceparent,
              ...(input.lane && input.lane !== 'interactive' ? { lane: input.lane } : {}),
            }),
          ]),
        );
        return toJobView(created);
      });
      return { job, created: true };
    } catch (error) {
      const existing = await existingJobForKey(this.prisma, error, input.tenantId, input.idempotencyKey);
      if (existing) return { job: existing, created: false };
      throw error;
    }
  }

  /**
   * queued → running (or running again after a redelivery), with the step and the event; the job's stored request.
   * A job that is no longer active (cancelled, or ended by an earlier delivery) is not claimed.
   */
  async claimAnalysis(tenantId: string, jobId: string): Promise<AnalysisClaim> {
    return this.prisma.$transaction(async (tx) => {
      const [job] = await tx.$queryRaw<
        { status: string; input: unknown; trace_id: string | null; type: string }[]
      >`
        SELECT status::text AS status, input, trace_id, type FROM jobs
        WHERE id = ${jobId}::uuid AND tenant_id = ${tenantId}::uuid FOR UPDATE`;
      if (!job || !WORKER_JOB_TYPES.includes(job.type))
        return { claimed: false, reason: 'not_found' } as const;
      if (job.status !== 'queued' && job.status !== 'running')
        return { claimed: false, reason: 'job_inactive' } as const;
      const parsed = WorkerJobInput.safeParse(job.input);
      if (parsed.success && jobTypeOf(parsed.data) !== job.type)
        return { claimed: false, reason: 'invalid_input' } as const;
      if (!parsed.success) return { claimed: false, reason: 'invalid_input' } as const;
      await tx.$executeRaw`
        UPDATE jobs SET status = 'running', started_at = coalesce(started_at, now()), heartbeat_at = now(),
               updated_at = now(), attempts = attempts + 1
        WHERE id = ${jobId}::uuid`;
      await tx.$executeRaw`
        UPDATE job_steps SET status = 'running', started_at = coalesce(started_at, now()), attempts = attempts + 1
        WHERE job_id = ${jobId}::uuid AND name = 'analyze'`;
      if (job.status === 'queued')
        await appendJobEvent(tx, {
          jobId,
          tenantId,
          kind: 'status',
          fromStatus: 'queued',
          toStatus: 'running',
        });
      return { claimed: true, jobId, tenantId, input: parsed.data, traceId: job.trace_id } as const;
    });
  }

  /** The indexed documents a selection names or allows, oldest first, at most `limit`. */
  async documents(
    tenantId: string,
    selection: { documentIds?: string[]; filter?: SearchFilter },
    limit: number,
  ): Promise<AnalysisDocument[]> {
    const conditions = documentConditions({
      ...(selection.filter ?? {}),
      ...(selection.documentIds ? { documentIds: selection.documentIds } : {}),
    });
    return this.prisma.$queryRaw<AnalysisDocument[]>`
      SELECT d.id, d.filename FROM documents d
      WHERE d.tenant_id = ${tenantId}::uuid AND d.status = 'indexed' ${conditions ? sql`AND ${conditions}` : sql``}
      ORDER BY d.created_at, d.id
      LIMIT ${limit}`;
  }

  /**
   * Each document's mean chunk vector under one model (pgvector's avg), normalised by the caller: what a document is
   * about as a whole, computed from the vectors indexing stored, so nothing is embedded again.
   */
  async documentVectors(
    tenantId: string,
    model: { id: string; dim: number },
    documentIds: readonly string[],
  ): Promise<Map<string, number[]>> {
    if (!Number.isInteger(model.dim) || model.dim <= 0 || model.dim > 16000)
      throw new Error(`bad dimension ${model.dim}`);
    const vt = Prisma.raw(`vector(${model.dim})`);
    const rows = await this.prisma.$queryRaw<{ document_id: string; mean: string }[]>`
      SELECT document_id, avg(embedding::${vt})::text AS mean FROM chunks
      WHERE tenant_id = ${tenantId}::uuid AND document_id = ANY(${[...documentIds]}::uuid[])
        AND embedding_model = ${model.id} AND embedding_dim = ${model.dim}
      GROUP BY document_id`;
    return new Map(rows.map((r) => [r.document_id, JSON.parse(r.mean) as number[]]));
  }

  /** A document's chunks in order (its text as indexing cut it, page by page), at most `limit`. */
  async chunks(
    tenantId: string,
    model: { id: string; dim: number },
    documentId: string,
    limit: number,
  ): Promise<AnalysisChunk[]> {
    return this.prisma.$queryRaw<AnalysisChunk[]>`
      SELECT c.id AS "chunkId", c.document_id AS "documentId", d.filename, c.page_number AS page, c.text
      FROM chunks c JOIN documents d ON d.id = c.document_id
      WHERE c.tenant_id = ${tenantId}::uuid AND c.document_id = ${documentId}::uuid
        AND c.embedding_model = ${model.id} AND c.embedding_dim = ${model.dim}
      ORDER BY c.ordinal
      LIMIT ${limit}`;
  }

  /** The finished items of a job (a report's scored documents), by item key. */
  async items(jobId: string): Promise<Map<string, unknown>> {
    const rows = await this.prisma.analysisItem.findMany({ where: { jobId } });
    return new Map(rows.map((r) => [r.item, r.output]));
  }

  /**
   * Keeps one finished item and the job's progress together, while the job runs: a redelivered job skips it. A
   * second write of the same item (two deliveries racing) keeps the first. The language-model tokens the item cost
   * are metered with it, for its document (an item's key is the document it is about), so a job cancelled or failed
   * later still counts them, once (ADR 32).
   */
  async saveItem(
    jobId: string,
    item: string,
    output: unknown,
    progress: { step: string; done: number; total: number; details?: string },
  ): Promise<void> {
    const tokens = itemLlmTokens(output);
    const subject = tokens > 0 && UUID.test(item) ? item : null;
    await this.prisma.$executeRaw`
      WITH job AS (
        UPDATE jobs SET progress = ${JSON.stringify(progress)}::jsonb, heartbeat_at = now(), updated_at = now()
        WHERE id = ${jobId}::uuid AND status = 'running'
        RETURNING id, tenant_id),
      kept AS (
        INSERT INTO analysis_items (job_id, item, output)
        SELECT id, ${item}, ${JSON.stringify(output)}::jsonb FROM job
        ON CONFLICT (job_id, item) DO NOTHING
        RETURNING job_id),
      ${usageCte(sql`
        SELECT job.tenant_id, job.id AS job_id, ${subject}::uuid AS subject_id, 'llm_tokens' AS metric,
               ${tokens}::bigint AS quantity
        FROM job JOIN kept ON kept.job_id = job.id
        WHERE ${subject}::uuid IS NOT NULL`)}
      SELECT 1`;
  }

  /** running → succeeded with the result, or → failed with the error; the step, the event and its outbox row. */
  async finishAnalysis(
    tenantId: string,
    jobId: string,
    outcome: { result: WorkerJobResult } | { error: ErrorInfo },
  ): Promise<boolean> {
    return inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
      const [job] = await tx.$queryRaw<
        {
          status: string;
          created_at: Date;
          trace_id: string | null;
          traceparent: string | null;
          type: string;
        }[]
      >`
        SELECT status::text AS status, created_at, trace_id, traceparent, type FROM jobs
        WHERE id = ${jobId}::uuid AND tenant_id = ${tenantId}::uuid FOR UPDATE`;
      if (!job || (job.status !== 'queued' && job.status !== 'running')) return false;
      const type = job.type === 'reindex' ? 'reindex' : 'analyze';
      const final = 'result' in outcome ? 'succeeded' : 'failed';
      const error = 'error' in outcome ? outcome.error : null;
      const [done] = await tx.$queryRaw<{ finished_at: Date }[]>`
        UPDATE jobs SET status = ${final}::job_status, finished_at = now(), updated_at = now(), heartbeat_at = now(),
               result = ${'result' in outcome ? JSON.stringify(outcome.result) : null}::jsonb,
               error = ${error ? JSON.stringify(error) : null}::jsonb,
               progress = jsonb_build_object('step', 'analyze', 'done', ${final === 'succeeded' ? 1 : 0}::int,
                                             'total', 1)
        WHERE id = ${jobId}::uuid
        RETURNING finished_at`;
      await tx.$executeRaw`
        UPDATE job_steps SET status = ${final}, finished_at = now(), done = ${final === 'succeeded' ? 1 : 0},
               error = ${error ? JSON.stringify(error) : null}::jsonb
        WHERE job_id = ${jobId}::uuid AND name = 'analyze'`;
      await appendJobEvent(tx, { jobId, tenantId, kind: 'status', fromStatus: job.status, toStatus: final });
      await this.meterLlmTokens(tx, tenantId, jobId, outcome);
      const kind = final === 'failed' ? 'failed' : 'completed';
      const event: JobEvent = {
        v: 1,
        jobId,
        tenantId,
        type,
        status: final,
        occurredAt: new Date().toISOString(),
        ...(error ? { error: { code: error.code, message: error.message } } : {}),
        ...(job.trace_id ? { traceId: job.trace_id } : {}),
      };
      const rows = await insertOutbox(tx, [
        {
          tenantId,
          jobId,
          subject: this.topology.eventSubject(kind),
          msgId: MessageIds.jobEvent(jobId, kind),
          payload: event,
          headers: job.traceparent ? { traceparent: job.traceparent } : {},
        },
      ]);
      notes.ended({
        outbox: rows,
        finishedJob: {
          jobId,
          type,
          status: final,
          createdAt: job.created_at,
          finishedAt: done?.finished_at ?? new Date(),
        },
      });
      return true;
    });
  }

  /**
   * The language-model tokens of a succeeded analysis that its kept items did not meter already (its one call of a
   * summary or an answer, a report's writing), for the job itself: with the items', the job's `result.usage`.
   */
  private async meterLlmTokens(
    tx: Prisma.TransactionClient,
    tenantId: string,
    jobId: string,
    outcome: { result: WorkerJobResult } | { error: ErrorInfo },
  ): Promise<void> {
    const total =
      'result' in outcome && 'usage' in outcome.result ? (outcome.result.usage?.totalTokens ?? 0) : 0;
    if (total <= 0) return;
    await tx.$executeRaw`
      WITH ${usageCte(sql`
        SELECT ${tenantId}::uuid AS tenant_id, ${jobId}::uuid AS job_id, ${jobId}::uuid AS subject_id,
               'llm_tokens' AS metric,
               ${total}::bigint - coalesce((SELECT sum(quantity) FROM usage_records
                                            WHERE tenant_id = ${tenantId}::uuid AND job_id = ${jobId}::uuid
                                              AND metric = 'llm_tokens'), 0)::bigint AS quantity`)}
      SELECT 1`;
  }

  /**
   * Re-embed (`reindex`): the tenant's indexed documents that have chunks under another model than `model`, oldest
   * first, with how many. The list shrinks as documents are moved, so a redelivered job goes on from where it was.
   */
  async documentsNotUnder(
    tenantId: string,
    model: string,
    limit: number,
  ): Promise<{ id: string; filename: string; chunks: number; models: string[] }[]> {
    return this.prisma.$queryRaw`
      SELECT d.id, d.filename, count(*)::int AS chunks, array_agg(DISTINCT c.embedding_model) AS models
      FROM chunks c JOIN documents d ON d.id = c.document_id
      WHERE c.tenant_id = ${tenantId}::uuid AND c.embedding_model <> ${model} AND d.status = 'indexed'
      GROUP BY d.id, d.filename, d.created_at
      ORDER BY d.created_at, d.id
      LIMIT ${limit}`;
  }

  /** How many of the tenant's indexed documents have chunks under another model than `model`. */
  async countDocumentsNotUnder(tenantId: string, model: string): Promise<number> {
    const [row] = await this.prisma.$queryRaw<{ n: number }[]>`
      SELECT count(DISTINCT c.document_id)::int AS n
      FROM chunks c JOIN documents d ON d.id = c.document_id
      WHERE c.tenant_id = ${tenantId}::uuid AND c.embedding_model <> ${model} AND d.status = 'indexed'`;
    return row?.n ?? 0;
  }

  /** A document's chunks under another model than `model`, in order: what a re-embed embeds again. */
  async chunksNotUnder(
    tenantId: string,
    documentId: string,
    model: string,
  ): Promise<{ id: string; text: string; model: string }[]> {
    return this.prisma.$queryRaw`
      SELECT id, text, embedding_model AS model FROM chunks
      WHERE tenant_id = ${tenantId}::uuid AND document_id = ${documentId}::uuid AND embedding_model <> ${model}
      ORDER BY ordinal`;
  }

  /**
   * Moves chunks to another model in one statement: their vectors, model and dimension, nothing else (text, pages
   * and offsets stay; nothing is parsed again). The keyword index's postings and counters follow by trigger. A chunk
   * already under the model (an earlier delivery moved it) is left alone. Returns how many moved.
   */
  async moveChunks(
    tenantId: string,
    jobId: string,
    model: { id: string; dim: number },
    vectors: readonly { id: string; embedding: Float32Array }[],
    item: { key: string; output: Record<string, unknown> },
    progress: { step: string; done: number; total: number; details?: string },
  ): Promise<number> {
    return this.prisma.$transaction(async (tx) => {
      // What the model embedded again is metered with the move, per document (ADR 32).
      const [row] = await tx.$queryRaw<{ moved: number }[]>`
        WITH moved AS (
          UPDATE chunks c SET embedding = v.e::vector, embedding_model = ${model.id}, embedding_dim = ${model.dim}
          FROM unnest(${vectors.map((v) => v.id)}::uuid[], ${vectors.map((v) => toVectorLiteral(v.embedding))}::text[])
               AS v(id, e)
          WHERE c.id = v.id AND c.tenant_id = ${tenantId}::uuid AND c.embedding_model <> ${model.id}
          RETURNING c.tenant_id, c.document_id, c.token_count),
        ${usageCte(sql`
          SELECT m.tenant_id, ${jobId}::uuid AS job_id, m.document_id AS subject_id, u.metric, u.quantity
          FROM (SELECT tenant_id, document_id, count(*)::bigint AS n, sum(token_count)::bigint AS tokens
                FROM moved GROUP BY tenant_id, document_id) AS m
          CROSS JOIN LATERAL (VALUES ('chunks_embedded', m.n), ('embedding_tokens', m.tokens)) AS u(metric, quantity)`)}
        SELECT count(*)::int AS moved FROM moved`;
      const moved = row?.moved ?? 0;
      // What moved is kept as the job's item for the document, in the same transaction: the job's totals add up
      // across deliveries however it was interrupted.
      await tx.$executeRaw`
        WITH job AS (
          UPDATE jobs SET progress = ${JSON.stringify(progress)}::jsonb, heartbeat_at = now(), updated_at = now()
          WHERE id = ${jobId}::uuid AND status = 'running'
          RETURNING id)
        INSERT INTO analysis_items (job_id, item, output)
        SELECT id, ${item.key}, ${JSON.stringify({ ...item.output, chunks: moved })}::jsonb FROM job
        ON CONFLICT (job_id, item) DO NOTHING`;
      return moved;
    });
  }

  /** Whether the job may still run (a cancel between two documents stops it). */
  async isActive(jobId: string): Promise<boolean> {
    const [row] = await this.prisma.$queryRaw<{ active: boolean }[]>`
      SELECT status IN ('queued', 'running') AS active FROM jobs WHERE id = ${jobId}::uuid`;
    return row?.active ?? false;
  }
}
