import { Inject, Injectable, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { JobEvent, type Topology } from '@quarry/contracts';
import { LOGGER, type Logger } from '@quarry/telemetry';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { NATS_CONNECTION, TOPOLOGY } from './messaging.module';

/**
 * Whether a job was cancelled, answered from memory so a worker can ask at every page or batch
 * boundary. A miss is not a correctness problem: claims and completions are conditional on an active
 * job in PostgreSQL, so work on a cancelled job is never stored; the watch only stops it early.
 */
export interface CancellationWatch {
  isCancelled(jobId: string): boolean;
}

export const CANCELLATION_WATCH = Symbol('CANCELLATION_WATCH');

/** For code paths (and tests) without a watch: only the database conditions stop the work. */
export const NO_CANCELLATION_WATCH: CancellationWatch = { isCancelled: () => false };

/** Thrown from inside a unit of work (a parser's page callback) to stop it because its job was cancelled. */
export class JobCancelledError extends Error {
  override readonly name = 'JobCancelledError';
  constructor(readonly jobId: string) {
    super(`job ${jobId} was cancelled`);
  }
}

/** Enough for every job a worker can be on; the oldest ids are forgotten first. */
const REMEMBERED_JOBS = 10_000;

/**
 * Keeps the ids of recently cancelled jobs, fed by a core-NATS subscription to
 * `<ns>.events.job.cancelled`: events are published into the events stream, and core subscribers see
 * every message on the subject as well, without a consumer of their own. Subscribed at module init, so
 * before the command consumers start.
 */
@Injectable()
export class NatsCancellationWatch implements CancellationWatch, OnModuleInit, BeforeApplicationShutdown {
  private readonly cancelled = new Set<string>();
  private subscription: Subscription | undefined;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  isCancelled(jobId: string): boolean {
    return this.cancelled.has(jobId);
  }

  /** Records a cancellation (the subscription's path; public so that tests can drive the watch). */
  remember(jobId: string): void {
    if (this.cancelled.has(jobId)) return;
    this.cancelled.add(jobId);
    if (this.cancelled.size > REMEMBERED_JOBS) {
      const oldest = this.cancelled.values().next();
      if (!oldest.done) this.cancelled.delete(oldest.value);
    }
  }

  onModuleInit(): void {
    this.subscription = this.nc.subscribe(this.topology.eventSubject('cancelled'), {
      callback: (err, msg) => {
        if (err) {
          this.logger.warn({ err }, 'cancellation subscription error');
          return;
        }
        let event: JobEvent;
        try {
          event = JobEvent.parse(msg.json());
        } catch (error) {
          this.logger.warn({ err: error, subject: msg.subject }, 'ignoring an unreadable cancellation event');
          return;
        }
        this.remember(event.jobId);
      },
    });
  }

  beforeApplicationShutdown(): void {
    if (this.subscription && !this.subscription.isClosed()) this.subscription.unsubscribe();
  }
}
