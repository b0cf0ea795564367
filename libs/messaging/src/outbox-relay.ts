import type { JobFinishedSample, Logger, QuarryMetrics } from '@quarry/telemetry';
import type { MessagePublisher } from './publisher';

export interface OutboxRecord {
  id: string;
  subject: string;
  msgId: string;
  payload: unknown;
  headers: Record<string, string>;
}

/** Port implemented by the persistence layer; rows are written in the same transaction as state. */
export interface OutboxStore {
  /** Unsent rows older than `olderThanMs`, oldest first. */
  pending(limit: number, olderThanMs: number): Promise<OutboxRecord[]>;
  /** `seqs[i]` is the stream sequence JetStream stored `ids[i]` at (the original's, for a duplicate). */
  markSent(ids: string[], seqs?: number[]): Promise<void>;
  markFailed(id: string, error: string): Promise<void>;
}

/**
 * What one commit wrote: the persistence layer's `Committed` (its `AfterCommit` port, which the relay implements
 * structurally; messaging cannot import persistence, nor persistence messaging).
 */
export interface CommittedWrites {
  outbox: readonly OutboxRecord[];
  /** Jobs the commit ended, counted (finished total, duration) by the process that ended them. */
  finishedJobs: readonly JobFinishedSample[];
}

/**
 * Publishes outbox rows. The repositories hand it what each commit wrote (`committed`, their after-commit
 * port) before returning to their callers: the fast path. The periodic sweep publishes whatever a crash
 * left behind. A row published twice is harmless: its deterministic Nats-Msg-Id makes JetStream drop the
 * second copy.
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;

  constructor(
    private readonly store: OutboxStore,
    private readonly publisher: MessagePublisher,
    private readonly logger: Logger,
    private readonly options: {
      intervalMs: number;
      graceMs: number;
      batchSize?: number;
      /** Rows published are counted by path (fast, sweep), and finished jobs, when given. */
      metrics?: Pick<QuarryMetrics, 'counter' | 'jobFinished'>;
    },
  ) {}

  /**
   * The after-commit port: publishes the rows a commit wrote and counts the jobs it ended. Never rejects: the
   * state is committed, so a failure here only delays a message until the sweep.
   */
  async committed(what: CommittedWrites): Promise<void> {
    try {
      await this.publish(what.outbox, 'fast');
      for (const job of what.finishedJobs) this.options.metrics?.jobFinished(job);
    } catch (error) {
      this.logger.warn(
        { err: error, rows: what.outbox.length },
        'after-commit publish failed; relay will retry',
      );
    }
  }

  private async publish(records: readonly OutboxRecord[], path: 'fast' | 'sweep'): Promise<void> {
    // Pipelined: every publish is on the wire before the first acknowledgement comes back, in row order.
    const results = await Promise.allSettled(
      records.map((r) =>
        this.publisher.publish(r.subject, r.payload, {
          msgId: r.msgId,
          traceparent: r.headers['traceparent'],
          headers: r.headers,
        }),
      ),
    );
    const sent: { id: string; seq: number }[] = [];
    for (const [i, result] of results.entries()) {
      const r = records[i] as OutboxRecord;
      if (result.status === 'fulfilled') {
        sent.push({ id: r.id, seq: result.value.seq });
        continue;
      }
      // Left unsent: the sweep retries it after the grace period.
      this.logger.warn(
        { err: result.reason, subject: r.subject, msgId: r.msgId },
        'outbox publish failed; relay will retry',
      );
      await this.store
        .markFailed(r.id, String(result.reason))
        .catch((e: unknown) => this.logger.warn({ err: e }, 'could not record outbox failure'));
    }
    if (sent.length === 0) return;
    this.options.metrics?.counter('quarry_outbox_published_total').inc({ path }, sent.length);
    const marking = this.store
      .markSent(
        sent.map((s) => s.id),
        sent.map((s) => s.seq),
      )
      .catch((error: unknown) => {
        // The messages are out; the rows will be published again by the sweep and dropped as duplicates.
        this.logger.warn({ err: error, rows: sent.length }, 'could not mark outbox rows sent');
      });
    // After a commit the caller waits for the messages to be out, not for their rows to be marked: the mark is
    // bookkeeping for the sweep (which waits out a grace period first), and it is coalesced with the marks of
    // other commits (OutboxRepository.markSent). stop() waits for marks still running.
    if (path === 'sweep') return marking;
    this.marking.add(marking);
    void marking.finally(() => this.marking.delete(marking));
  }

  /** Marks of rows published after a commit that have not finished yet. */
  private readonly marking = new Set<Promise<void>>();

  /** Resolves once the rows published so far are marked sent (or their marking failed and was logged). */
  async settled(): Promise<void> {
    while (this.marking.size > 0) await Promise.all([...this.marking]);
  }

  /** Nest calls this before the database pool and NATS close (onApplicationShutdown), in every app. */
  beforeApplicationShutdown(): Promise<void> {
    return this.settled();
  }

  /** One pass over rows left behind; returns how many were published. */
  sweep(): Promise<number> {
    this.sweeping ??= (async () => {
      let total = 0;
      try {
        for (;;) {
          const rows = await this.store.pending(this.options.batchSize ?? 100, this.options.graceMs);
          if (rows.length === 0) break;
          await this.publish(rows, 'sweep');
          total += rows.length;
          if (rows.length < (this.options.batchSize ?? 100)) break;
        }
        if (total > 0) this.logger.info({ published: total }, 'outbox relay published rows left behind');
      } finally {
        this.sweeping = undefined;
      }
      return total;
    })();
    return this.sweeping;
  }

  start(): void {
    const tick = () => {
      this.sweep()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'outbox sweep failed'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.options.intervalMs);
        });
    };
    this.timer = setTimeout(tick, this.options.intervalMs);
  }

  async stop(): Promise<void> {
    const t = this.timer;
    this.timer = undefined;
    if (t) clearTimeout(t);
    await this.sweeping?.catch(() => 0);
    await this.settled();
  }
}
