import { DocumentSource, UploadClassification } from '@quarry/contracts';
import type { Prisma, PrismaClient } from '../generated/prisma/client';
import { sql, type Tx } from './sql';
import type { Claim, DocumentWork, PageInput } from './types';

// What the step repositories share: the claim of a document for a step, the job lock every transition that may
// end a job takes, the step counter, page storage and the vector literal.

export interface ClaimRequest {
  tenantId: string;
  documentId: string;
}

/** A claim's outcome, and the job of the document it asked for (null when the tenant has no such document). */
export interface ClaimAnswer {
  claim: Claim<DocumentWork>;
  jobId: string | null;
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
  job_type: string | null;
  job_trace_id: string | null;
  step_total: number | null;
  job_classify: unknown;
}

function classifyOf(d: ClaimRow): { classify?: UploadClassification } {
  if (d.job_classify === null || d.job_classify === undefined) return {};
  const parsed = UploadClassification.safeParse(d.job_classify);
  return parsed.success ? { classify: parsed.data } : {};
}

function toWork(d: ClaimRow & { id: string }): DocumentWork {
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
    ...(d.job_type !== null && d.step_total !== null
      ? { job: { type: d.job_type, traceId: d.job_trace_id, stepTotal: d.step_total, ...classifyOf(d) } }
      : {}),
  };
}

/**
 * One statement: locks the documents' job rows in id order (the order every transition takes locks in, so a
 * redelivered claim racing the first delivery's completion waits on one lock instead of deadlocking with it),
 * moves each document that is in an expected status and whose job is active, marks those jobs and steps
 * running and records each job's queued → running event. The UPDATEs re-check their rows after the locks
 * (READ COMMITTED re-evaluates a row another transaction changed), so each claim ends as it would alone.
 */
export async function claimDocuments(
  prisma: PrismaClient,
  requests: readonly ClaimRequest[],
  from: readonly string[],
  to: 'extracting' | 'indexing',
): Promise<ClaimAnswer[]> {
  const step = to === 'extracting' ? 'ingest' : 'index';
  const rows = await prisma.$queryRaw<(ClaimRow & { request: number; target_job_id: string | null })[]>`
    WITH x AS (
      SELECT * FROM unnest(${requests.map((r) => r.documentId)}::uuid[], ${requests.map((r) => r.tenantId)}::uuid[])
        WITH ORDINALITY AS x(document_id, tenant_id, i)),
    -- Only the documents each request's tenant owns: another tenant's id finds nothing.
    target AS (
      SELECT x.i, x.document_id, d.job_id FROM x JOIN documents d ON d.id = x.document_id AND d.tenant_id = x.tenant_id),
    j AS (
      SELECT j.id, j.status::text AS status, j.traceparent, j.type, j.trace_id, j.input FROM jobs j
      WHERE j.id IN (SELECT job_id FROM target)
      ORDER BY j.id
      FOR UPDATE),
    doc AS (
      UPDATE documents d
      SET attempts = CASE WHEN d.status::text = ${to} THEN d.attempts + 1 ELSE 1 END,
          -- The step's deadline counts from its first claim: a redelivery keeps it (ADR 33).
          step_started_at = CASE WHEN d.status::text = ${to} THEN coalesce(d.step_started_at, now()) ELSE now() END,
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
    SELECT x.i::int AS request, j.status AS job_status, j.traceparent, target.job_id AS target_job_id, doc.id,
           doc.tenant_id,
           doc.job_id, doc.filename, doc.blob_key, doc.sha256, doc.source, doc.source_url,
           doc.claimed_content_type, doc.depth, j.type AS job_type, j.trace_id AS job_trace_id,
           j.input -> 'classify' AS job_classify,
           (SELECT s.total FROM job_steps s WHERE s.job_id = j.id AND s.name = ${step}) AS step_total
    FROM x LEFT JOIN target ON target.i = x.i
           LEFT JOIN j ON j.id = target.job_id
           LEFT JOIN doc ON doc.id = target.document_id`;
  const byRequest = new Map(rows.map((r) => [r.request, r]));
  return requests.map((_, i) => {
    const row = byRequest.get(i + 1);
    return { claim: claimOutcome(row), jobId: row?.target_job_id ?? null };
  });
}

function claimOutcome(row: ClaimRow | undefined): Claim<DocumentWork> {
  if (!row?.job_status) return { claimed: false, reason: 'not_found' };
  if (row.job_status !== 'queued' && row.job_status !== 'running') {
    return { claimed: false, reason: 'job_finished' };
  }
  if (row.id === null) return { claimed: false, reason: 'already_done' };
  return { claimed: true, work: toWork({ ...row, id: row.id }) };
}

/** Locks the job row so concurrent last documents serialise; false when the job is already terminal. */
export async function lockActiveJob(tx: Tx, jobId: string): Promise<boolean> {
  const rows = await tx.$queryRaw<
    { status: string }[]
  >`SELECT status::text FROM jobs WHERE id = ${jobId}::uuid FOR UPDATE`;
  return rows[0]?.status === 'queued' || rows[0]?.status === 'running';
}

/** Counts one document done in its job's step (see stepDoneCte), inside the caller's transaction. */
export async function stepDone(tx: Tx, work: DocumentWork, step: 'ingest' | 'index'): Promise<void> {
  await tx.$executeRaw`
    WITH doc AS (SELECT ${work.documentId}::uuid AS id, ${work.jobId}::uuid AS job_id),
    ${stepDoneCte(step)}
    SELECT 1`;
}

export function toVectorLiteral(v: Float32Array | number[]): string {
  let s = '[';
  for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + (Number.isFinite(v[i]) ? String(v[i]) : '0');
  return `${s}]`;
}

/** Stores a document's pages, with how each page's text was obtained. */
export async function insertPages(tx: Tx, work: DocumentWork, pages: readonly PageInput[]): Promise<void> {
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
export function stepDoneCte(step: 'ingest' | 'index'): Prisma.Sql {
  return sql`${stepCountCte(step)},
    progress AS (
      UPDATE jobs SET progress = jsonb_build_object('step', ${step}::text, 'done', step.done, 'total', step.total),
             heartbeat_at = now(), updated_at = now()
      FROM step WHERE jobs.id = step.job_id)`;
}

/**
 * The CTE `step` of a one-statement transition: each job's step counts the documents the CTE `doc` moved as done
 * (and succeeds when it has them all), returning the counts after this update.
 */
export function stepCountCte(step: 'ingest' | 'index'): Prisma.Sql {
  return sql`step AS (
      UPDATE job_steps s SET done = s.done + n.moved,
             status = CASE WHEN s.done + n.moved >= s.total THEN 'succeeded' ELSE s.status END,
             finished_at = CASE WHEN s.done + n.moved >= s.total THEN now() ELSE s.finished_at END
      FROM (SELECT job_id, count(*)::int AS moved FROM doc GROUP BY job_id) n
      WHERE s.job_id = n.job_id AND s.name = ${step}
      RETURNING s.job_id, s.done, s.total)`;
}
