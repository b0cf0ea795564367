// The rules that say how a job that has not ended stands (ADR 33): whether it waits and why, whether it is stuck and
// why, how long it has left, and what a step past its deadline fails with. Pure functions of what the repositories
// read and what JetStream reports, so they are unit-tested without a database or a server.
import { isTerminalJobStatus } from '@quarry/contracts';
import type {
  CommandName,
  DocumentStatus,
  ErrorInfo,
  JobStatus,
  JobStepName,
  JobType,
} from '@quarry/contracts';

/** Queued or running: every status that is not terminal. */
export const isActiveJob = (status: JobStatus): boolean => !isTerminalJobStatus(status);

/**
 * Why a job that has work waiting for a worker is not being worked on:
 * - `no_worker`: nothing consumes its commands (no worker pulls from the consumer and none holds a message of it);
 * - `tenant_capacity`: workers run as much of the tenant's work as per-tenant fairness lets them;
 * - `queue`: workers are busy with the work ahead of it.
 */
export type WaitingReason = 'no_worker' | 'tenant_capacity' | 'queue';

/** What JetStream says of a durable consumer. */
export interface ConsumerActivity {
  /** Pull requests waiting for messages: an idle worker always has one. */
  pullsWaiting: number;
  /** Its last delivery or acknowledgement; null when it never had one. */
  lastActiveAt: Date | null;
}

/** Some of a job's commands waiting on one consumer for a worker to take them. */
export interface WaitingCommands {
  command: CommandName;
  /** How many of the job's commands wait there. */
  count: number;
  /** When the longest-waiting of them began to wait. */
  since: Date;
  /**
   * The consumer as JetStream reports it; a consumer that does not exist is reported as never active
   * (`{pullsWaiting: 0, lastActiveAt: null}`); null when JetStream could not be asked.
   */
  consumer: ConsumerActivity | null;
  /**
   * The latest heartbeat of a job with work in progress on this consumer (a document extracting or indexing, a
   * running analysis): a worker busy on long work pulls and acknowledges nothing, but reports progress. Null: none
   * recent; undefined: not asked (see consumerLooksIdle).
   */
  workerSeenAt?: Date | null | undefined;
}

export interface WaitingInput {
  status: JobStatus;
  waiting: readonly WaitingCommands[];
  /**
   * Whether per-tenant fairness keeps the tenant's next work back because the tenant already runs its share in this
   * lane; undefined while nothing reports it.
   */
  tenantAtCapacity?: boolean | undefined;
  /** How long a consumer must show no sign of a worker before its waiting commands' job says `no_worker`. */
  noWorkerAfterMs: number;
  now: Date;
}

const olderThan = (at: Date | null | undefined, now: Date, ms: number) =>
  at === null || at === undefined || now.getTime() - at.getTime() >= ms;

/**
 * Whether JetStream shows no worker on the consumer: no pull request waiting, and no delivery or acknowledgement for
 * `noWorkerAfterMs`. Unknown (null) is not idle. An idle-looking consumer may still have a worker busy on long work,
 * which only the database sees (`workerSeenAt`): the caller asks it for these consumers only.
 */
export function consumerLooksIdle(w: WaitingCommands, now: Date, noWorkerAfterMs: number): boolean {
  return (
    w.consumer !== null &&
    w.consumer.pullsWaiting === 0 &&
    olderThan(w.consumer.lastActiveAt, now, noWorkerAfterMs)
  );
}

/**
 * Why the job waits, or null when it does not (it has ended, or every open part of it is with a worker). Nobody
 * consuming wins over the rest: neither fairness nor the queue ahead matter to a command no worker will ever take.
 * Nobody consumes a command that has waited `noWorkerAfterMs` on a consumer that looks idle (see consumerLooksIdle)
 * while no job with work in progress there reported progress for as long. So a worker between two pulls, one busy
 * with other messages, and one on a long document are never mistaken for none; messages left out by workers that
 * died (JetStream keeps them out until a pull comes) do not hide that none is left. Unknown consumers (JetStream
 * away) never make `no_worker`.
 */
export function jobWaiting(input: WaitingInput): WaitingReason | null {
  if (!isActiveJob(input.status)) return null;
  const waits = input.waiting.filter((w) => w.count > 0);
  if (waits.length === 0) return null;
  const { now, noWorkerAfterMs } = input;
  const nobodyConsumes = (w: WaitingCommands) =>
    consumerLooksIdle(w, now, noWorkerAfterMs) &&
    olderThan(w.workerSeenAt, now, noWorkerAfterMs) &&
    now.getTime() - w.since.getTime() >= noWorkerAfterMs;
  if (waits.some(nobodyConsumes)) return 'no_worker';
  if (input.tenantAtCapacity === true) return 'tenant_capacity';
  return 'queue';
}

/**
 * Why an active job has shown no sign of life (heartbeat, progress, a claim) for a while:
 * - `no_worker`, `tenant_capacity`, `queued`: its commands wait (see WaitingReason);
 * - `worker_silent`: a worker took its work and says nothing: it died (JetStream redelivers after ACK_WAIT_MS) or it
 *   hangs (the sweeper fails the step at its deadline);
 * - `no_open_documents`: nothing of it is open, yet it has not ended (the sweeper ends it);
 * - `waiting_for_crawler`: a crawl's job with every page done so far, open for the crawler's next delivery.
 */
export type StuckReason =
  'no_worker' | 'tenant_capacity' | 'queued' | 'worker_silent' | 'no_open_documents' | 'waiting_for_crawler';

export interface StuckInput {
  status: JobStatus;
  /** Jobs with documents (ingest) can be active with none open; the others are their one command. */
  hasDocuments: boolean;
  acceptingDocuments: boolean;
  /** Its documents not yet in a final status (0 for a job without documents). */
  openDocuments: number;
  /** Its parts a worker has claimed and not finished: documents extracting or indexing, a running analysis. */
  inProgress: number;
  waiting: WaitingReason | null;
  /** Its last sign of life. */
  since: Date;
  stuckAfterMs: number;
  now: Date;
}

/** The reason an active job counts as stuck, or null when it ended or showed a sign of life within `stuckAfterMs`. */
export function stuckReason(input: StuckInput): StuckReason | null {
  if (!isActiveJob(input.status)) return null;
  if (input.now.getTime() - input.since.getTime() < input.stuckAfterMs) return null;
  if (input.hasDocuments && input.openDocuments === 0) {
    return input.acceptingDocuments ? 'waiting_for_crawler' : 'no_open_documents';
  }
  if (input.waiting === 'no_worker') return 'no_worker';
  if (input.inProgress > 0) return 'worker_silent';
  if (input.waiting === 'tenant_capacity') return 'tenant_capacity';
  if (input.waiting === 'queue') return 'queued';
  return 'worker_silent';
}

/** The job types whose commands share one queue (consumer) with this type's: what can be ahead of a job. */
export function sameQueueTypes(type: string): JobType[] {
  return type === 'ingest' ? ['ingest'] : ['analyze', 'reindex'];
}

/** Items of each step still to run before a job (and the jobs ahead of it) can end. */
export type StepWork = Partial<Record<JobStepName, number>>;

/**
 * The steps an active job's open parts still have to go through: a document queued or extracting still needs its
 * ingest and its index step, one extracted or indexing only its index step; a job without documents is one
 * analyze step.
 */
export function remainingWork(
  job: { type: string },
  openDocuments: Partial<Record<DocumentStatus, number>>,
  activeJobsWithoutDocuments = 0,
): StepWork {
  if (job.type !== 'ingest') return { analyze: activeJobsWithoutDocuments };
  const toExtract = (openDocuments.queued ?? 0) + (openDocuments.extracting ?? 0);
  const toIndex = toExtract + (openDocuments.extracted ?? 0) + (openDocuments.indexing ?? 0);
  return { ingest: toExtract, index: toIndex };
}

/** The median of a sample; null for an empty one. */
export function median(values: readonly number[]): number | null {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Seconds until the work is done at the measured rates (seconds per item of each step), rounded up; null when a step
 * that still has work has no measurement: an estimate without one would be a guess.
 */
export function estimateEta(
  work: StepWork,
  secondsPerItem: Partial<Record<JobStepName, number | null>>,
): number | null {
  let seconds = 0;
  for (const [step, items] of Object.entries(work) as [JobStepName, number | undefined][]) {
    if (!items) continue;
    const rate = secondsPerItem[step];
    if (rate === null || rate === undefined) return null;
    seconds += items * rate;
  }
  return Math.ceil(seconds);
}

/** The error a step that ran past its deadline fails with. */
export function deadlineExceeded(step: JobStepName, deadlineMs: number): ErrorInfo {
  return {
    code: 'deadline_exceeded',
    message: `the ${step} step ran longer than its deadline of ${formatDuration(deadlineMs)}`,
    retryable: false,
  };
}

/** 1500 → "1.5 s", 1_800_000 → "30 min", 21_600_000 → "6 h". */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))} s`;
  if (ms < 3_600_000) return `${Number((ms / 60_000).toFixed(1))} min`;
  return `${Number((ms / 3_600_000).toFixed(1))} h`;
}
