import type { DetectedType, Topology } from '@quarry/contracts';
import type { PrismaClient } from '../generated/prisma/client';
import { inTransaction, tellCommitted, type AfterCommit } from './after-commit';
import { Batcher } from './batcher';
import {
  claimDocuments,
  insertPages,
  lockActiveJob,
  stepDone,
  stepDoneCte,
  type ClaimRequest,
} from './document-steps';
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
import type { Claim, DocumentWork, ExtractionResult, FetchRecord, OutboxInsert, OutboxRow } from './types';
import { recordUsage, usageCte, type UsageInput } from './usage';

/** Pages an extraction parsed, and how many of them were OCR'd: its usage (ADR 32). */
function pagesUsage(work: DocumentWork, result: ExtractionResult): UsageInput[] {
  const of = (metric: UsageInput['metric'], quantity: number): UsageInput => ({
    tenantId: work.tenantId,
    jobId: work.jobId,
    subjectId: work.documentId,
    metric,
    quantity,
  });
  return [of('pages_parsed', result.pages.length), of('pages_ocr', ocrPages(result))];
}

const ocrPages = (result: ExtractionResult): number => result.pages.filter((p) => p.method === 'ocr').length;

interface ExtractionCompletion {
  work: DocumentWork;
  result: ExtractionResult;
  next: OutboxInsert;
}

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

/**
 * The ingest step's transitions: claim a document (queued|extracting → extracting), record a URL document's
 * fetched bytes, store its pages and queue its index command (extracting → extracted), or copy an earlier
 * extraction of the same bytes. Every transition is conditional on the expected status and an active job, so a
 * redelivered message can neither move a document backwards nor finish the step twice; the step's result and the
 * outbox rows for the next messages commit together and go to the after-commit port before a method returns.
 */
export class ExtractionRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly topology: Topology,
    private readonly afterCommit: AfterCommit,
  ) {}

  /** Claims made together (the handlers of one fetched batch of messages) are one statement. */
  private readonly claims = new Batcher<ClaimRequest, Claim<DocumentWork>>(async (r) =>
    (await claimDocuments(this.prisma, r, ['queued', 'extracting'], 'extracting')).map((a) => a.claim),
  );

  /** queued|extracting → extracting (extracting again: the previous delivery died mid-way). */
  claimForExtraction(tenantId: string, documentId: string): Promise<Claim<DocumentWork>> {
    return this.claims.call({ tenantId, documentId });
  }

  /**
   * A URL document's bytes arrived: records their hash, size and where the fetch ended, while the document is
   * still being extracted by this delivery's claim and its job is active. False when it moved on.
   */
  async recordFetch(work: DocumentWork, fetched: FetchRecord): Promise<boolean> {
    // The stored bytes are metered with the record. A redelivery that fetched again finds the first fetch's usage
    // recorded and adds nothing (its bytes replaced the first ones under the same key).
    const moved = await this.prisma.$queryRaw<{ id: string }[]>`
      WITH doc AS (
        UPDATE documents d SET sha256 = ${fetched.sha256}, size_bytes = ${fetched.sizeBytes},
               final_url = ${fetched.finalUrl}, http_status = ${fetched.httpStatus},
               claimed_content_type = coalesce(${fetched.contentType}, d.claimed_content_type), updated_at = now()
        FROM jobs j
        WHERE d.id = ${work.documentId}::uuid AND d.tenant_id = ${work.tenantId}::uuid AND d.status = 'extracting'
          AND j.id = d.job_id AND j.status IN ('queued', 'running')
        RETURNING d.id, d.tenant_id, d.job_id, d.size_bytes),
      ${usageCte(sql`SELECT tenant_id, job_id, id AS subject_id, 'storage_bytes' AS metric, size_bytes AS quantity FROM doc`)}
      SELECT id::text FROM doc`;
    return moved.length > 0;
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
      if (!(await lockActiveJob(tx, work.jobId))) return null;
      const moved = await tx.$executeRaw`
        UPDATE documents SET status = 'extracted', detected_type = ${result.detectedType},
               page_count = ${result.pages.length}, title = ${result.title ?? null},
               low_confidence_pages = ${result.lowConfidencePages ?? []}::int[],
               extraction_key = ${result.extractionKey ?? null}, updated_at = now()
        WHERE id = ${work.documentId}::uuid AND status = 'extracting'`;
      if (moved === 0) return null;
      await tx.$executeRaw`DELETE FROM pages WHERE document_id = ${work.documentId}::uuid`;
      if (result.pages.length > 0) await insertPages(tx, work, result.pages);
      await stepDone(tx, work, 'ingest');
      const children = await this.insertChildren(tx, work, result);
      // One upsert of the day's totals for the pages and the children together: rows locked in one order.
      await recordUsage(tx, [...pagesUsage(work, result), ...children.usage]);
      const commands = childCommands.filter((c) => children.queued.has(commandDocumentId(c) ?? ''));
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
                             ${batch.map((c) => c.result.extractionKey ?? null)}::text[],
                             ${batch.map((c) => ocrPages(c.result))}::int[])
          AS x(document_id, job_id, detected_type, page_count, title, low_confidence, extraction_key, ocr_pages)),
      -- Locked by id alone and filtered on the locked row's status after: with the status in the WHERE the planner
      -- may pick the status index and walk every active job (a backlog) to find the batch's few.
      j AS (
        SELECT id, status::text AS status FROM jobs WHERE id IN (SELECT job_id FROM x)
        ORDER BY id FOR UPDATE),
      doc AS (
        UPDATE documents d SET status = 'extracted', detected_type = x.detected_type, page_count = x.page_count,
               title = x.title, extraction_key = x.extraction_key, updated_at = now(),
               low_confidence_pages = ARRAY(SELECT jsonb_array_elements_text(x.low_confidence::jsonb)::int)
        FROM x JOIN j ON j.id = x.job_id AND j.status IN ('queued', 'running')
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
      ${usageCte(sql`
        SELECT doc.tenant_id, doc.job_id, doc.id AS subject_id, m.metric, m.quantity
        FROM doc JOIN x ON x.document_id = doc.id
        CROSS JOIN LATERAL (VALUES ('pages_parsed', x.page_count::bigint), ('pages_ocr', x.ocr_pages::bigint))
          AS m(metric, quantity)`)},
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
   * grows both steps by the ones that will be parsed. Returns the ids of the newly queued children, and their usage
   * for the caller to record: every inserted child's stored bytes, and a document for each one queued for work.
   */
  private async insertChildren(
    tx: Tx,
    work: DocumentWork,
    result: ExtractionResult,
  ): Promise<{ queued: Set<string>; usage: UsageInput[] }> {
    const children = result.children ?? [];
    if (children.length === 0) return { queued: new Set(), usage: [] };
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
    const sizes = new Map(children.map((c) => [c.id, c.sizeBytes]));
    const usage = inserted.flatMap((r): UsageInput[] => {
      const of = (metric: UsageInput['metric'], quantity: number): UsageInput => ({
        tenantId: work.tenantId,
        jobId: work.jobId,
        subjectId: r.id,
        metric,
        quantity,
      });
      return [of('storage_bytes', sizes.get(r.id) ?? 0), ...(queued.has(r.id) ? [of('documents', 1)] : [])];
    });
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
    return { queued, usage };
  }

  /**
   * The same bytes uploaded again by the same tenant: copies the pages, detected type and page count of
   * an earlier document of that tenant that got past extraction (extracted, indexing or indexed; never a
   * failed or cancelled one) and completes this document's extraction exactly as `completeExtraction`
   * does, in one transaction with an `extraction_reused` job event. Nothing is parsed, so no pages are metered
   * (ADR 32); the upload's document and bytes were, when it was accepted.
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
      if (!(await lockActiveJob(tx, work.jobId))) return { outcome: 'stale' } as const;
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
      await stepDone(tx, work, 'ingest');
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
}
