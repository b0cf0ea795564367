import { topology } from '@quarry/contracts';
import type { ConsumerLag } from '@quarry/messaging';
import type { JobLivenessFacts, JobView, MaintenanceRepository } from '@quarry/persistence';
import { JobLiveness, type TenantCapacity } from './job-liveness';

// What the service asks and how it maps it, with the database and JetStream scripted: which consumer each waiting
// command is read from, when the database is asked about workers, and what an ended job costs. The rules themselves:
// libs/persistence/src/domain/job-liveness.spec.ts; against PostgreSQL and NATS: job-liveness.int-spec.ts.

const t = topology('qt_live');
const now = new Date('2026-12-08T12:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms);

const job = (over: Partial<JobView> = {}): JobView =>
  ({
    id: 'job-1',
    tenantId: 'tenant-1',
    type: 'ingest',
    lane: 'bulk',
    status: 'running',
    createdAt: ago(60_000),
    ...over,
  }) as JobView;

const facts = (over: Partial<JobLivenessFacts> = {}): JobLivenessFacts => ({
  jobId: 'job-1',
  type: 'ingest',
  lane: 'bulk',
  status: 'running',
  acceptingDocuments: false,
  createdAt: ago(60_000),
  since: ago(60_000),
  documents: {},
  ...over,
});

const lag = (consumer: string, pullsWaiting: number, lastActiveAt: Date | null): ConsumerLag => ({
  stream: t.jobsStream,
  consumer,
  pending: 0,
  ackPending: 0,
  redelivered: 0,
  pullsWaiting,
  lastActiveAt,
});

function setup(
  f: JobLivenessFacts,
  lags: ConsumerLag[] | Error,
  seen: Map<string, Date> = new Map(),
  capacity?: TenantCapacity,
) {
  const calls: string[] = [];
  const store: ConstructorParameters<typeof JobLiveness>[0] = {
    liveness: () => {
      calls.push('liveness');
      return Promise.resolve({ now, jobs: new Map([[f.jobId, f]]) });
    },
    queuePosition: () => {
      calls.push('queuePosition');
      return Promise.resolve(3);
    },
    workUpTo: () => {
      calls.push('workUpTo');
      return Promise.resolve({ documents: { queued: 1 }, jobsWithoutDocuments: 0 });
    },
    stepSamples: () => {
      calls.push('stepSamples');
      return Promise.resolve({ ingest: [1, 3, 2], index: [1] });
    },
    workerActivity: () => {
      calls.push('workerActivity');
      return Promise.resolve(seen);
    },
    quietJobs: () => Promise.resolve({ items: [], next: null }),
  } satisfies Pick<
    MaintenanceRepository,
    'liveness' | 'queuePosition' | 'workUpTo' | 'stepSamples' | 'workerActivity' | 'quietJobs'
  >;
  const reader = {
    read: () => (lags instanceof Error ? Promise.reject(lags) : Promise.resolve(lags)),
  };
  const liveness = new JobLiveness(store, reader, t, { noWorkerAfterMs: 1000, stuckAfterMs: 5000 }, capacity);
  return { liveness, calls };
}

describe('JobLiveness.describe', () => {
  it('reads an extracted document’s index command from its lane’s index consumer, and asks nothing more of a busy one', async () => {
    const f = facts({ documents: { extracted: { count: 2, since: ago(30_000) } } });
    const busy = lag(t.consumerName('indexDocument', 'bulk'), 1, now);
    const idleOtherLane = lag(t.consumerName('indexDocument', 'interactive'), 0, null);
    const { liveness, calls } = setup(f, [busy, idleOtherLane]);
    expect(await liveness.describe(job())).toEqual({ position: null, waiting: 'queue', eta: 3 });
    expect(calls).not.toContain('workerActivity');
    expect(calls).not.toContain('queuePosition');
  });

  it('asks the database about workers only when the consumer looks idle, and then says no_worker without an eta', async () => {
    const f = facts({ status: 'queued', documents: { queued: { count: 1, since: ago(30_000) } } });
    const { liveness, calls } = setup(f, []); // the consumer is not even there
    expect(await liveness.describe(job({ status: 'queued' }))).toEqual({
      position: 3,
      waiting: 'no_worker',
      eta: null,
    });
    expect(calls).toContain('workerActivity');
    expect(calls).not.toContain('stepSamples');
  });

  it('says queue while the database saw a worker at work on that consumer and lane', async () => {
    const f = facts({ documents: { queued: { count: 1, since: ago(30_000) } } });
    const idle = lag(t.consumerName('ingestDocument', 'bulk'), 0, ago(60_000));
    const { liveness } = setup(f, [idle], new Map([['ingestDocument:bulk', ago(100)]]));
    expect((await liveness.describe(job())).waiting).toBe('queue');
    const { liveness: elsewhere } = setup(f, [idle], new Map([['ingestDocument:interactive', ago(100)]]));
    expect((await elsewhere.describe(job())).waiting).toBe('no_worker');
  });

  it('never says no_worker when JetStream cannot be read', async () => {
    const f = facts({ documents: { queued: { count: 1, since: ago(3_600_000) } } });
    const { liveness } = setup(f, new Error('nats away'));
    expect((await liveness.describe(job())).waiting).toBe('queue');
  });

  it('passes what fairness says of the tenant and lane', async () => {
    const f = facts({ documents: { queued: { count: 1, since: ago(100) } } });
    const asked: string[] = [];
    const capacity: TenantCapacity = {
      atCapacity: (tenant, lane) => {
        asked.push(`${tenant}:${lane}`);
        return Promise.resolve(true);
      },
    };
    const { liveness } = setup(
      f,
      [lag(t.consumerName('ingestDocument', 'bulk'), 1, now)],
      new Map(),
      capacity,
    );
    expect((await liveness.describe(job())).waiting).toBe('tenant_capacity');
    expect(asked).toEqual(['tenant-1:bulk']);
  });

  it('waits on the analyze consumer for a queued analysis, and costs nothing for a job that ended', async () => {
    const f = facts({ type: 'analyze', status: 'queued', lane: 'interactive', createdAt: ago(30_000) });
    const { liveness } = setup(f, [lag(t.consumerName('analyzeJob', 'interactive'), 0, null)]);
    expect(
      (await liveness.describe(job({ type: 'analyze', status: 'queued', lane: 'interactive' }))).waiting,
    ).toBe('no_worker');
    const { liveness: ended, calls } = setup(f, []);
    expect(await ended.describe(job({ status: 'succeeded' }))).toEqual({
      position: null,
      waiting: null,
      eta: null,
    });
    expect(calls).toEqual([]);
  });
});
