import type { Logger } from '@quarry/telemetry';
import type { LeaderLock } from './leader-lock';
import type { RetentionService } from './retention';
import type { StuckJobSweeper } from './stuck-job-sweeper';

export interface SchedulerOptions {
  sweepIntervalMs: number;
  retentionIntervalMs: number;
}

/** Leader-only work run with every sweep, after it (step deadlines, the stranded-message scan). */
export interface SweepTask {
  name: string;
  run(): Promise<unknown>;
}

/**
 * Runs the leader-only housekeeping on one gateway replica. Every sweep interval each replica tries
 * to take (or confirms it holds) the leader lock; the leader then sweeps for stuck jobs and, every
 * retention interval, starts a retention pass. Retention runs first right after leadership is taken,
 * so replicas restarted more often than the retention interval still purge. The other sweep tasks run
 * after the sweep, each on its own: one failing does not keep the next from running.
 */
export class MaintenanceScheduler {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private ticking: Promise<void> | undefined;
  private retaining: Promise<void> | undefined;
  private nextRetentionAt = 0;

  constructor(
    private readonly lock: LeaderLock,
    private readonly sweeper: Pick<StuckJobSweeper, 'sweep'>,
    private readonly retention: Pick<RetentionService, 'run'>,
    private readonly options: SchedulerOptions,
    private readonly logger: Logger,
    private readonly tasks: readonly SweepTask[] = [],
  ) {}

  get isLeader(): boolean {
    return this.lock.isLeader;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** One round: leadership, then the sweep, then retention when due. Public for tests. */
  async tick(): Promise<void> {
    if (!(await this.lock.acquire())) return;
    try {
      await this.sweeper.sweep();
    } catch (error) {
      this.logger.warn({ err: error }, 'stuck-job sweep failed');
    }
    for (const task of this.tasks) {
      if (this.stopped || !this.lock.isLeader) return;
      try {
        await task.run();
      } catch (error) {
        this.logger.warn({ err: error, task: task.name }, 'sweep task failed');
      }
    }
    if (this.stopped || this.retaining || Date.now() < this.nextRetentionAt || !this.lock.isLeader) return;
    this.nextRetentionAt = Date.now() + this.options.retentionIntervalMs;
    this.retaining = this.retention
      .run()
      .then(
        () => undefined,
        (error: unknown) => this.logger.warn({ err: error }, 'retention pass failed'),
      )
      .finally(() => {
        this.retaining = undefined;
      });
  }

  /** Stops scheduling, waits for the work under way, and gives leadership up. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
    await this.retaining;
    await this.lock.release();
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.ticking = this.tick()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'housekeeping round failed'))
        .finally(() => {
          this.ticking = undefined;
          if (!this.stopped) this.schedule(this.options.sweepIntervalMs);
        });
    }, delayMs);
  }
}
