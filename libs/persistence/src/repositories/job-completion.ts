import type { ErrorInfo, Topology } from '@quarry/contracts';
import {
  finalJobError,
  jobEnding,
  jobVerdict,
  type DocumentTally,
  type JobEnding,
} from '../domain/job-rules';
import { insertedOutboxRows, outboxInsertCte, outboxRowsOf, sql, type Tx } from './sql';
import type { ClaimedJob, DocumentWork, FinishedJob, OutboxRow } from './types';

/** A job's row and its documents' tally, as `tallyJobs` reads them. */
export interface JobTallyRow extends DocumentTally {
  id: string;
  accepting: boolean;
  status: string;
  tenant_id: string;
  type: string;
  trace_id: string | null;
  traceparent: string | null;
  first_error_code: string | null;
}

/**
 * What ending a job wrote, for its repository to return and to hand to the after-commit port once committed: the
 * outbox row of its final event, and the job as it ended.
 */
export interface JobEnd {
  outbox: OutboxRow[];
  finishedJob: FinishedJob;
}

/**
 * Runs with the job row locked: when the job can finish (see jobVerdict), it takes its final status
 * (conditional on being active, so it happens once) and its event goes into the outbox. `closing` carries the
 * error of a crawl the crawler reported failed, which the job reports when it has no document of its own.
 * Undefined when the job did not end.
 */
export async function finishJobIfDone(
  tx: Tx,
  topology: Topology,
  jobId: string,
  closing?: { error?: ErrorInfo },
): Promise<JobEnd | undefined> {
  return (await finishJobsIfDone(tx, topology, [jobId], closing)).get(jobId);
}

/**
 * `finishJobIfDone` for several jobs, all locked by the caller, in two statements: the tally (a statement of its
 * own, so it sees every document committed before the locks were taken), then, for the jobs that end, one that
 * ends them, records their events, closes their steps and writes their outbox rows. Returns the ending of each
 * job that ended.
 */
export async function finishJobsIfDone(
  tx: Tx,
  topology: Topology,
  jobIds: readonly string[],
  closing?: { error?: ErrorInfo },
): Promise<Map<string, JobEnd>> {
  return endJobsIfDone(tx, topology, await tallyJobs(tx, jobIds), closing);
}

/**
 * How each job's documents stand, read by a statement of its own. Under the job locks it is the tally
 * `finishJobsIfDone` decides on; without them (see IndexingRepository) it is read after the caller's commit, when a
 * tally showing every document terminal is final: documents never reopen, and a job that still accepts documents
 * does not end.
 */
export async function tallyJobs(tx: Tx, jobIds: readonly string[]): Promise<JobTallyRow[]> {
  if (jobIds.length === 0) return [];
  return tx.$queryRaw<JobTallyRow[]>`
    SELECT j.id, count(d.id) FILTER (WHERE d.status NOT IN ('indexed', 'failed', 'cancelled'))::int AS open,
           count(d.id) FILTER (WHERE d.status = 'indexed')::int AS ok,
           count(d.id) FILTER (WHERE d.status = 'failed')::int AS failed,
           count(d.id)::int AS total,
           j.accepting_documents AS accepting, j.status::text AS status, j.tenant_id, j.type, j.trace_id,
           j.traceparent,
           (SELECT f.error->>'code' FROM documents f WHERE f.job_id = j.id AND f.status = 'failed'
            ORDER BY f.updated_at LIMIT 1) AS first_error_code
    FROM jobs j LEFT JOIN documents d ON d.job_id = j.id
    WHERE j.id = ANY(${[...jobIds]}::uuid[])
    GROUP BY j.id`;
}

/**
 * Ends the jobs whose tally has a verdict (see jobVerdict) in one statement, conditional on each job still being
 * active, so of two callers ending the same job only one writes its ending and its event.
 */
export async function endJobsIfDone(
  tx: Tx,
  topology: Topology,
  tallies: readonly JobTallyRow[],
  closing?: { error?: ErrorInfo },
): Promise<Map<string, JobEnd>> {
  const endings = tallies.flatMap((tally) => {
    if (tally.status !== 'queued' && tally.status !== 'running') return [];
    const verdict = jobVerdict(tally, tally.accepting);
    return verdict ? [jobEnding(topology, tally, verdict, finalJobError(verdict, tally, closing))] : [];
  });
  if (endings.length === 0) return new Map();
  // The tallied status is the one each update replaces (a job whose documents were all dead-lettered before any
  // claim goes queued → failed, not running → failed): with every document terminal no claim can move the job,
  // and a cancel in between leaves it inactive, so the update does nothing.
  // Failed documents never count as done in a step: the steps close with the job, none stays running.
  const [done] = await tx.$queryRaw<
    {
      jobs: { id: string; created_at: string; finished_at: string }[];
      outbox: { id: string; msg_id: string }[];
    }[]
  >`
    WITH f AS (
      SELECT * FROM unnest(${endings.map((e) => e.jobId)}::uuid[], ${endings.map((e) => e.status)}::text[],
                           ${endings.map((e) => e.fromStatus)}::text[],
                           ${endings.map((e) => (e.error ? JSON.stringify(e.error) : null))}::text[],
                           ${endings.map((e) => JSON.stringify(e.progress))}::text[])
        AS f(job_id, final, from_status, error, progress)),
    done AS (
      UPDATE jobs SET status = f.final::job_status, finished_at = now(), updated_at = now(), heartbeat_at = now(),
             error = f.error::jsonb, progress = f.progress::jsonb
      FROM f WHERE jobs.id = f.job_id AND jobs.status IN ('queued', 'running')
      RETURNING jobs.id, jobs.tenant_id, jobs.created_at, jobs.finished_at, f.final, f.from_status),
    event AS (
      INSERT INTO job_events (job_id, tenant_id, kind, from_status, to_status, data)
      SELECT done.id, done.tenant_id, 'status', done.from_status, done.final, '{}'::jsonb FROM done),
    steps AS (
      UPDATE job_steps s SET finished_at = coalesce(s.finished_at, now()),
             status = CASE WHEN s.done >= s.total THEN 'succeeded' WHEN s.done = 0 THEN 'failed'
                           ELSE 'completed_with_failures' END
      FROM done WHERE s.job_id = done.id AND s.status IN ('queued', 'running')),
    ${outboxInsertCte(
      endings.map((e) => e.outbox),
      sql`done`,
      endings.map((e) => e.jobId),
    )}
    SELECT coalesce((SELECT json_agg(json_build_object('id', id, 'created_at', created_at, 'finished_at', finished_at))
                     FROM done), '[]'::json) AS jobs,
           ${insertedOutboxRows}
             AS outbox`;
  return jobEnds(endings, done?.jobs ?? [], done?.outbox ?? []);
}

/**
 * What a statement that ended jobs wrote, per job it ended: `ended` are the jobs its conditional update moved (the
 * others were ended by someone else), `inserted` the outbox rows it inserted.
 */
export function jobEnds(
  endings: readonly JobEnding[],
  ended: readonly { id: string; created_at: string; finished_at: string }[],
  inserted: readonly { id: string; msg_id: string }[],
): Map<string, JobEnd> {
  const byId = new Map(ended.map((j) => [j.id, j]));
  const result = new Map<string, JobEnd>();
  for (const e of endings) {
    const job = byId.get(e.jobId);
    if (!job) continue;
    result.set(e.jobId, {
      outbox: outboxRowsOf([e.outbox], inserted),
      finishedJob: {
        jobId: e.jobId,
        type: e.type,
        status: e.status,
        createdAt: new Date(job.created_at),
        finishedAt: new Date(job.finished_at),
      },
    });
  }
  return result;
}

/**
 * The ending a job would have if the document being completed turned out to be its last and every one of the
 * `stepTotal` documents its claim counted were indexed: decided by the job rules now, applied by the completion's
 * statement only if what it finds under the lock bears that out (ADR 26).
 */
export function endingIfAllIndexed(
  topology: Topology,
  work: DocumentWork,
  job: ClaimedJob,
): JobEnding | undefined {
  // A step that counted no document has nothing to complete: whatever ends such a job, it is not this.
  if (job.stepTotal < 1) return undefined;
  const tally = { open: 0, ok: job.stepTotal, failed: 0, total: job.stepTotal };
  const verdict = jobVerdict(tally, false);
  if (!verdict) return undefined;
  return jobEnding(
    topology,
    {
      ...tally,
      id: work.jobId,
      tenant_id: work.tenantId,
      type: job.type,
      status: 'running',
      trace_id: job.traceId,
      traceparent: work.traceparent,
    },
    verdict,
    finalJobError(verdict, { total: tally.total, first_error_code: null }),
  );
}
