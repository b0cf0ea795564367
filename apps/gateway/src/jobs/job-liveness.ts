import type { CommandName, Lane, Topology } from '@quarry/contracts';
import type { ConsumerLagReader } from '@quarry/messaging';
import {
  consumerLooksIdle,
  estimateEta,
  isActiveJob,
  jobWaiting,
  median,
  remainingWork,
  stuckReason,
  type ConsumerActivity,
  type JobLivenessFacts,
  type JobView,
  type MaintenanceRepository,
  type StuckReason,
  type WaitingCommands,
  type WaitingReason,
} from '@quarry/persistence';

/**
 * Per-tenant fairness (the workers') tells whether a tenant already runs as much of a lane as it may, so its next
 * work waits for its own share rather than for the queue: `waiting: 'tenant_capacity'`. Undefined: nobody knows.
 * Optional for the unit specs: without one no job ever says it.
 */
export interface TenantCapacity {
  atCapacity(tenantId: string, lane: Lane): Promise<boolean | undefined>;
}

/** What GET /v1/jobs/:id adds to a job (ADR 33); all null for a job that ended. */
export interface JobLivenessView {
  /** Queued jobs of the same tenant, lane and queue ahead of it; null unless it is queued. */
  position: number | null;
  waiting: WaitingReason | null;
  /** Seconds until it ends at the tenant's measured step rates; null when unknown or when nobody consumes it. */
  eta: number | null;
}

export interface StuckJob {
  job: JobView;
  waiting: WaitingReason | null;
  stuck: { reason: StuckReason; since: Date };
}

export interface JobLivenessOptions {
  noWorkerAfterMs: number;
  stuckAfterMs: number;
}

type LivenessStore = Pick<
  MaintenanceRepository,
  'queuePosition' | 'workUpTo' | 'stepSamples' | 'liveness' | 'quietJobs' | 'workerActivity'
>;

/**
 * Says how jobs that have not ended stand, without lying (ADR 33): whether and why they wait, where they are in
 * their tenant's line, when they should end, and which have shown no sign of life for a while and why. It loads
 * what the database and JetStream report; the pure rules in @quarry/persistence (jobWaiting, stuckReason,
 * estimateEta) decide.
 */
export class JobLiveness {
  constructor(
    private readonly store: LivenessStore,
    private readonly consumers: Pick<ConsumerLagReader, 'read'>,
    private readonly topology: Topology,
    private readonly options: JobLivenessOptions,
    private readonly capacity?: TenantCapacity,
  ) {}

  async describe(job: JobView): Promise<JobLivenessView> {
    if (!isActiveJob(job.status)) return { position: null, waiting: null, eta: null };
    const [facts, activity, position, tenantAtCapacity] = await Promise.all([
      this.store.liveness(job.tenantId, [job.id]),
      this.consumerActivity(),
      job.status === 'queued' ? this.store.queuePosition(job) : Promise.resolve(null),
      this.capacity?.atCapacity(job.tenantId, job.lane),
    ]);
    const f = facts.jobs.get(job.id);
    if (!f) return { position, waiting: null, eta: null };
    const [reason] = await this.waitingOf([f], activity, facts.now, () => Promise.resolve(tenantAtCapacity));
    const waiting = reason ?? null;
    // A job nobody consumes has no end to estimate.
    const eta = waiting === 'no_worker' ? null : await this.eta(job);
    return { position: f.status === 'queued' ? position : null, waiting, eta };
  }

  /** The tenant's active jobs quiet for STUCK_AFTER_MS, newest first, each with why. */
  async listStuck(
    tenantId: string,
    page: {
      limit: number;
      cursor?: { createdAt: Date; id: string } | undefined;
      status?: 'queued' | 'running' | undefined;
    },
  ): Promise<{ items: StuckJob[]; next: { createdAt: Date; id: string } | null }> {
    const quiet = await this.store.quietJobs(tenantId, this.options.stuckAfterMs, page);
    if (quiet.items.length === 0) return { items: [], next: quiet.next };
    const [facts, activity] = await Promise.all([
      this.store.liveness(
        tenantId,
        quiet.items.map((i) => i.job.id),
      ),
      this.consumerActivity(),
    ]);
    const capacities = new Map<Lane, Promise<boolean | undefined>>();
    const atCapacity = (lane: Lane) => {
      let known = capacities.get(lane);
      if (!known) {
        known = this.capacity?.atCapacity(tenantId, lane) ?? Promise.resolve(undefined);
        capacities.set(lane, known);
      }
      return known;
    };
    const found = quiet.items.flatMap(({ job }) => {
      const f = facts.jobs.get(job.id);
      return f ? [{ job, f }] : [];
    });
    const waits = await this.waitingOf(
      found.map((x) => x.f),
      activity,
      facts.now,
      atCapacity,
    );
    const items: StuckJob[] = [];
    for (const [i, { job, f }] of found.entries()) {
      const waiting = waits[i] ?? null;
      const open = Object.values(f.documents).reduce((n, d) => n + d.count, 0);
      const reason = stuckReason({
        status: f.status,
        hasDocuments: f.type === 'ingest',
        acceptingDocuments: f.acceptingDocuments,
        openDocuments: open,
        inProgress:
          f.type === 'ingest'
            ? (f.documents.extracting?.count ?? 0) + (f.documents.indexing?.count ?? 0)
            : f.status === 'running'
              ? 1
              : 0,
        waiting,
        since: f.since,
        stuckAfterMs: this.options.stuckAfterMs,
        now: facts.now,
      });
      // Moved on since the list was read: no longer stuck.
      if (reason) items.push({ job, waiting, stuck: { reason, since: f.since } });
    }
    return { items, next: quiet.next };
  }

  /**
   * Each job's waiting reason. The database is asked where workers were last seen only when a consumer looks idle
   * to JetStream (see consumerLooksIdle): a worker busy on long work shows only there.
   */
  private async waitingOf(
    jobs: readonly JobLivenessFacts[],
    activity: Map<string, ConsumerActivity> | null,
    now: Date,
    atCapacity: (lane: Lane) => Promise<boolean | undefined>,
  ): Promise<(WaitingReason | null)[]> {
    const { noWorkerAfterMs } = this.options;
    const commands = jobs.map((f) => this.waitingCommands(f, activity));
    const idle = commands.flat().some((w) => w.count > 0 && consumerLooksIdle(w, now, noWorkerAfterMs));
    const seen = idle ? await this.store.workerActivity(noWorkerAfterMs) : new Map<string, Date>();
    return Promise.all(
      jobs.map(async (f, i) =>
        jobWaiting({
          status: f.status,
          waiting: (commands[i] ?? []).map((w) => ({
            ...w,
            workerSeenAt: seen.get(`${w.command}:${f.lane}`) ?? null,
          })),
          tenantAtCapacity: await atCapacity(f.lane),
          noWorkerAfterMs,
          now,
        }),
      ),
    );
  }

  /**
   * The job's commands waiting for a worker: a queued document's ingest command, an extracted one's index command
   * (since its last move), a queued analysis's one command (since its creation). A document a worker claimed is
   * with that worker, not waiting.
   */
  private waitingCommands(
    f: JobLivenessFacts,
    activity: Map<string, ConsumerActivity> | null,
  ): WaitingCommands[] {
    const on = (command: CommandName, count: number, since: Date): WaitingCommands => ({
      command,
      count,
      since,
      // A consumer JetStream does not list does not exist: nobody consumes from it.
      consumer: activity
        ? (activity.get(this.topology.consumerName(command, f.lane)) ?? {
            pullsWaiting: 0,
            lastActiveAt: null,
          })
        : null,
    });
    if (f.type !== 'ingest') return f.status === 'queued' ? [on('analyzeJob', 1, f.createdAt)] : [];
    const waits: WaitingCommands[] = [];
    const queued = f.documents.queued;
    const extracted = f.documents.extracted;
    if (queued) waits.push(on('ingestDocument', queued.count, queued.since));
    if (extracted) waits.push(on('indexDocument', extracted.count, extracted.since));
    return waits;
  }

  /** Every consumer of the jobs stream by name; null when JetStream cannot be read (nothing is said of workers). */
  private async consumerActivity(): Promise<Map<string, ConsumerActivity> | null> {
    try {
      const lags = await this.consumers.read();
      return new Map(
        lags.map((l) => [l.consumer, { pullsWaiting: l.pullsWaiting, lastActiveAt: l.lastActiveAt }]),
      );
    } catch {
      return null;
    }
  }

  private async eta(job: JobView): Promise<number | null> {
    const [work, samples] = await Promise.all([this.store.workUpTo(job), this.store.stepSamples(job)]);
    const rates = Object.fromEntries(
      Object.entries(samples).map(([step, seconds]) => [step, median(seconds ?? [])]),
    );
    return estimateEta(remainingWork(job, work.documents, work.jobsWithoutDocuments), rates);
  }
}
