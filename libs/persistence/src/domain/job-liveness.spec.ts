import {
  consumerLooksIdle,
  deadlineExceeded,
  estimateEta,
  formatDuration,
  jobWaiting,
  median,
  remainingWork,
  sameQueueTypes,
  stuckReason,
  type StuckInput,
  type WaitingCommands,
  type WaitingInput,
} from './job-liveness';

const now = new Date('2026-12-08T12:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms);

const idle = { pullsWaiting: 0, lastActiveAt: null };
const wait = (over: Partial<WaitingCommands> = {}): WaitingCommands => ({
  command: 'ingestDocument',
  count: 1,
  since: ago(5000),
  consumer: idle,
  ...over,
});
const waiting = (over: Partial<WaitingInput> = {}): WaitingInput => ({
  status: 'queued',
  waiting: [wait()],
  noWorkerAfterMs: 1000,
  now,
  ...over,
});

describe('jobWaiting', () => {
  it('says nothing of a job that ended or has nothing waiting for a worker', () => {
    expect(jobWaiting(waiting({ status: 'succeeded' }))).toBeNull();
    expect(jobWaiting(waiting({ status: 'cancelled' }))).toBeNull();
    expect(jobWaiting(waiting({ status: 'running', waiting: [] }))).toBeNull();
    expect(jobWaiting(waiting({ status: 'running', waiting: [wait({ count: 0 })] }))).toBeNull();
  });

  it('says no_worker once a command waited long enough on a consumer nobody pulled from or acked on', () => {
    expect(jobWaiting(waiting())).toBe('no_worker');
    // Exactly at the threshold counts.
    expect(jobWaiting(waiting({ waiting: [wait({ since: ago(1000) })] }))).toBe('no_worker');
    const leftOver = { pullsWaiting: 0, lastActiveAt: ago(60_000) };
    expect(jobWaiting(waiting({ waiting: [wait({ consumer: leftOver, workerSeenAt: null })] }))).toBe(
      'no_worker',
    );
  });

  it('says queue before the threshold: a command that just came is not waiting for "no worker"', () => {
    expect(jobWaiting(waiting({ waiting: [wait({ since: ago(999) })] }))).toBe('queue');
  });

  it('says queue while a worker pulls, delivered or acked lately, or reports progress on work of the consumer', () => {
    const pulling = { pullsWaiting: 1, lastActiveAt: null };
    expect(jobWaiting(waiting({ waiting: [wait({ consumer: pulling })] }))).toBe('queue');
    const lately = { pullsWaiting: 0, lastActiveAt: ago(999) };
    expect(jobWaiting(waiting({ waiting: [wait({ consumer: lately })] }))).toBe('queue');
    // Busy on a long document: JetStream sees nothing for a while, the database sees its progress.
    const quiet = { pullsWaiting: 0, lastActiveAt: ago(60_000) };
    expect(jobWaiting(waiting({ waiting: [wait({ consumer: quiet, workerSeenAt: ago(200) })] }))).toBe(
      'queue',
    );
    expect(jobWaiting(waiting({ waiting: [wait({ consumer: quiet, workerSeenAt: ago(1000) })] }))).toBe(
      'no_worker',
    );
  });

  it('never says no_worker when JetStream could not be asked', () => {
    expect(jobWaiting(waiting({ waiting: [wait({ consumer: null, since: ago(3_600_000) })] }))).toBe('queue');
  });

  it('says no_worker when any of its consumers has nobody, even with another one busy', () => {
    const busy = wait({ command: 'ingestDocument', consumer: { pullsWaiting: 2, lastActiveAt: now } });
    const deserted = wait({ command: 'indexDocument' });
    expect(jobWaiting(waiting({ status: 'running', waiting: [busy, deserted] }))).toBe('no_worker');
  });

  it("says tenant_capacity when fairness holds the tenant's work back, unless nobody consumes at all", () => {
    const busy = [wait({ consumer: { pullsWaiting: 0, lastActiveAt: ago(10) } })];
    expect(jobWaiting(waiting({ waiting: busy, tenantAtCapacity: true }))).toBe('tenant_capacity');
    expect(jobWaiting(waiting({ waiting: busy, tenantAtCapacity: false }))).toBe('queue');
    expect(jobWaiting(waiting({ tenantAtCapacity: true }))).toBe('no_worker');
  });
});

describe('consumerLooksIdle', () => {
  it('is idle with no pull waiting and nothing delivered or acked for the threshold; unknown is not idle', () => {
    expect(consumerLooksIdle(wait(), now, 1000)).toBe(true);
    expect(
      consumerLooksIdle(wait({ consumer: { pullsWaiting: 0, lastActiveAt: ago(1000) } }), now, 1000),
    ).toBe(true);
    expect(consumerLooksIdle(wait({ consumer: { pullsWaiting: 0, lastActiveAt: ago(10) } }), now, 1000)).toBe(
      false,
    );
    expect(consumerLooksIdle(wait({ consumer: { pullsWaiting: 1, lastActiveAt: null } }), now, 1000)).toBe(
      false,
    );
    expect(consumerLooksIdle(wait({ consumer: null }), now, 1000)).toBe(false);
  });
});

const stuck = (over: Partial<StuckInput> = {}): StuckInput => ({
  status: 'running',
  hasDocuments: true,
  acceptingDocuments: false,
  openDocuments: 1,
  inProgress: 0,
  waiting: 'queue',
  since: ago(60_000),
  stuckAfterMs: 30_000,
  now,
  ...over,
});

describe('stuckReason', () => {
  it('is null for a job that ended or showed a sign of life recently', () => {
    expect(stuckReason(stuck({ status: 'failed' }))).toBeNull();
    expect(stuckReason(stuck({ since: ago(29_999) }))).toBeNull();
    expect(stuckReason(stuck({ since: ago(30_000) }))).toBe('queued');
  });

  it('names an active job with nothing open (ended by the sweeper) and a crawl waiting for its crawler', () => {
    expect(stuckReason(stuck({ openDocuments: 0, waiting: null }))).toBe('no_open_documents');
    expect(stuckReason(stuck({ openDocuments: 0, waiting: null, acceptingDocuments: true }))).toBe(
      'waiting_for_crawler',
    );
    // An analysis has no documents: its one command is what is open.
    expect(stuckReason(stuck({ hasDocuments: false, openDocuments: 0, waiting: 'no_worker' }))).toBe(
      'no_worker',
    );
  });

  it('puts nobody consuming first, then a silent worker, then fairness, then the queue', () => {
    expect(stuckReason(stuck({ waiting: 'no_worker', inProgress: 1 }))).toBe('no_worker');
    expect(stuckReason(stuck({ waiting: 'tenant_capacity', inProgress: 1 }))).toBe('worker_silent');
    expect(stuckReason(stuck({ waiting: 'tenant_capacity' }))).toBe('tenant_capacity');
    expect(stuckReason(stuck({ waiting: 'queue' }))).toBe('queued');
    expect(stuckReason(stuck({ waiting: null, inProgress: 1 }))).toBe('worker_silent');
  });
});

describe('remainingWork, estimateEta, median', () => {
  it('counts what each open document still has to go through', () => {
    expect(
      remainingWork({ type: 'ingest' }, { queued: 2, extracting: 1, extracted: 3, indexing: 1 }),
    ).toEqual({
      ingest: 3,
      index: 7,
    });
    expect(remainingWork({ type: 'analyze' }, {}, 2)).toEqual({ analyze: 2 });
  });

  it('multiplies the work by the measured seconds per item and rounds up', () => {
    expect(estimateEta({ ingest: 3, index: 7 }, { ingest: 2, index: 0.5 })).toBe(10);
    expect(estimateEta({ ingest: 1, index: 1 }, { ingest: 0.2, index: 0.1 })).toBe(1);
    expect(estimateEta({ ingest: 0, index: 0 }, {})).toBe(0);
  });

  it('is null when a step with work left has never been measured', () => {
    expect(estimateEta({ ingest: 1, index: 1 }, { ingest: 2, index: null })).toBeNull();
    expect(estimateEta({ analyze: 1 }, { ingest: 2 })).toBeNull();
    // A step without work needs no rate.
    expect(estimateEta({ ingest: 0, index: 2 }, { index: 1.5 })).toBe(3);
  });

  it('takes the median of a sample', () => {
    expect(median([])).toBeNull();
    expect(median([3])).toBe(3);
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([Number.NaN, 2])).toBe(2);
  });
});

describe('queues and deadlines', () => {
  it('puts ingest jobs in a queue of their own and analyses with re-embeds (one command)', () => {
    expect(sameQueueTypes('ingest')).toEqual(['ingest']);
    expect(sameQueueTypes('analyze')).toEqual(['analyze', 'reindex']);
    expect(sameQueueTypes('reindex')).toEqual(['analyze', 'reindex']);
  });

  it('fails a step past its deadline with a non-retryable deadline_exceeded that names the step and the limit', () => {
    expect(deadlineExceeded('index', 1_800_000)).toEqual({
      code: 'deadline_exceeded',
      message: 'the index step ran longer than its deadline of 30 min',
      retryable: false,
    });
    expect(formatDuration(1500)).toBe('1.5 s');
    expect(formatDuration(90_000)).toBe('1.5 min');
    expect(formatDuration(21_600_000)).toBe('6 h');
  });
});
