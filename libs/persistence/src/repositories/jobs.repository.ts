import { createHash } from 'node:crypto';
import {
  ALL_API_KEY_SCOPES,
  WorkerJobInput,
  WorkerJobResult,
  DocumentClassification,
  DocumentSource,
  IngestJobOptions,
  ErrorInfoSchema,
  JobProgress,
  PageMethod,
  type DetectedType,
  type DocumentStatus,
  type ErrorInfo,
  type JobStatus,
  type Lane,
} from '@quarry/contracts';
import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { inTransaction, tellCommitted, type AfterCommit } from './after-commit';
import { Batcher } from './batcher';
import {
  appendJobEvent,
  insertOutbox,
  insertedOutboxRows,
  outboxInsertCte,
  outboxRowsOf,
  sql,
  type Tx,
} from './sql';
import type {
  DocumentView,
  JobStepView,
  JobView,
  NewIngestJob,
  OutboxInsert,
  OutboxRow,
  PageView,
} from './types';
import { usageCte } from './usage';

type DocRecord = {
  id: string;
  jobId: string;
  filename: string;
  status: DocumentStatus;
  error: unknown;
  sha256: string | null;
  sizeBytes: bigint | null;
  detectedType: string | null;
  pageCount: number | null;
  chunkCount: number | null;
  source: string;
  sourceUrl: string | null;
  finalUrl: string | null;
  httpStatus: number | null;
  metadata: unknown;
  tags: string[];
  language: string | null;
  labels: unknown;
  title: string | null;
  parentDocumentId: string | null;
  depth: number;
  lowConfidencePages: number[];
  createdAt: Date;
};

function toDocumentView(d: DocRecord): DocumentView {
  return {
    id: d.id,
    jobId: d.jobId,
    filename: d.filename,
    status: d.status,
    error: storedError(d.error),
    sha256: d.sha256,
    sizeBytes: d.sizeBytes === null ? null : Number(d.sizeBytes),
    detectedType: (d.detectedType as DetectedType | null) ?? null,
    pageCount: d.pageCount,
    chunkCount: d.chunkCount,
    source: DocumentSource.safeParse(d.source).data ?? 'upload',
    sourceUrl: d.sourceUrl,
    finalUrl: d.finalUrl,
    httpStatus: d.httpStatus,
    metadata: isRecord(d.metadata) ? d.metadata : {},
    tags: d.tags,
    language: d.language,
    labels: d.labels === null ? null : (DocumentClassification.safeParse(d.labels).data ?? null),
    title: d.title,
    parentDocumentId: d.parentDocumentId,
    depth: d.depth,
    lowConfidencePages: d.lowConfidencePages,
    createdAt: d.createdAt,
  };
}

/**
 * A stored `error` column through the contract's schema. A value that does not match it (written by an older
 * version, or by hand) still reaches the client as an error, with what was stored as its message.
 */
function storedError(value: unknown): ErrorInfo | null {
  if (value === null || value === undefined) return null;
  return (
    ErrorInfoSchema.safeParse(value).data ?? {
      code: 'internal',
      message: `unreadable stored error: ${JSON.stringify(value).slice(0, 500)}`,
    }
  );
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const jobInclude = { documents: { orderBy: [{ createdAt: 'asc' as const }, { id: 'asc' as const }] } };
type JobRecord = Prisma.JobGetPayload<{ include: typeof jobInclude }>;

export function toJobView(j: JobRecord): JobView {
  return {
    id: j.id,
    tenantId: j.tenantId,
    type: j.type,
    lane: j.lane === 'bulk' ? 'bulk' : 'interactive',
    status: j.status,
    progress: JobProgress.safeParse(j.progress).data ?? {},
    attempts: j.attempts,
    error: storedError(j.error),
    traceId: j.traceId,
    idempotencyKey: j.idempotencyKey,
    createdAt: j.createdAt,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
    retryOfJobId: j.retryOfJobId,
    acceptingDocuments: j.acceptingDocuments,
    documents: j.documents.map(toDocumentView),
    input:
      j.input === null
        ? null
        : j.type === 'ingest'
          ? (IngestJobOptions.safeParse(j.input).data ?? null)
          : (WorkerJobInput.safeParse(j.input).data ?? null),
    result: j.result === null ? null : (WorkerJobResult.safeParse(j.result).data ?? null),
  };
}

export interface JobListCursor {
  createdAt: Date;
  id: string;
}

/**
 * The gateway's reads and writes of jobs. Every query is scoped by tenant. The outbox rows a new job's commit
 * wrote go to the after-commit port before the call returns.
 */
export class JobsRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly afterCommit: AfterCommit,
  ) {}

  /**
   * Writes the job, its steps, its documents, its `queued` event and the outbox rows for the first step,
   * atomically. With an idempotency key already used by this tenant, returns the earlier job. Jobs created
   * together (concurrent uploads) are written by one statement (see `insertIngestJobs`).
   */
  async createIngestJob(
    input: NewIngestJob,
  ): Promise<{ job: JobView; created: boolean; outbox: OutboxRow[] }> {
    const created = await this.creations.call(input);
    if (created) return { ...created, created: true };
    // The tenant already used this idempotency key: the job that holds it.
    const existing = input.idempotencyKey
      ? await this.prisma.job.findFirst({
          where: { tenantId: input.tenantId, idempotencyKey: input.idempotencyKey },
          include: jobInclude,
        })
      : null;
    if (!existing) throw new Error(`job ${input.id} was not created and no job holds its idempotency key`);
    return { job: toJobView(existing), created: false, outbox: [] };
  }

  private readonly creations = new Batcher<NewIngestJob, { job: JobView; outbox: OutboxRow[] } | null>(
    (inputs) => this.insertIngestJobs(inputs),
  );

  /**
   * One statement (atomic on its own: no transaction to open and close) for a batch of new jobs; null for a job
   * not written because its tenant already used its idempotency key (or a job of the same batch did). The batch's
   * outbox rows go to the port together.
   */
  private async insertIngestJobs(
    inputs: readonly NewIngestJob[],
  ): Promise<({ job: JobView; outbox: OutboxRow[] } | null)[]> {
    // Documents decided at creation (a crawler's failed page) are in the job but in no step.
    const totals = inputs.map((i) => i.documents.filter((d) => !d.failed).length);
    const docs = inputs.flatMap((i) => i.documents.map((d) => ({ jobId: i.id, tenantId: i.tenantId, d })));
    const outbox = inputs.flatMap((i) => i.outbox.map((row) => ({ jobId: i.id, row })));
    const [row] = await this.prisma.$queryRaw<
      { jobs: { id: string; created_at: string }[]; now: Date; outbox: { id: string; msg_id: string }[] }[]
    >`
      WITH jx AS (
        SELECT * FROM unnest(${inputs.map((i) => i.id)}::uuid[], ${inputs.map((i) => i.tenantId)}::uuid[],
                             ${inputs.map((i) => i.lane ?? 'interactive')}::text[], ${totals}::int[],
                             ${inputs.map((i) => i.traceparent)}::text[], ${inputs.map((i) => i.traceId)}::text[],
                             ${inputs.map((i) => i.idempotencyKey)}::text[],
                             ${inputs.map((i) => i.acceptingDocuments ?? false)}::boolean[],
                             ${inputs.map((i) => i.crawlRef ?? null)}::text[],
                             ${inputs.map((i) => (i.options ? JSON.stringify(i.options) : null))}::text[])
          WITH ORDINALITY AS jx(id, tenant_id, lane, total, traceparent, trace_id, idempotency_key, accepting, crawl_ref,
                                options, i)),
      job AS (
        INSERT INTO jobs (id, tenant_id, type, lane, status, progress, traceparent, trace_id, idempotency_key,
                          accepting_documents, crawl_ref, input)
        SELECT id, tenant_id, 'ingest', lane, 'queued', jsonb_build_object('step', 'ingest', 'done', 0, 'total', total),
               traceparent, trace_id, idempotency_key, accepting, crawl_ref, options::jsonb
        FROM jx ORDER BY i
        ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
        RETURNING id, tenant_id, created_at),
      steps AS (
        INSERT INTO job_steps (job_id, tenant_id, name, total)
        SELECT job.id, job.tenant_id, name, jx.total
        FROM job JOIN jx ON jx.id = job.id CROSS JOIN unnest(ARRAY['ingest', 'index']) AS name),
      docs AS (
        INSERT INTO documents (id, tenant_id, job_id, filename, claimed_content_type, sha256, size_bytes, blob_key,
                               source, source_url, http_status, metadata, tags, title, status, error)
        SELECT x.id, job.tenant_id, job.id, f, ct, sha, sz, bk, src, url, hs, md::jsonb,
               ARRAY(SELECT jsonb_array_elements_text(tg::jsonb)), ti, st::document_status, er::jsonb
        FROM unnest(
          ${docs.map((x) => x.d.id)}::uuid[], ${docs.map((x) => x.jobId)}::uuid[], ${docs.map((x) => x.d.filename)}::text[],
          ${docs.map((x) => x.d.claimedContentType)}::text[], ${docs.map((x) => x.d.sha256)}::text[],
          ${docs.map((x) => x.d.sizeBytes)}::bigint[], ${docs.map((x) => x.d.blobKey)}::text[],
          ${docs.map((x) => x.d.source ?? 'upload')}::text[], ${docs.map((x) => x.d.sourceUrl ?? null)}::text[],
          ${docs.map((x) => x.d.httpStatus ?? null)}::int[],
          ${docs.map((x) => JSON.stringify(x.d.metadata ?? {}))}::text[],
          ${docs.map((x) => JSON.stringify(x.d.tags ?? []))}::text[], ${docs.map((x) => x.d.title ?? null)}::text[],
          ${docs.map((x) => (x.d.failed ? 'failed' : 'queued'))}::text[],
          ${docs.map((x) => (x.d.failed ? JSON.stringify(x.d.failed) : null))}::text[])
          AS x(id, job_id, f, ct, sha, sz, bk, src, url, hs, md, tg, ti, st, er)
        JOIN job ON job.id = x.job_id
        RETURNING id, tenant_id, job_id, size_bytes, status::text AS status),
      -- The documents accepted for work and the bytes the gateway stored for them (a URL's come when fetched).
      ${usageCte(sql`
        SELECT tenant_id, job_id, id AS subject_id, 'documents' AS metric, 1::bigint AS quantity
        FROM docs WHERE status = 'queued'
        UNION ALL
        SELECT tenant_id, job_id, id, 'storage_bytes', size_bytes FROM docs WHERE size_bytes IS NOT NULL`)},
      event AS (
        INSERT INTO job_events (job_id, tenant_id, kind, from_status, to_status, data)
        SELECT job.id, job.tenant_id, 'status', NULL, 'queued', jsonb_build_object('documents', jx.total)
        FROM job JOIN jx ON jx.id = job.id),
      ${outboxInsertCte(
        outbox.map((o) => o.row),
        sql`job`,
        outbox.map((o) => o.jobId),
      )}
      SELECT coalesce((SELECT json_agg(json_build_object('id', id, 'created_at', created_at)) FROM job), '[]'::json)
               AS jobs,
             now() AS now,
             ${insertedOutboxRows}
               AS outbox`;
    const created = new Map((row?.jobs ?? []).map((j) => [j.id, new Date(j.created_at)]));
    const outputs = inputs.map((input, i) => {
      const createdAt = created.get(input.id);
      if (!createdAt || !row) return null;
      return {
        job: newJobView(input, totals[i] ?? 0, createdAt, row.now),
        outbox: outboxRowsOf(input.outbox, row.outbox),
      };
    });
    await tellCommitted(
      this.afterCommit,
      outputs.flatMap((o) => o?.outbox ?? []),
    );
    return outputs;
  }

  /**
   * Whether the workers' fair share holds the tenant's waiting work in a lane back (ADR 34): it already has a job
   * running there while another tenant has work waiting or running in the same lane, so freed slots go to the tenant
   * with fewer running first. Alone in a lane, a tenant gets every slot and waits only for the queue.
   */
  /** A job's steps in the order they run, for its timings (empty for another tenant's job). */
  async jobSteps(tenantId: string, jobId: string): Promise<JobStepView[]> {
    const rows = await this.prisma.jobStep.findMany({
      where: { tenantId, jobId },
      orderBy: [{ startedAt: { sort: 'asc', nulls: 'last' } }, { name: 'asc' }],
      select: {
        name: true,
        status: true,
        done: true,
        total: true,
        attempts: true,
        startedAt: true,
        finishedAt: true,
      },
    });
    return rows;
  }

  async fairShareHolds(tenantId: string, lane: string): Promise<boolean> {
    const [row] = await this.prisma.$queryRaw<{ holds: boolean }[]>`
      SELECT EXISTS (SELECT 1 FROM jobs WHERE tenant_id = ${tenantId}::uuid AND status = 'running' AND lane = ${lane})
         AND EXISTS (SELECT 1 FROM jobs WHERE status IN ('queued', 'running') AND lane = ${lane}
                                            AND tenant_id <> ${tenantId}::uuid) AS holds`;
    return row?.holds ?? false;
  }

  async getJob(tenantId: string, jobId: string): Promise<JobView | null> {
    const job = await this.prisma.job.findFirst({ where: { id: jobId, tenantId }, include: jobInclude });
    return job ? toJobView(job) : null;
  }

  /** Newest first, keyset-paginated on (created_at, id) so pages stay stable while jobs are added. */
  async listJobs(
    tenantId: string,
    options: { status?: JobStatus | undefined; limit: number; cursor?: JobListCursor | undefined },
  ): Promise<{ items: JobView[]; next: JobListCursor | null }> {
    const where: Prisma.JobWhereInput = { tenantId, ...(options.status ? { status: options.status } : {}) };
    if (options.cursor) {
      const c = options.cursor;
      where.OR = [{ createdAt: { lt: c.createdAt } }, { createdAt: c.createdAt, id: { lt: c.id } }];
    }
    const rows = await this.prisma.job.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: options.limit + 1,
      include: jobInclude,
    });
    const items = rows.slice(0, options.limit).map(toJobView);
    const last = items[items.length - 1];
    return {
      items,
      next: rows.length > options.limit && last ? { createdAt: last.createdAt, id: last.id } : null,
    };
  }

  async getDocument(
    tenantId: string,
    documentId: string,
  ): Promise<(DocumentView & { pages: PageView[] }) | null> {
    const d = await this.prisma.document.findFirst({
      where: { id: documentId, tenantId },
      include: {
        pages: {
          orderBy: { pageNumber: 'asc' },
          select: {
            pageNumber: true,
            text: true,
            method: true,
            ocrConfidence: true,
            label: true,
            sections: true,
          },
        },
      },
    });
    if (!d) return null;
    return {
      ...toDocumentView(d),
      pages: d.pages.map((p) => ({
        pageNumber: p.pageNumber,
        text: p.text,
        method: PageMethod.safeParse(p.method).data ?? 'parsed',
        ocrConfidence: p.ocrConfidence,
        label: p.label,
        sections: Array.isArray(p.sections) ? (p.sections as PageView['sections']) : [],
      })),
    };
  }

  /**
   * Changes a document's metadata and tags under its row lock: `change` gets what is stored and returns what is to
   * be (a merge patch applied, tags replaced), so two concurrent PATCHes each apply to the other's result.
   * Null when the tenant has no such document.
   */
  async updateDocumentLabels(
    tenantId: string,
    documentId: string,
    change: (current: { metadata: Record<string, unknown>; tags: string[] }) => {
      metadata: Record<string, unknown>;
      tags: string[];
    },
  ): Promise<DocumentView | null> {
    return this.prisma.$transaction(async (tx) => {
      const [row] = await tx.$queryRaw<{ metadata: unknown; tags: string[] }[]>`
        SELECT metadata, tags FROM documents WHERE id = ${documentId}::uuid AND tenant_id = ${tenantId}::uuid
        FOR UPDATE`;
      if (!row) return null;
      const next = change({ metadata: isRecord(row.metadata) ? row.metadata : {}, tags: row.tags });
      const d = await tx.document.update({
        where: { id: documentId },
        data: { metadata: next.metadata as Prisma.InputJsonValue, tags: next.tags },
      });
      return toDocumentView(d);
    });
  }

  /**
   * A new job retrying the failed documents of a terminal job (`failed` or `completed_with_failures`):
   * a copy of each failed document starting again at ingest, its outbox rows in the same transaction.
   * The earlier job does not change. With an idempotency key already used, returns that job.
   */
  async createRetryJob(sourceJobId: string, input: NewRetryJob): Promise<RetryJobResult> {
    try {
      return await inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
        const source = await tx.job.findFirst({
          where: { id: sourceJobId, tenantId: input.tenantId },
          select: { id: true, status: true, lane: true },
        });
        if (!source) return { kind: 'not_found' } as const;
        if (source.status !== 'failed' && source.status !== 'completed_with_failures') {
          return { kind: 'not_retryable', status: source.status } as const;
        }
        const failed = await tx.document.findMany({
          where: { jobId: source.id, tenantId: input.tenantId, status: 'failed' },
          orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        });
        if (failed.length === 0) return { kind: 'no_failed_documents', status: source.status } as const;
        const created = await insertRetryJob(
          tx,
          input,
          { jobId: source.id, lane: source.lane },
          failed.map((d) => ({ ...d, startAt: 'ingestDocument' as const })),
        );
        notes.rows(created.outbox);
        return { kind: 'created', ...created } as const;
      });
    } catch (error) {
      const existing = await existingJobForKey(this.prisma, error, input.tenantId, input.idempotencyKey);
      if (existing) return { kind: 'existing', job: existing, outbox: [] };
      throw error;
    }
  }

  async ping(): Promise<void> {
    await this.prisma.$queryRaw`SELECT 1`;
  }
}

/** The command a copied document starts with: the one that failed or was dead-lettered. */
export type RetryStart = 'ingestDocument' | 'indexDocument';

/** What the app decides for a retry job: ids, trace, and how its commands are addressed. */
export interface NewRetryJob {
  id: string;
  tenantId: string;
  idempotencyKey: string | null;
  traceparent: string;
  traceId: string | null;
  /** An id for each copied document (the app makes them, UUIDv7). */
  newDocumentId: () => string;
  /** The outbox row of a copy's first command; subjects and message ids are the app's to address. */
  command: (c: {
    name: RetryStart;
    jobId: string;
    tenantId: string;
    documentId: string;
    lane: Lane;
  }) => OutboxInsert;
}

export type RetryJobResult =
  | { kind: 'created' | 'existing'; job: JobView; outbox: OutboxRow[] }
  | { kind: 'not_found' }
  | { kind: 'not_retryable' | 'no_failed_documents'; status: JobStatus };

/** A document of the earlier job, as much of it as a copy needs. */
export interface RetrySourceDocument {
  id: string;
  filename: string;
  claimedContentType: string | null;
  /** Null for a URL document whose fetch failed: the copy fetches again. */
  sha256: string | null;
  sizeBytes: bigint | null;
  blobKey: string;
  detectedType: string | null;
  pageCount: number | null;
  source: string;
  sourceUrl: string | null;
  metadata: unknown;
  tags: string[];
  title: string | null;
  parentDocumentId: string | null;
  depth: number;
  lowConfidencePages: number[];
  extractionKey: string | null;
  startAt: RetryStart;
}

/**
 * Inside the caller's transaction: a queued ingest job in the earlier job's lane, pointing at it, with
 * a copy of each document (new id, same blob, sha256, name and size). A copy starting at index is
 * `extracted` with the original's pages copied, and counts as done in the ingest step.
 */
export async function insertRetryJob(
  tx: Tx,
  input: NewRetryJob,
  source: { jobId: string; lane: string },
  docs: RetrySourceDocument[],
): Promise<{ job: JobView; outbox: OutboxRow[] }> {
  const lane: Lane = source.lane === 'bulk' ? 'bulk' : 'interactive';
  const copies = docs.map((d) => ({ ...d, copyId: input.newDocumentId() }));
  const n = copies.length;
  const extracted = copies.filter((c) => c.startAt === 'indexDocument').length;
  const ingestDone = extracted === n;
  const now = new Date();
  const job = await tx.job.create({
    data: {
      id: input.id,
      tenantId: input.tenantId,
      type: 'ingest',
      lane,
      status: 'queued',
      retryOfJobId: source.jobId,
      progress: ingestDone
        ? { step: 'index', done: 0, total: n }
        : { step: 'ingest', done: extracted, total: n },
      traceparent: input.traceparent,
      traceId: input.traceId,
      idempotencyKey: input.idempotencyKey,
      steps: {
        create: [
          {
            tenantId: input.tenantId,
            name: 'ingest',
            total: n,
            done: extracted,
            ...(ingestDone ? { status: 'succeeded', startedAt: now, finishedAt: now } : {}),
          },
          { tenantId: input.tenantId, name: 'index', total: n },
        ],
      },
      documents: {
        create: copies.map((c) => ({
          id: c.copyId,
          tenantId: input.tenantId,
          filename: c.filename,
          claimedContentType: c.claimedContentType,
          sha256: c.sha256,
          sizeBytes: c.sizeBytes,
          // A copy of a URL document that never got its bytes gets a key of its own for them.
          blobKey: c.sha256 === null ? `${input.tenantId}/${c.copyId}` : c.blobKey,
          // A page a crawler could not deliver is fetched by its URL when retried.
          source: c.sha256 === null && c.sourceUrl !== null ? 'url' : c.source,
          sourceUrl: c.sourceUrl,
          metadata: c.metadata ?? {},
          tags: c.tags,
          title: c.title,
          parentDocumentId: c.parentDocumentId,
          depth: c.depth,
          ...(c.startAt === 'indexDocument'
            ? {
                status: 'extracted' as const,
                detectedType: c.detectedType,
                pageCount: c.pageCount,
                lowConfidencePages: c.lowConfidencePages,
                extractionKey: c.extractionKey,
              }
            : {}),
        })),
      },
    },
    include: jobInclude,
  });
  for (const c of copies.filter((x) => x.startAt === 'indexDocument')) {
    await tx.$executeRaw`
      INSERT INTO pages (tenant_id, document_id, page_number, text, char_count, method, ocr_confidence, label, sections)
      SELECT tenant_id, ${c.copyId}::uuid, page_number, text, char_count, method, ocr_confidence, label, sections
      FROM pages WHERE document_id = ${c.id}::uuid AND tenant_id = ${input.tenantId}::uuid`;
  }
  await appendJobEvent(tx, {
    jobId: job.id,
    tenantId: input.tenantId,
    kind: 'status',
    toStatus: 'queued',
    data: { documents: n, retryOf: source.jobId },
  });
  const outbox = await insertOutbox(
    tx,
    copies.map((c) =>
      input.command({ name: c.startAt, jobId: job.id, tenantId: input.tenantId, documentId: c.copyId, lane }),
    ),
  );
  return { job: toJobView(job), outbox };
}

/**
 * Inside the caller's transaction: the job (queued), its steps, its documents, a job event and the outbox rows
 * for their first commands.
 */
export async function insertIngestJob(
  tx: Tx,
  input: NewIngestJob,
): Promise<{ job: JobView; outbox: OutboxRow[] }> {
  // Documents decided at creation (a crawler's failed page) are in the job but in no step.
  const n = input.documents.filter((d) => !d.failed).length;
  const job = await tx.job.create({
    data: {
      id: input.id,
      tenantId: input.tenantId,
      type: 'ingest',
      lane: input.lane ?? 'interactive',
      status: 'queued',
      progress: { step: 'ingest', done: 0, total: n },
      traceparent: input.traceparent,
      traceId: input.traceId,
      idempotencyKey: input.idempotencyKey,
      acceptingDocuments: input.acceptingDocuments ?? false,
      crawlRef: input.crawlRef ?? null,
      steps: {
        create: [
          { tenantId: input.tenantId, name: 'ingest', total: n },
          { tenantId: input.tenantId, name: 'index', total: n },
        ],
      },
      documents: { create: input.documents.map((d) => newDocumentData(input.tenantId, d)) },
    },
    include: jobInclude,
  });
  await appendJobEvent(tx, {
    jobId: job.id,
    tenantId: input.tenantId,
    kind: 'status',
    toStatus: 'queued',
    data: { documents: n },
  });
  const outbox = await insertOutbox(tx, input.outbox);
  return { job: toJobView(job), outbox };
}

/** The row of a new document (Prisma create input), from what the gateway or a crawler delivery knows. */
export function newDocumentData(tenantId: string, d: NewIngestJob['documents'][number]) {
  return {
    id: d.id,
    tenantId,
    filename: d.filename,
    claimedContentType: d.claimedContentType,
    sha256: d.sha256,
    sizeBytes: d.sizeBytes === null ? null : BigInt(d.sizeBytes),
    blobKey: d.blobKey,
    source: d.source ?? 'upload',
    sourceUrl: d.sourceUrl ?? null,
    httpStatus: d.httpStatus ?? null,
    metadata: (d.metadata ?? {}) as Prisma.InputJsonValue,
    tags: d.tags ?? [],
    title: d.title ?? null,
    ...(d.failed ? { status: 'failed' as const, error: d.failed as unknown as Prisma.InputJsonValue } : {}),
  };
}

/** After a unique violation on (tenant, idempotency key): the job that already holds the key. */
export async function existingJobForKey(
  prisma: PrismaClient,
  error: unknown,
  tenantId: string,
  idempotencyKey: string | null,
): Promise<JobView | null> {
  if (!idempotencyKey || !(error instanceof Prisma.PrismaClientKnownRequestError) || error.code !== 'P2002') {
    return null;
  }
  const existing = await prisma.job.findFirst({ where: { tenantId, idempotencyKey }, include: jobInclude });
  return existing ? toJobView(existing) : null;
}

/** The view of a job just written by `createIngestJob`, from what was written: no read back. */
function newJobView(input: NewIngestJob, total: number, createdAt: Date, documentsCreatedAt: Date): JobView {
  return {
    id: input.id,
    tenantId: input.tenantId,
    type: 'ingest',
    lane: input.lane ?? 'interactive',
    status: 'queued',
    progress: { step: 'ingest', done: 0, total },
    attempts: 0,
    error: null,
    traceId: input.traceId,
    idempotencyKey: input.idempotencyKey,
    createdAt,
    startedAt: null,
    finishedAt: null,
    retryOfJobId: null,
    acceptingDocuments: input.acceptingDocuments ?? false,
    input: input.options ?? null,
    result: null,
    documents: input.documents.map((d) => ({
      id: d.id,
      jobId: input.id,
      filename: d.filename,
      status: d.failed ? 'failed' : 'queued',
      error: d.failed ?? null,
      sha256: d.sha256,
      sizeBytes: d.sizeBytes,
      detectedType: null,
      pageCount: null,
      chunkCount: null,
      source: d.source ?? 'upload',
      sourceUrl: d.sourceUrl ?? null,
      finalUrl: null,
      httpStatus: d.httpStatus ?? null,
      metadata: d.metadata ?? {},
      tags: d.tags ?? [],
      language: null,
      labels: null,
      title: d.title ?? null,
      parentDocumentId: null,
      depth: 0,
      lowConfidencePages: [],
      createdAt: documentsCreatedAt,
    })),
  };
}

export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

export class TenantsRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Makes sure the tenant exists and holds this key (stored hashed) with every scope: the bootstrap key and
   * `ops api-key <tenant> <key>` (scripts rely on both). Safe to run on every boot.
   */
  async ensureTenantWithKey(name: string, apiKey: string): Promise<{ tenantId: string }> {
    const tenant = await this.prisma.tenant.upsert({ where: { name }, create: { name }, update: {} });
    const keyHash = hashApiKey(apiKey);
    await this.prisma.apiKey.upsert({
      where: { keyHash },
      create: {
        tenantId: tenant.id,
        name: 'bootstrap',
        keyHash,
        prefix: apiKey.slice(0, 6),
        scopes: [...ALL_API_KEY_SCOPES],
      },
      update: {},
    });
    return { tenantId: tenant.id };
  }

  /** A new tenant; null when the name is taken. */
  async create(name: string): Promise<{ tenantId: string } | null> {
    const rows = await this.prisma.$queryRaw<{ id: string }[]>`
      INSERT INTO tenants (name) VALUES (${name}) ON CONFLICT (name) DO NOTHING RETURNING id`;
    return rows[0] ? { tenantId: rows[0].id } : null;
  }

  async findByName(name: string): Promise<{ tenantId: string } | null> {
    const tenant = await this.prisma.tenant.findUnique({ where: { name }, select: { id: true } });
    return tenant ? { tenantId: tenant.id } : null;
  }
}
