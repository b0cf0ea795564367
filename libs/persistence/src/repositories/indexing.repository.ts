import type { DocumentClassification, Topology } from '@quarry/contracts';
import type { PrismaClient } from '../generated/prisma/client';
import { inTransaction, tellCommitted, type AfterCommit } from './after-commit';
import { Batcher } from './batcher';
import {
  claimDocuments,
  lockActiveJob,
  stepDone,
  stepCountCte,
  toVectorLiteral,
  type ClaimAnswer,
  type ClaimRequest,
} from './document-steps';
import type { JobEnding } from '../domain/job-rules';
import {
  endingIfAllIndexed,
  endJobsIfDone,
  finishJobIfDone,
  jobEnds,
  tallyJobs,
  type JobEnd,
} from './job-completion';
import { appendJobEvent, insertedOutboxRows, outboxInsertCte, sql } from './sql';
import type { ChunkInput, Claim, DocumentWork, OutboxRow, PageInput, TextLanguage } from './types';
import { usageCte } from './usage';

interface IndexingCompletion {
  work: DocumentWork;
  chunks: ChunkInput[];
  model: { id: string; dim: number };
  text: TextLanguage;
  labels: DocumentClassification | null;
}

/** What `reuseIndexing` did; the same outcomes as `ExtractionReuse`, `outbox` holding the job's final event if any. */
export type IndexingReuse =
  | { outcome: 'none' }
  | { outcome: 'stale' }
  | { outcome: 'reused'; fromDocumentId: string; chunkCount: number; outbox: OutboxRow[] };

/**
 * The index step's transitions: claim a document (extracted|indexing → indexing), read its pages, store its
 * chunks and vectors (indexing → indexed) or copy an earlier document's, and finish the job when this was its last
 * document. Conditional like the ingest step's (see ExtractionRepository); the job's final event goes to the
 * after-commit port with the job before a method returns.
 */
export class IndexingRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly topology: Topology,
    private readonly afterCommit: AfterCommit,
  ) {}

  /** Claims made together (the handlers of one fetched batch of messages) are one statement. */
  private readonly claims = new Batcher<ClaimRequest, ClaimAnswer>((r) =>
    claimDocuments(this.prisma, r, ['extracted', 'indexing'], 'indexing'),
  );

  /**
   * extracted|indexing → indexing. A document already past the step, in an active job, is a redelivery: the
   * delivery before it may have committed its completion and died before the job's tally (see
   * completeIndexings), so the job is settled here, and the job ends as it would have.
   */
  async claimForIndexing(tenantId: string, documentId: string): Promise<Claim<DocumentWork>> {
    const { claim, jobId } = await this.claims.call({ tenantId, documentId });
    if (!claim.claimed && claim.reason === 'already_done' && jobId !== null) {
      await this.tellEnded(await this.settleJobs([jobId]));
    }
    return claim;
  }

  async loadPages(tenantId: string, documentId: string): Promise<PageInput[]> {
    return this.prisma.$queryRaw<PageInput[]>`
      SELECT page_number AS "pageNumber", text FROM pages
      WHERE document_id = ${documentId}::uuid AND tenant_id = ${tenantId}::uuid ORDER BY page_number`;
  }

  /**
   * Stores chunks with their vectors, marks the document indexed and finishes the job if it was the last.
   * Completions made together run as one transaction (see `completeIndexings`).
   */
  completeIndexing(
    work: DocumentWork,
    chunks: ChunkInput[],
    model: { id: string; dim: number },
    text: TextLanguage = { language: null, config: 'simple' },
    labels: DocumentClassification | null = null,
  ): Promise<OutboxRow[] | null> {
    return this.indexingCompletions.call({ work, chunks, model, text, labels });
  }

  private readonly indexingCompletions = new Batcher<IndexingCompletion, OutboxRow[] | null>((c) =>
    this.completeIndexings(c),
  );

  /**
   * One statement for a batch: it locks the active jobs in id order, moves each document indexing → indexed,
   * stores its chunks, counts it in the index step, and commits on its own. Each job arrives with the ending it
   * would have if every document its claim counted were indexed (`endingIfAllIndexed`); the statement applies it
   * when what it finds under the lock bears that out (the CTE `fin`), with the job's event and outbox
   * row. The other jobs are settled after the commit (see settleJobs). A job that finishes returns its final
   * event with the first of its documents in the batch; every job the batch ended goes to the port together.
   */
  private async completeIndexings(batch: readonly IndexingCompletion[]): Promise<(OutboxRow[] | null)[]> {
    const chunks = batch.flatMap((c) => c.chunks.map((chunk) => ({ completion: c, chunk })));
    const prepared = new Map<string, JobEnding>();
    for (const { work } of batch) {
      if (!work.job || prepared.has(work.jobId)) continue;
      const ending = endingIfAllIndexed(this.topology, work, work.job);
      if (ending) prepared.set(work.jobId, ending);
    }
    const endings = [...prepared.values()];
    const totals = endings.map((e) => e.progress.total);
    const [row] = await this.prisma.$queryRaw<
      {
        moved: string[];
        ended: { id: string; created_at: string; finished_at: string }[];
        outbox: { id: string; msg_id: string }[];
      }[]
    >`
      WITH x AS (
        SELECT * FROM unnest(${batch.map((c) => c.work.documentId)}::uuid[], ${batch.map((c) => c.work.jobId)}::uuid[],
                             ${batch.map((c) => c.chunks.length)}::int[], ${batch.map((c) => c.text.language)}::text[],
                             ${batch.map((c) => (c.labels ? JSON.stringify(c.labels) : null))}::text[],
                             ${batch.map((c) => c.chunks.reduce((n, chunk) => n + chunk.tokenCount, 0))}::bigint[],
                             ${batch.map((c) => c.labels?.usage?.totalTokens ?? 0)}::bigint[])
          AS x(document_id, job_id, chunk_count, language, labels, tokens, llm_tokens)),
      -- Locked by id alone and filtered on the locked row's status after: with the status in the WHERE the planner
      -- may pick the status index and walk every active job (a backlog) to find the batch's few.
      j AS (
        SELECT id, status::text AS status, accepting_documents, crawl_ref, tenant_id, type, trace_id, traceparent
        FROM jobs
        WHERE id IN (SELECT job_id FROM x)
        ORDER BY id FOR UPDATE),
      doc AS (
        UPDATE documents d SET status = 'indexed', chunk_count = x.chunk_count, language = x.language,
               labels = x.labels::jsonb, updated_at = now()
        FROM x JOIN j ON j.id = x.job_id AND j.status IN ('queued', 'running')
        WHERE d.id = x.document_id AND d.job_id = x.job_id AND d.status = 'indexing'
        RETURNING d.id, d.tenant_id, d.job_id),
      chunk AS (
        INSERT INTO chunks (tenant_id, document_id, page_number, ordinal, text, token_count, char_start, char_end,
                            embedding, embedding_model, embedding_dim, text_config)
        SELECT doc.tenant_id, doc.id, c.p, c.o, c.t, c.tc, c.cs, c.ce, c.e::vector, c.model, c.dim, c.cfg::regconfig
        FROM unnest(${chunks.map((c) => c.completion.work.documentId)}::uuid[],
                    ${chunks.map((c) => c.chunk.pageNumber)}::int[], ${chunks.map((c) => c.chunk.ordinal)}::int[],
                    ${chunks.map((c) => c.chunk.text)}::text[], ${chunks.map((c) => c.chunk.tokenCount)}::int[],
                    ${chunks.map((c) => c.chunk.charStart)}::int[], ${chunks.map((c) => c.chunk.charEnd)}::int[],
                    ${chunks.map((c) => toVectorLiteral(c.chunk.embedding))}::text[],
                    ${chunks.map((c) => c.completion.model.id)}::text[], ${chunks.map((c) => c.completion.model.dim)}::int[],
                    ${chunks.map((c) => c.completion.text.config)}::text[])
             AS c(document_id, p, o, t, tc, cs, ce, e, model, dim, cfg)
        JOIN doc ON doc.id = c.document_id
        ON CONFLICT (document_id, ordinal) DO UPDATE SET page_number = excluded.page_number, text = excluded.text,
          token_count = excluded.token_count, char_start = excluded.char_start, char_end = excluded.char_end,
          embedding = excluded.embedding, embedding_model = excluded.embedding_model,
          embedding_dim = excluded.embedding_dim, text_config = excluded.text_config),
      -- What the model embedded (tokens as chunked, the same for every provider), and what labelling the document
      -- cost a language model, with the document that made it (ADR 32).
      ${usageCte(sql`
        SELECT doc.tenant_id, doc.job_id, doc.id AS subject_id, m.metric, m.quantity
        FROM doc JOIN x ON x.document_id = doc.id
        CROSS JOIN LATERAL (VALUES ('chunks_embedded', x.chunk_count::bigint), ('embedding_tokens', x.tokens),
                                   ('llm_tokens', x.llm_tokens)) AS m(metric, quantity)`)},
      ${stepCountCte('index')},
      -- Materialized, as is fin: inlined, the planner (which guesses one row for every CTE) re-ran both for each
      -- row of the progress UPDATE's join, a batch's size squared of document counts.
      counted AS MATERIALIZED (
        SELECT j.id, j.status, j.accepting_documents AS accepting, j.crawl_ref IS NOT NULL AS crawl, step.done,
               step.total,
               (SELECT count(*) FROM documents o WHERE o.job_id = j.id AND o.status <> 'indexed'
                  AND o.id NOT IN (SELECT id FROM doc))::int AS others_open
        FROM step JOIN j ON j.id = step.job_id),
      prepared AS (
        SELECT * FROM unnest(${endings.map((e) => e.jobId)}::uuid[], ${totals}::int[],
                             ${endings.map((e) => e.status)}::text[],
                             ${endings.map((e) => (e.error ? JSON.stringify(e.error) : null))}::text[],
                             ${endings.map((e) => JSON.stringify(e.progress))}::text[])
          AS p(job_id, total, final, error, progress)),
      -- The prepared ending applies when every document of the job is indexed. The step's count, updated under the
      -- job lock, is exact, but leaves out documents stored failed when they joined (refused uploads and
      -- attachments); those the snapshot shows, and with every other document already indexed in it no extraction
      -- is left to add one, while a job that is no crawl's takes no deliveries. A document another transition
      -- committed while this one waited for the lock reads as open here, and its job is settled after the commit.
      -- The job must also still have the documents its claim counted, be running, and have no other step open.
      fin AS MATERIALIZED (
        SELECT p.* FROM prepared p JOIN counted c ON c.id = p.job_id
        WHERE NOT c.crawl AND NOT c.accepting AND c.others_open = 0 AND c.done >= c.total AND c.total = p.total
          AND c.status = 'running'
          AND NOT EXISTS (SELECT 1 FROM job_steps os WHERE os.job_id = p.job_id AND os.name <> 'index'
                            AND os.status IN ('queued', 'running'))),
      progress AS (
        UPDATE jobs SET progress = coalesce(fin.progress::jsonb,
                                            jsonb_build_object('step', 'index'::text, 'done', step.done, 'total', step.total)),
               status = coalesce(fin.final::job_status, jobs.status),
               error = CASE WHEN fin.job_id IS NULL THEN jobs.error ELSE fin.error::jsonb END,
               finished_at = CASE WHEN fin.job_id IS NULL THEN jobs.finished_at ELSE now() END,
               heartbeat_at = now(), updated_at = now()
        FROM step LEFT JOIN fin ON fin.job_id = step.job_id
        WHERE jobs.id = step.job_id
        RETURNING jobs.id, jobs.tenant_id, jobs.created_at, jobs.finished_at, fin.final),
      ended AS (SELECT id, tenant_id, created_at, finished_at, final FROM progress WHERE final IS NOT NULL),
      event AS (
        INSERT INTO job_events (job_id, tenant_id, kind, from_status, to_status, data)
        SELECT id, tenant_id, 'status', 'running', final, '{}'::jsonb FROM ended),
      ${outboxInsertCte(
        endings.map((e) => e.outbox),
        sql`ended`,
        endings.map((e) => e.jobId),
      )}
      SELECT coalesce((SELECT array_agg(id::text) FROM doc), '{}') AS moved,
             coalesce((SELECT json_agg(json_build_object('id', id, 'created_at', created_at, 'finished_at', finished_at))
                       FROM ended), '[]'::json) AS ended,
             ${insertedOutboxRows} AS outbox`;
    const finished = jobEnds(endings, row?.ended ?? [], row?.outbox ?? []);
    const moved = new Set(row?.moved ?? []);
    const jobs = [...new Set(batch.filter((c) => moved.has(c.work.documentId)).map((c) => c.work.jobId))];
    const unsettled = jobs.filter((jobId) => !finished.has(jobId));
    for (const [jobId, end] of await this.settleJobs(unsettled)) finished.set(jobId, end);
    const reported = new Set<string>();
    const answers = batch.map((c) => {
      if (!moved.has(c.work.documentId)) return null;
      if (reported.has(c.work.jobId)) return [];
      reported.add(c.work.jobId);
      return finished.get(c.work.jobId)?.outbox ?? [];
    });
    await this.tellEnded(finished);
    return answers;
  }

  /** Hands the jobs a settle ended, committed, to the port. */
  private tellEnded(ends: Map<string, JobEnd>): Promise<void> {
    const all = [...ends.values()];
    return tellCommitted(
      this.afterCommit,
      all.flatMap((e) => e.outbox),
      all.map((e) => e.finishedJob),
    );
  }

  /**
   * Ends the jobs whose documents' transitions committed and whose tally, read now, shows every document terminal.
   * Runs without the job locks: a transition that commits after this tally's snapshot runs its own tally after its
   * commit, so the last of them sees every document; two that both see the job done end it once (endJobsIfDone is
   * conditional).
   */
  private async settleJobs(jobIds: string[]): Promise<Map<string, JobEnd>> {
    return endJobsIfDone(this.prisma, this.topology, await tallyJobs(this.prisma, jobIds));
  }

  /**
   * The index step's counterpart of `reuseExtraction`: an earlier `indexed` document of the same tenant
   * with the same bytes, the same page texts and every chunk embedded by `model` gives its chunks and
   * vectors to this one instead of the model embedding them again. Completes like `completeIndexing`
   * (conditional on `indexing`, job row locked, index step done, the job finished if this was its last
   * document), with a `chunks_reused` job event. Nothing is embedded, so no chunks or tokens are metered (ADR 32).
   */
  async reuseIndexing(work: DocumentWork, model: { id: string; dim: number }): Promise<IndexingReuse> {
    if (work.sha256 === null) return { outcome: 'none' };
    const probe = await this.prisma.$queryRaw<{ id: string }[]>`
      SELECT id FROM documents
      WHERE tenant_id = ${work.tenantId}::uuid AND sha256 = ${work.sha256} AND id <> ${work.documentId}::uuid
        AND status = 'indexed' AND chunk_count > 0
      LIMIT 1`;
    if (probe.length === 0) return { outcome: 'none' };
    return inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
      if (!(await lockActiveJob(tx, work.jobId))) return { outcome: 'stale' } as const;
      // Same pages (this document may have been parsed again rather than copied), and chunks of this model
      // only: the vectors are then exactly what embedding the same chunk texts would give.
      const [source] = await tx.$queryRaw<{ id: string; chunk_count: number }[]>`
        WITH mine AS (
          SELECT coalesce(string_agg(page_number || ':' || md5(text), ',' ORDER BY page_number), '') AS pages
          FROM pages WHERE document_id = ${work.documentId}::uuid)
        SELECT d.id, d.chunk_count FROM documents d
        WHERE d.tenant_id = ${work.tenantId}::uuid AND d.sha256 = ${work.sha256} AND d.id <> ${work.documentId}::uuid
          AND d.status = 'indexed' AND d.chunk_count > 0
          AND d.chunk_count = (SELECT count(*) FROM chunks c WHERE c.document_id = d.id
                                AND c.embedding_model = ${model.id} AND c.embedding_dim = ${model.dim})
          AND (SELECT coalesce(string_agg(p.page_number || ':' || md5(p.text), ',' ORDER BY p.page_number), '')
               FROM pages p WHERE p.document_id = d.id) = (SELECT pages FROM mine)
        ORDER BY d.created_at, d.id
        LIMIT 1
        FOR SHARE OF d`;
      if (!source) return { outcome: 'none' } as const;
      const moved = await tx.$executeRaw`
        UPDATE documents SET status = 'indexed', chunk_count = ${source.chunk_count}, updated_at = now(),
               language = (SELECT language FROM documents WHERE id = ${source.id}::uuid)
        WHERE id = ${work.documentId}::uuid AND status = 'indexing'`;
      if (moved === 0) return { outcome: 'stale' } as const;
      await tx.$executeRaw`DELETE FROM chunks WHERE document_id = ${work.documentId}::uuid`;
      await tx.$executeRaw`
        INSERT INTO chunks (tenant_id, document_id, page_number, ordinal, text, token_count, char_start, char_end,
                            embedding, embedding_model, embedding_dim, text_config)
        SELECT tenant_id, ${work.documentId}::uuid, page_number, ordinal, text, token_count, char_start, char_end,
               embedding, embedding_model, embedding_dim, text_config
        FROM chunks WHERE document_id = ${source.id}::uuid AND tenant_id = ${work.tenantId}::uuid`;
      await stepDone(tx, work, 'index');
      await appendJobEvent(tx, {
        jobId: work.jobId,
        tenantId: work.tenantId,
        kind: 'chunks_reused',
        data: { documentId: work.documentId, fromDocumentId: source.id, model: model.id },
      });
      const outbox = notes.ended(await finishJobIfDone(tx, this.topology, work.jobId));
      return {
        outcome: 'reused',
        fromDocumentId: source.id,
        chunkCount: source.chunk_count,
        outbox,
      } as const;
    });
  }
}
