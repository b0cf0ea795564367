import type { PrismaClient } from '../generated/prisma/client';
import type { Tx } from './sql';
import type { FinishedJob, OutboxRow } from './types';

/** What one commit wrote that the world must hear of: its outbox rows, and the jobs it ended. */
export interface Committed {
  outbox: readonly OutboxRow[];
  finishedJobs: readonly FinishedJob[];
}

/**
 * The port every repository that writes outbox rows or can end a job calls right after its commit, before it
 * returns to its caller (who then acknowledges its message): commit → publish → ack. @quarry/messaging's
 * OutboxRelay implements it (publishes the rows on the fast path, counts the finished jobs); rows of a process
 * that dies before the call are left to the relay's sweep. Wired once, by `PersistenceModule.forRoot`.
 */
export interface AfterCommit {
  /** Called by repositories after every commit that wrote outbox rows or ended a job. Must never reject. */
  committed(what: Committed): Promise<void>;
}

export const AFTER_COMMIT = Symbol('AFTER_COMMIT');

/** Hands what a commit wrote to the port; a commit that wrote nothing to tell is not reported. */
export function tellCommitted(
  port: AfterCommit,
  outbox: readonly OutboxRow[],
  finishedJobs: readonly FinishedJob[] = [],
): Promise<void> {
  if (outbox.length === 0 && finishedJobs.length === 0) return Promise.resolve();
  return port.committed({ outbox, finishedJobs });
}

/**
 * What a transaction wrote for the port, noted while it runs and told only once it has committed (a transaction
 * that rolls back takes its notes with it). Each note returns what it was given, so a write reads as before.
 */
export class CommitNotes {
  readonly outbox: OutboxRow[] = [];
  readonly finishedJobs: FinishedJob[] = [];

  /** Outbox rows the transaction wrote. */
  rows(rows: OutboxRow[]): OutboxRow[] {
    this.outbox.push(...rows);
    return rows;
  }

  /** A job's ending (see finishJobIfDone), when it ended: its final event's rows, and the job. */
  ended(end: { outbox: OutboxRow[]; finishedJob: FinishedJob } | undefined): OutboxRow[] {
    if (!end) return [];
    this.finishedJobs.push(end.finishedJob);
    return this.rows(end.outbox);
  }
}

/**
 * Runs `work` in one interactive transaction and, after its commit and before returning its result, hands what it
 * noted to the port.
 */
export async function inTransaction<T>(
  prisma: PrismaClient,
  port: AfterCommit,
  work: (tx: Tx, notes: CommitNotes) => Promise<T>,
): Promise<T> {
  const notes = new CommitNotes();
  const result = await prisma.$transaction((tx) => work(tx, notes));
  await tellCommitted(port, notes.outbox, notes.finishedJobs);
  return result;
}
