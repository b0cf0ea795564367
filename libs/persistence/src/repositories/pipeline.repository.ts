import {
  MessageIds,
  type DetectedType,
  type ErrorInfo,
  type JobEvent,
  type JobStatus,
  type Topology,
} from '@quarry/contracts';
import type { Prisma, PrismaClient } from '../generated/prisma/client';
import { DocumentSource } from '@quarry/contracts';
import { inTransaction, tellCommitted, type AfterCommit } from './after-commit';
import { Batcher } from './batcher';
import { finishJobIfDone, finishJobsIfDone } from './job-completion';
import {
  appendJobEvent,
  commandDocumentId,
  growSteps,
  insertOutbox,
  insertedOutboxRows,
  outboxInsertCte,
  outboxRowsOf,
  sql,
  type Tx,
} from './sql';
import type {
  Claim,
  ChunkInput,
  DocumentWork,
  ExtractionResult,
  FetchRecord,
  OutboxInsert,
  OutboxRow,
  PageInput,
} from './types';

interface ExtractionCompletion {
  work: DocumentWork;
  result: ExtractionResult;
  next: OutboxInsert;
}

interface IndexingCompletion {
  work: DocumentWork;
  chunks: ChunkInput[];
  model: { id: string; dim: number };
}

interface ClaimRequest {
  tenantId: string;
  documentId: string;
}

/** What a claim reads back: the job's status, and the document's columns when this claim moved it. */
interface ClaimRow {
  job_status: string | null;
  traceparent: string | null;
  id: string | null;
  tenant_id: string;
  job_id: string;
  filename: string;
  blob_key: string;
  sha256: string | null;
  source: string;
  source_url: string | null;
  claimed_content_type: string | null;
  depth: number;
}

/** What `cancelJob` did; `outbox` holds the cancelled event (handed to the after-commit port). */
export type CancelJobResult =
  | { outcome: 'not_found' }
  | { outcome: 'terminal'; status: JobStatus }
  | { outcome: 'cancelled'; fromStatus: JobStatus; cancelledDocuments: number; outbox: OutboxRow[] };

/**
 * What `reuseExtraction` did: `none` when no earlier extraction of the same bytes exists (parse them),
 * `stale` when the job is no longer active or the document no longer extracting (nothing to do),
 * `reused` with the outbox rows it wrote (the index command, handed to the after-commit port).
 */
export type ExtractionReuse =
  | { outcome: 'none' }
  | { outcome: 'stale' }
  | {
      outcome: 'reused';
      fromDocumentId: string;
      detectedType: DetectedType;
      pageCount: number;
      outbox: OutboxRow[];
    };

/** What `reuseIndexing` did; the same outcomes as `ExtractionReuse`, `outbox` holding the job's final event if any. */
export type IndexingReuse =
  | { outcome: 'none' }
  | { outcome: 'stale' }
  | { outcome: 'reused'; fromDocumentId: string; chunkCount: number; outbox: OutboxRow[] };

/**
 * The job state machine as seen by the workers. Every transition is a conditional UPDATE on the
 * expected status, so a redelivered message can neither move a document backwards nor finish a
 * step twice; each step's result and the outbox row for the next message commit together. Right after
 * each commit that wrote outbox rows or ended a job, before returning, it hands them to the after-commit
 * port (which publishes the rows and counts the jobs): a caller only acknowledges its message.
 */
export class PipelineRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly topology: Topology,
    private readonly afterCommit: AfterCommit,
  ) {}

  private toWork(d: ClaimRow & { id: string }): DocumentWork {
    return {
      documentId: d.id,
      tenantId: d.tenant_id,
      jobId: d.job_id,
      filename: d.filename,
      blobKey: d.blob_key,
      sha256: d.sha256,
      traceparent: d.traceparent,
      source: DocumentSource.safeParse(d.source).data ?? 'upload',
      sourceUrl: d.source_url,
      claimedContentType: d.claimed_content_type,
      depth: d.depth,
    };
  }

  /**
   * Claims of documents made together (the handlers of one fetched batch of messages) run as one statement:
   * one round trip for the batch. See `claimMany`.
   */
  private readonly claims = {
    extracting: new Batcher<ClaimRequest, Claim<DocumentWork>>((r) =>
      this.claimMany(r, ['queued', 'extracting'], 'extracting'),
    ),
    indexing: new Batcher<ClaimRequest, Claim<DocumentWork>>((r) =>
      this.claimMany(r, ['extracted', 'indexing'], 'indexing'),
    ),
  };

  /**
   * One statement: locks the documents' job rows in id order (the order every transition takes locks in, so a
   * redelivered claim racing the first delivery's completion waits on one lock instead of deadlocking with it),
   * moves each document that is in an expected status and whose job is active, marks those jobs and steps
   * running and records each job's queued → running event. The UPDATEs re-check their rows after the locks
   * (READ COMMITTED re-evaluates a row another transaction changed), so each claim ends as it would alone.
   */
  private async claimMany(
    requests: readonly ClaimRequest[],
    from: readonly string[],
    to: 'extracting' | 'indexing',
  ): Promise<Claim<DocumentWork>[]> {
    const step = to === 'extracting' ? 'ingest' : 'index';
    const rows = await this.prisma.$queryRaw<(ClaimRow & { request: number })[]>`
      WITH x AS (
        SELECT * FROM unnest(${requests.map((r) => r.documentId)}::uuid[], ${requests.map((r) => r.tenantId)}::uuid[])
          WITH ORDINALITY AS x(document_id, tenant_id, i)),
      -- Only the documents each request's tenant owns: another tenant's id finds nothing.
      target AS (
        SELECT x.i, x.document_id, d.job_id FROM x JOIN documents d ON d.id = x.document_id AND d.tenant_id = x.tenant_id),
      j AS (
        SELECT j.id, j.status::text AS status, j.traceparent FROM jobs j
        WHERE j.id IN (SELECT job_id FROM target)
        ORDER BY j.id
        FOR UPDATE),
      doc AS (
        UPDATE documents d
        SET attempts = CASE WHEN d.status::text = ${to} THEN d.attempts + 1 ELSE 1 END,
            status = ${to}::document_status, updated_at = now()
        FROM target JOIN j ON j.id = target.job_id
        WHERE d.id = target.document_id AND d.status::text = ANY(${[...from]}::text[])
          AND j.status IN ('queued', 'running')
        RETURNING d.id, d.tenant_id, d.job_id, d.filename, d.blob_key, d.sha256, d.source, d.source_url,
                  d.claimed_content_type, d.depth, d.attempts),
      per_job AS (
        SELECT job_id, min(tenant_id::text)::uuid AS tenant_id, max(attempts) AS attempts, count(*)::int AS claims
        FROM doc GROUP BY job_id),
      -- A document's attempts count deliveries of its current step (1 unless a worker died or failed on it);
      -- a job's attempts are its most-retried step's, so a client sees redeliveries without reading every document.
      job AS (
        UPDATE jobs SET status = 'running', started_at = coalesce(jobs.started_at, now()), heartbeat_at = now(),
               updated_at = now(), attempts = greatest(jobs.attempts, per_job.attempts)
        FROM per_job WHERE jobs.id = per_job.job_id),
      event AS (
        INSERT INTO job_events (job_id, tenant_id, kind, from_status, to_status, data)
        SELECT per_job.job_id, per_job.tenant_id, 'status', 'queued', 'running', '{}'::jsonb
        FROM per_job JOIN j ON j.id = per_job.job_id WHERE j.status = 'queued'),
      step AS (
        UPDATE job_steps s SET status = 'running', started_at = coalesce(s.started_at, now()),
               attempts = s.attempts + per_job.claims
        FROM per_job WHERE s.job_id = per_job.job_id AND s.name = ${step})
      SELECT x.i::int AS request, j.status AS job_status, j.traceparent, doc.id, doc.tenant_id,
             doc.job_id, doc.filename, doc.blob_key, doc.sha256, doc.source, doc.source_url,
             doc.claimed_content_type, doc.depth
      FROM x LEFT JOIN target ON target.i = x.i
             LEFT JOIN j ON j.id = target.job_id
             LEFT JOIN doc ON doc.id = target.document_id`;
    const byRequest = new Map(rows.map((r) => [r.request, r]));
    return requests.map((_, i) => this.claimOutcome(byRequest.get(i + 1)));
  }

  private claimOutcome(row: ClaimRow | undefined): Claim<DocumentWork> {
    if (!row?.job_status) return { claimed: false, reason: 'not_found' };
    if (row.job_status !== 'queued' && row.job_status !== 'running') {
      return { claimed: false, reason: 'job_finished' };
    }
    if (row.id === null) return { claimed: false, reason: 'already_done' };
    return { claimed: true, work: this.toWork({ ...row, id: row.id }) };
  }

  /** queued|extracting → extracting (extracting again: the previous delivery died mid-way). */
  claimForExtraction(tenantId: string, documentId: string): Promise<Claim<DocumentWork>> {
    return this.claims.extracting.call({ tenantId, documentId });
  }

  /** extracted|indexing → indexing. */
  claimForIndexing(tenantId: string, documentId: string): Promise<Claim<DocumentWork>> {
    return this.claims.indexing.call({ tenantId, documentId });
  }

  async reportProgress(
    jobId: string,
    progress: { step: string; done: number; total: number; message?: string },
  ) {
    await this.prisma.$executeRaw`
      UPDATE jobs SET progress = ${JSON.stringify(progress)}::jsonb, heartbeat_at = now(), updated_at = now()
      WHERE id = ${jobId}::uuid AND status = 'running'`;
  }

  /**
   * A URL document's bytes arrived: records their hash, size and where the fetch ended, while the document is
   * still being extracted by this delivery's claim and its job is active. False when it moved on.
   */
  async recordFetch(work: DocumentWork, fetched: FetchRecord): Promise<boolean> {
    const moved = await this.prisma.$executeRaw`
      UPDATE documents d SET sha256 = ${fetched.sha256}, size_bytes = ${fetched.sizeBytes},
             final_url = ${fetched.finalUrl}, http_status = ${fetched.httpStatus},
             claimed_content_type = coalesce(${fetched.contentType}, d.claimed_content_type), updated_at = now()
      FROM jobs j
      WHERE d.id = ${work.documentId}::uuid AND d.tenant_id = ${work.tenantId}::uuid AND d.status = 'extracting'
        AND j.id = d.job_id AND j.status IN ('queued', 'running')`;
    return moved > 0;
  }

  /**
   * Stores the pages and queues the index step in one transaction; documents found inside this one (e-mail
   * attachments) join the job in the same transaction, with their ingest commands, so the job cannot finish
   * before they do. Returns the outbox rows it wrote (handed to the port), null when the document moved on.
   */
  async completeExtraction(
    work: DocumentWork,
    result: ExtractionResult,
    next: OutboxInsert,
    childCommands: readonly OutboxInsert[] = [],
  ): Promise<OutboxRow[] | null> {
    if ((result.children ?? []).length === 0) return this.completeExtractionAlone(work, result, next);
    return inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
      if (!(await this.lockActiveJob(tx, work.jobId))) return null;
      const moved = await tx.$executeRaw`
        UPDATE documents SET status = 'extracted', detected_type = ${result.detectedType},
               page_count = ${result.pages.length}, title = ${result.title ?? null},
               low_confidence_pages = ${result.lowConfidencePages ?? []}::int[],
               extraction_key = ${result.extractionKey ?? null}, updated_at = now()
        WHERE id = ${work.documentId}::uuid AND status = 'extracting'`;
      if (moved === 0) return null;
      await tx.$executeRaw`DELETE FROM pages WHERE document_id = ${work.documentId}::uuid`;
      if (result.pages.length > 0) await insertPages(tx, work, result.pages);
      await this.stepDone(tx, work, 'ingest');
      const queuedChildren = await this.insertChildren(tx, work, result);
      const commands = childCommands.filter((c) => queuedChildren.has(commandDocumentId(c) ?? ''));
      return notes.rows(await insertOutbox(tx, [next, ...commands]));
    });
  }

  /**
   * The common case of `completeExtraction`, a document with nothing inside it; completions made together run
   * as one statement (see `completeExtractions`).
   */
  private completeExtractionAlone(
    work: DocumentWork,
    result: ExtractionResult,
    next: OutboxInsert,
  ): Promise<OutboxRow[] | null> {
    return this.extractionCompletions.call({ work, result, next });
  }

  private readonly extractionCompletions = new Batcher<ExtractionCompletion, OutboxRow[] | null>((c) =>
    this.completeExtractions(c),
  );

  /**
   * One statement for a batch of completed extractions: locks their active jobs in id order, moves each
   * document extracting → extracted, stores its pages, counts it done in the ingest step and writes its index
   * command's outbox row; a document that did not move writes nothing. A page already stored for a document
   * (none can be while it is extracting) is replaced, not duplicated. The batch's rows go to the port together.
   */
  private async completeExtractions(batch: readonly ExtractionCompletion[]): Promise<(OutboxRow[] | null)[]> {
    const pages = batch.flatMap((c) =>
      c.result.pages.map((p) => ({ documentId: c.work.documentId, page: p })),
    );
    const [row] = await this.prisma.$queryRaw<
      { moved: string[]; outbox: { id: string; msg_id: string }[] }[]
    >`
      WITH x AS (
        SELECT * FROM unnest(${batch.map((c) => c.work.documentId)}::uuid[], ${batch.map((c) => c.work.jobId)}::uuid[],
                             ${batch.map((c) => c.result.detectedType)}::text[], ${batch.map((c) => c.result.pages.length)}::int[],
                             ${batch.map((c) => c.result.title ?? null)}::text[],
                             ${batch.map((c) => JSON.stringify(c.result.lowConfidencePages ?? []))}::text[],
                             ${batch.map((c) => c.result.extractionKey ?? null)}::text[])
          AS x(document_id, job_id, detected_type, page_count, title, low_confidence, extraction_key)),
      j AS (
        SELECT id FROM jobs WHERE id IN (SELECT job_id FROM x) AND status IN ('queued', 'running')
        ORDER BY id FOR UPDATE),
      doc AS (
        UPDATE documents d SET status = 'extracted', detected_type = x.detected_type, page_count = x.page_count,
               title = x.title, extraction_key = x.extraction_key, updated_at = now(),
               low_confidence_pages = ARRAY(SELECT jsonb_array_elements_text(x.low_confidence::jsonb)::int)
        FROM x JOIN j ON j.id = x.job_id
        WHERE d.id = x.document_id AND d.job_id = x.job_id AND d.status = 'extracting'
        RETURNING d.id, d.tenant_id, d.job_id),
      page AS (
        INSERT INTO pages (tenant_id, document_id, page_number, text, char_count, method, ocr_confidence, label, sections)
        SELECT doc.tenant_id, doc.id, p.n, p.t, char_length(p.t), p.m, p.c, p.l, p.s::jsonb
        FROM unnest(${pages.map((p) => p.documentId)}::uuid[], ${pages.map((p) => p.page.pageNumber)}::int[],
                    ${pages.map((p) => p.page.text)}::text[], ${pages.map((p) => p.page.method ?? 'parsed')}::text[],
                    ${pages.map((p) => p.page.ocrConfidence ?? null)}::real[], ${pages.map((p) => p.page.label ?? null)}::text[],
                    ${pages.map((p) => JSON.stringify(p.page.sections ?? []))}::text[]) AS p(document_id, n, t, m, c, l, s)
        JOIN doc ON doc.id = p.document_id
        ON CONFLICT (document_id, page_number) DO UPDATE SET text = excluded.text, char_count = excluded.char_count,
          method = excluded.method, ocr_confidence = excluded.ocr_confidence, label = excluded.label,
          sections = excluded.sections),
      ${stepDoneCte('ingest')},
      ${outboxInsertCte(
        batch.map((c) => c.next),
        sql`doc`,
        batch.map((c) => c.work.documentId),
      )}
      SELECT coalesce((SELECT array_agg(id::text) FROM doc), '{}') AS moved,
             ${insertedOutboxRows}
               AS outbox`;
    const moved = new Set(row?.moved ?? []);
    const outputs = batch.map((c) =>
      moved.has(c.work.documentId) ? outboxRowsOf([c.next], row?.outbox ?? []) : null,
    );
    await tellCommitted(
      this.afterCommit,
      outputs.flatMap((rows) => rows ?? []),
    );
    return outputs;
  }

  /**
   * Inserts the children that are not there yet (a redelivered parent finds them by their deterministic ids) and
   * grows both steps by the ones that will be parsed. Returns the ids of the newly queued children.
   */
  private async insertChildren(tx: Tx, work: DocumentWork, result: ExtractionResult): Promise<Set<string>> {
    const children = result.children ?? [];
    if (children.length === 0) return new Set();
    const inserted = await tx.$queryRaw<{ id: string; status: string }[]>`
      INSERT INTO documents (id, tenant_id, job_id, filename, claimed_content_type, sha256, size_bytes, blob_key,
                             source, parent_document_id, depth, status, error)
      SELECT id, ${work.tenantId}::uuid, ${work.jobId}::uuid, f, ct, sha, sz, bk, 'attachment', ${work.documentId}::uuid,
             ${work.depth + 1}::int, st::document_status, er::jsonb
      FROM unnest(${children.map((c) => c.id)}::uuid[], ${children.map((c) => c.filename)}::text[],
                  ${children.map((c) => c.claimedContentType)}::text[], ${children.map((c) => c.sha256)}::text[],
                  ${children.map((c) => c.sizeBytes)}::bigint[], ${children.map((c) => c.blobKey)}::text[],
                  ${children.map((c) => (c.failed ? 'failed' : 'queued'))}::text[],
                  ${children.map((c) => (c.failed ? JSON.stringify(c.failed) : null))}::text[])
           AS x(id, f, ct, sha, sz, bk, st, er)
      ON CONFLICT (id) DO NOTHING
      RETURNING id, status::text AS status`;
    const queued = new Set(inserted.filter((r) => r.status === 'queued').map((r) => r.id));
    await growSteps(tx, work.jobId, queued.size);
    if (inserted.length > 0) {
      await appendJobEvent(tx, {
        jobId: work.jobId,
        tenantId: work.tenantId,
        kind: 'attachments_found',
        data: {
          documentId: work.documentId,
          documents: inserted.map((r) => r.id),
          refused: inserted.filter((r) => r.status === 'failed').length,
        },
      });
    }
    return queued;
  }

  /**
   * The same bytes uploaded again by the same tenant: copies the pages, detected type and page count of
   * an earlier document of that tenant that got past extraction (extracted, indexing or indexed; never a
   * failed or cancelled one) and completes this document's extraction exactly as `completeExtraction`
   * does, in one transaction with an `extraction_reused` job event.
   */
  async reuseExtraction(
    work: DocumentWork,
    extractionKey: string,
    next: OutboxInsert,
  ): Promise<ExtractionReuse> {
    if (work.sha256 === null) return { outcome: 'none' };
    // Most uploads are new bytes: one indexed probe, no transaction, decides that cheaply.
    const probe = await this.prisma.$queryRaw<{ id: string }[]>`
      SELECT id FROM documents
      WHERE tenant_id = ${work.tenantId}::uuid AND sha256 = ${work.sha256} AND id <> ${work.documentId}::uuid
        AND status IN ('extracted', 'indexing', 'indexed') AND extraction_key = ${extractionKey}
      LIMIT 1`;
    if (probe.length === 0) return { outcome: 'none' };
    return inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
      if (!(await this.lockActiveJob(tx, work.jobId))) return { outcome: 'stale' } as const;
      // An indexed source first (the index step may then reuse its chunks too), else the oldest. FOR SHARE
      // keeps the source row, and with it its pages, from being deleted while they are copied.
      // A source whose extraction found documents inside it (attachments) is not copied: its children belong
      // to its own job, and parsing again gives this job its own.
      const [source] = await tx.$queryRaw<{ id: string; detected_type: DetectedType; page_count: number }[]>`
        SELECT id, detected_type, page_count FROM documents d
        WHERE tenant_id = ${work.tenantId}::uuid AND sha256 = ${work.sha256} AND id <> ${work.documentId}::uuid
          AND status IN ('extracted', 'indexing', 'indexed') AND extraction_key = ${extractionKey}
          AND detected_type IS NOT NULL AND page_count IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM documents c WHERE c.parent_document_id = d.id)
        ORDER BY (status = 'indexed') DESC, created_at, id
        LIMIT 1
        FOR SHARE`;
      if (!source) return { outcome: 'none' } as const;
      const moved = await tx.$executeRaw`
        UPDATE documents d SET status = 'extracted', detected_type = s.detected_type, page_count = s.page_count,
               title = s.title, low_confidence_pages = s.low_confidence_pages, extraction_key = s.extraction_key,
               updated_at = now()
        FROM documents s
        WHERE d.id = ${work.documentId}::uuid AND d.status = 'extracting' AND s.id = ${source.id}::uuid`;
      if (moved === 0) return { outcome: 'stale' } as const;
      await tx.$executeRaw`DELETE FROM pages WHERE document_id = ${work.documentId}::uuid`;
      await tx.$executeRaw`
        INSERT INTO pages (tenant_id, document_id, page_number, text, char_count, method, ocr_confidence, label, sections)
        SELECT tenant_id, ${work.documentId}::uuid, page_number, text, char_count, method, ocr_confidence, label, sections
        FROM pages WHERE document_id = ${source.id}::uuid AND tenant_id = ${work.tenantId}::uuid`;
      await this.stepDone(tx, work, 'ingest');
      await appendJobEvent(tx, {
        jobId: work.jobId,
        tenantId: work.tenantId,
        kind: 'extraction_reused',
        data: { documentId: work.documentId, fromDocumentId: source.id },
      });
      const outbox = notes.rows(await insertOutbox(tx, [next]));
      return {
        outcome: 'reused',
        fromDocumentId: source.id,
        detectedType: source.detected_type,
        pageCount: source.page_count,
        outbox,
      } as const;
    });
  }

  /**
   * Stores chunks with their vectors, marks the document indexed and finishes the job if it was the last.
   * Completions made together run as one transaction (see `completeIndexings`).
   */
  completeIndexing(
    work: DocumentWork,
    chunks: ChunkInput[],
    model: { id: string; dim: number },
  ): Promise<OutboxRow[] | null> {
    return this.indexingCompletions.call({ work, chunks, model });
  }

  private readonly indexingCompletions = new Batcher<IndexingCompletion, OutboxRow[] | null>((c) =>
    this.completeIndexings(c),
  );

  /**
   * One transaction for a batch: one statement locks the active jobs in id order, moves each document
   * indexing → indexed, stores its chunks and counts it in the index step; then the jobs' verdicts, which need
   * statements of their own after the locks (see finishJobsIfDone). A job that finishes returns its final event
   * with the first of its documents in the batch; every job the batch ended goes to the port together.
   */
  private async completeIndexings(batch: readonly IndexingCompletion[]): Promise<(OutboxRow[] | null)[]> {
    const chunks = batch.flatMap((c) => c.chunks.map((chunk) => ({ completion: c, chunk })));
    return inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
      const [row] = await tx.$queryRaw<{ moved: string[] }[]>`
        WITH x AS (
          SELECT * FROM unnest(${batch.map((c) => c.work.documentId)}::uuid[], ${batch.map((c) => c.work.jobId)}::uuid[],
                               ${batch.map((c) => c.chunks.length)}::int[]) AS x(document_id, job_id, chunk_count)),
        j AS (
          SELECT id FROM jobs WHERE id IN (SELECT job_id FROM x) AND status IN ('queued', 'running')
          ORDER BY id FOR UPDATE),
        doc AS (
          UPDATE documents d SET status = 'indexed', chunk_count = x.chunk_count, updated_at = now()
          FROM x JOIN j ON j.id = x.job_id
          WHERE d.id = x.document_id AND d.job_id = x.job_id AND d.status = 'indexing'
          RETURNING d.id, d.tenant_id, d.job_id),
        chunk AS (
          INSERT INTO chunks (tenant_id, document_id, page_number, ordinal, text, token_count, char_start, char_end,
                              embedding, embedding_model, embedding_dim)
          SELECT doc.tenant_id, doc.id, c.p, c.o, c.t, c.tc, c.cs, c.ce, c.e::vector, c.model, c.dim
          FROM unnest(${chunks.map((c) => c.completion.work.documentId)}::uuid[],
                      ${chunks.map((c) => c.chunk.pageNumber)}::int[], ${chunks.map((c) => c.chunk.ordinal)}::int[],
                      ${chunks.map((c) => c.chunk.text)}::text[], ${chunks.map((c) => c.chunk.tokenCount)}::int[],
                      ${chunks.map((c) => c.chunk.charStart)}::int[], ${chunks.map((c) => c.chunk.charEnd)}::int[],
                      ${chunks.map((c) => toVectorLiteral(c.chunk.embedding))}::text[],
                      ${chunks.map((c) => c.completion.model.id)}::text[], ${chunks.map((c) => c.completion.model.dim)}::int[])
               AS c(document_id, p, o, t, tc, cs, ce, e, model, dim)
          JOIN doc ON doc.id = c.document_id
          ON CONFLICT (document_id, ordinal) DO UPDATE SET page_number = excluded.page_number, text = excluded.text,
            token_count = excluded.token_count, char_start = excluded.char_start, char_end = excluded.char_end,
            embedding = excluded.embedding, embedding_model = excluded.embedding_model,
            embedding_dim = excluded.embedding_dim),
        ${stepDoneCte('index')}
        SELECT coalesce((SELECT array_agg(id::text) FROM doc), '{}') AS moved`;
      const moved = new Set(row?.moved ?? []);
      const jobs = [...new Set(batch.filter((c) => moved.has(c.work.documentId)).map((c) => c.work.jobId))];
      const finished = await finishJobsIfDone(tx, this.topology, jobs);
      const reported = new Set<string>();
      return batch.map((c) => {
        if (!moved.has(c.work.documentId)) return null;
        if (reported.has(c.work.jobId)) return [];
        reported.add(c.work.jobId);
        return notes.ended(finished.get(c.work.jobId));
      });
    });
  }

  /**
   * The index step's counterpart of `reuseExtraction`: an earlier `indexed` document of the same tenant
   * with the same bytes, the same page texts and every chunk embedded by `model` gives its chunks and
   * vectors to this one instead of the model embedding them again. Completes like `completeIndexing`
   * (conditional on `indexing`, job row locked, index step done, the job finished if this was its last
   * document), with a `chunks_reused` job event.
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
      if (!(await this.lockActiveJob(tx, work.jobId))) return { outcome: 'stale' } as const;
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
        UPDATE documents SET status = 'indexed', chunk_count = ${source.chunk_count}, updated_at = now()
        WHERE id = ${work.documentId}::uuid AND status = 'indexing'`;
      if (moved === 0) return { outcome: 'stale' } as const;
      await tx.$executeRaw`DELETE FROM chunks WHERE document_id = ${work.documentId}::uuid`;
      await tx.$executeRaw`
        INSERT INTO chunks (tenant_id, document_id, page_number, ordinal, text, token_count, char_start, char_end,
                            embedding, embedding_model, embedding_dim)
        SELECT tenant_id, ${work.documentId}::uuid, page_number, ordinal, text, token_count, char_start, char_end,
               embedding, embedding_model, embedding_dim
        FROM chunks WHERE document_id = ${source.id}::uuid AND tenant_id = ${work.tenantId}::uuid`;
      await this.stepDone(tx, work, 'index');
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

  /**
   * The document failed on its own; the job goes on, or finishes if this was its last document.
   * Scoped to the tenant and job given; the documents of a terminal job no longer change. Returns the rows of
   * the job's final event when this ended it (handed to the port with the job).
   */
  async failDocument(
    work: Pick<DocumentWork, 'jobId' | 'documentId' | 'tenantId'>,
    error: ErrorInfo,
    known?: { finalUrl?: string | undefined; httpStatus?: number | undefined; detectedType?: DetectedType },
  ): Promise<OutboxRow[]> {
    return inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
      if (!(await this.lockActiveJob(tx, work.jobId))) return [];
      const moved = await tx.$queryRaw<{ from_status: string }[]>`
        UPDATE documents d SET status = 'failed', error = ${JSON.stringify(error)}::jsonb, updated_at = now(),
               final_url = coalesce(${known?.finalUrl ?? null}, d.final_url),
               http_status = coalesce(${known?.httpStatus ?? null}::int, d.http_status),
               detected_type = coalesce(${known?.detectedType ?? null}, d.detected_type)
        FROM documents old
        WHERE d.id = ${work.documentId}::uuid AND d.tenant_id = ${work.tenantId}::uuid
          AND d.job_id = ${work.jobId}::uuid AND old.id = d.id AND d.status NOT IN ('indexed', 'failed', 'cancelled')
        RETURNING old.status::text AS from_status`;
      if (moved.length === 0) return [];
      await appendJobEvent(tx, {
        jobId: work.jobId,
        tenantId: work.tenantId,
        kind: 'document_failed',
        data: { documentId: work.documentId, from: moved[0]?.from_status, error },
      });
      return notes.ended(await finishJobIfDone(tx, this.topology, work.jobId));
    });
  }

  /**
   * Cancels an active job: the job and its open documents become `cancelled` and `events.job.cancelled`
   * goes into the outbox, in one transaction under the job row's lock. A worker completing a document
   * at the same moment either commits first (its document keeps its result) or finds the job terminal
   * and writes nothing; claims of later deliveries answer `job_finished`.
   */
  async cancelJob(tenantId: string, jobId: string): Promise<CancelJobResult> {
    return inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
      const [job] = await tx.$queryRaw<
        {
          status: JobStatus;
          type: string;
          trace_id: string | null;
          traceparent: string | null;
          created_at: Date;
        }[]
      >`
        SELECT status::text AS status, type, trace_id, traceparent, created_at FROM jobs
        WHERE id = ${jobId}::uuid AND tenant_id = ${tenantId}::uuid FOR UPDATE`;
      if (!job) return { outcome: 'not_found' } as const;
      const [moved] = await tx.$queryRaw<{ finished_at: Date }[]>`
        UPDATE jobs SET status = 'cancelled', finished_at = now(), updated_at = now(), heartbeat_at = now()
        WHERE id = ${jobId}::uuid AND status IN ('queued', 'running')
        RETURNING finished_at`;
      if (!moved) return { outcome: 'terminal', status: job.status } as const;
      const cancelled = await tx.$executeRaw`
        UPDATE documents SET status = 'cancelled', updated_at = now()
        WHERE job_id = ${jobId}::uuid AND status NOT IN ('indexed', 'failed', 'cancelled')`;
      const [counts] = await tx.$queryRaw<{ ok: number; failed: number; total: number }[]>`
        SELECT count(*) FILTER (WHERE status = 'indexed')::int AS ok,
               count(*) FILTER (WHERE status = 'failed')::int AS failed, count(*)::int AS total
        FROM documents WHERE job_id = ${jobId}::uuid`;
      await tx.$executeRaw`
        UPDATE job_steps SET status = 'cancelled', finished_at = coalesce(finished_at, now())
        WHERE job_id = ${jobId}::uuid AND status IN ('queued', 'running')`;
      await appendJobEvent(tx, {
        jobId,
        tenantId,
        kind: 'status',
        fromStatus: job.status,
        toStatus: 'cancelled',
        data: { cancelledDocuments: cancelled },
      });
      const event: JobEvent = {
        v: 1,
        jobId,
        tenantId,
        type: job.type === 'analyze' ? 'analyze' : 'ingest',
        status: 'cancelled',
        occurredAt: new Date().toISOString(),
        documents: { total: counts?.total ?? 0, succeeded: counts?.ok ?? 0, failed: counts?.failed ?? 0 },
        ...(job.trace_id ? { traceId: job.trace_id } : {}),
      };
      const outbox = notes.ended({
        outbox: await insertOutbox(tx, [
          {
            tenantId,
            jobId,
            subject: this.topology.eventSubject('cancelled'),
            msgId: MessageIds.jobEvent(jobId, 'cancelled'),
            payload: event,
            headers: job.traceparent ? { traceparent: job.traceparent } : {},
          },
        ]),
        finishedJob: {
          jobId,
          type: job.type,
          status: 'cancelled',
          createdAt: job.created_at,
          finishedAt: moved.finished_at,
        },
      });
      return { outcome: 'cancelled', fromStatus: job.status, cancelledDocuments: cancelled, outbox } as const;
    });
  }

  /** Locks the job row so concurrent last documents serialise; false when the job is already terminal. */
  private async lockActiveJob(tx: Tx, jobId: string): Promise<boolean> {
    const rows = await tx.$queryRaw<
      { status: string }[]
    >`SELECT status::text FROM jobs WHERE id = ${jobId}::uuid FOR UPDATE`;
    return rows[0]?.status === 'queued' || rows[0]?.status === 'running';
  }

  private async stepDone(tx: Tx, work: DocumentWork, step: 'ingest' | 'index'): Promise<void> {
    await tx.$executeRaw`
      WITH doc AS (SELECT ${work.documentId}::uuid AS id, ${work.jobId}::uuid AS job_id),
      ${stepDoneCte(step)}
      SELECT 1`;
  }

  async loadPages(tenantId: string, documentId: string): Promise<PageInput[]> {
    return this.prisma.$queryRaw<PageInput[]>`
      SELECT page_number AS "pageNumber", text FROM pages
      WHERE document_id = ${documentId}::uuid AND tenant_id = ${tenantId}::uuid ORDER BY page_number`;
  }
}

export function toVectorLiteral(v: Float32Array | number[]): string {
  let s = '[';
  for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + (Number.isFinite(v[i]) ? String(v[i]) : '0');
  return `${s}]`;
}

/** Stores a document's pages, with how each page's text was obtained. */
async function insertPages(tx: Tx, work: DocumentWork, pages: readonly PageInput[]): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO pages (tenant_id, document_id, page_number, text, char_count, method, ocr_confidence, label, sections)
    SELECT ${work.tenantId}::uuid, ${work.documentId}::uuid, n, t, char_length(t), m, c, l, s::jsonb
    FROM unnest(${pages.map((p) => p.pageNumber)}::int[], ${pages.map((p) => p.text)}::text[],
                ${pages.map((p) => p.method ?? 'parsed')}::text[], ${pages.map((p) => p.ocrConfidence ?? null)}::real[],
                ${pages.map((p) => p.label ?? null)}::text[], ${pages.map((p) => JSON.stringify(p.sections ?? []))}::text[])
         AS x(n, t, m, c, l, s)`;
}

/**
 * CTEs `step` and `progress` of a one-statement transition: each job's step counts the documents the CTE `doc`
 * moved (id, job_id) as done (and succeeds when it has them all), and the job's progress says so.
 */
function stepDoneCte(step: 'ingest' | 'index'): Prisma.Sql {
  return sql`step AS (
      UPDATE job_steps s SET done = s.done + n.moved,
             status = CASE WHEN s.done + n.moved >= s.total THEN 'succeeded' ELSE s.status END,
             finished_at = CASE WHEN s.done + n.moved >= s.total THEN now() ELSE s.finished_at END
      FROM (SELECT job_id, count(*)::int AS moved FROM doc GROUP BY job_id) n
      WHERE s.job_id = n.job_id AND s.name = ${step}
      RETURNING s.job_id, s.done, s.total),
    progress AS (
      UPDATE jobs SET progress = jsonb_build_object('step', ${step}::text, 'done', step.done, 'total', step.total),
             heartbeat_at = now(), updated_at = now()
      FROM step WHERE jobs.id = step.job_id)`;
}
