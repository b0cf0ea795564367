import type { AfterCommit, Committed } from '../after-commit';
import type { FinishedJob, OutboxRow } from '../types';

/** An after-commit port that records what each commit handed it, in order, and publishes nothing. */
export class RecordingAfterCommit implements AfterCommit {
  readonly commits: Committed[] = [];

  committed(what: Committed): Promise<void> {
    this.commits.push(what);
    return Promise.resolve();
  }

  /** Every row handed over so far. */
  get outbox(): OutboxRow[] {
    return this.commits.flatMap((c) => c.outbox);
  }

  /** Every finished job handed over so far. */
  get finishedJobs(): FinishedJob[] {
    return this.commits.flatMap((c) => c.finishedJobs);
  }

  /** Forgets what was recorded (between tests sharing one repository). */
  clear(): void {
    this.commits.length = 0;
  }
}
