import { createLogger } from '@quarry/telemetry';
import { createEmptyDatabase, waitFor, withClient, type TestDatabase } from '@quarry/testing';
import { leaderLockKey, PgAdvisoryLeaderLock } from './leader-lock';
import { MaintenanceScheduler } from './maintenance.scheduler';

// Leader election among gateway replicas on a real PostgreSQL: session advisory locks.

const logger = createLogger({ level: 'silent', pretty: false, app: 't' });
const KEY = leaderLockKey('qt_leader');

let db: TestDatabase;
const opened: PgAdvisoryLeaderLock[] = [];

function lock(key = KEY): PgAdvisoryLeaderLock {
  const l = new PgAdvisoryLeaderLock(db.url, key, logger);
  opened.push(l);
  return l;
}

/** Backend pids of the sessions holding an advisory lock in the test database. */
function holders(): Promise<number[]> {
  return withClient(db.url, async (c) => {
    const { rows } = await c.query<{ pid: number }>(
      `SELECT pid FROM pg_locks
       WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    return rows.map((r) => r.pid);
  });
}

beforeAll(async () => {
  db = await createEmptyDatabase('leader');
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.release()));
});
afterAll(async () => {
  await db?.drop();
});

describe('PgAdvisoryLeaderLock', () => {
  it('lets exactly one replica lead; another takes over once it releases', async () => {
    const a = lock();
    const b = lock();
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    expect(await a.acquire()).toBe(true); // still held: re-trying is how the leader confirms it
    expect([a.isLeader, b.isLeader]).toEqual([true, false]);
    expect(await holders()).toHaveLength(1);

    await a.release();
    expect(a.isLeader).toBe(false);
    expect(await b.acquire()).toBe(true);
    expect(await a.acquire()).toBe(false);
  });

  it('loses leadership with its session, and a survivor takes it', async () => {
    const a = lock();
    const b = lock();
    expect(await a.acquire()).toBe(true);
    const [pid] = await holders();
    await withClient(db.url, (c) => c.query('SELECT pg_terminate_backend($1)', [pid]));

    // Noticed from the connection's own events, before the next attempt.
    await waitFor(() => !a.isLeader, { description: 'a to notice it no longer leads' });
    expect(await b.acquire()).toBe(true);
    expect(await a.acquire()).toBe(false);
  });

  it('keys the lock by namespace, so two installations sharing a database each have a leader', async () => {
    expect(leaderLockKey('quarry')).not.toBe(leaderLockKey('qt_other'));
    expect(await lock(leaderLockKey('quarry_a')).acquire()).toBe(true);
    expect(await lock(leaderLockKey('quarry_b')).acquire()).toBe(true);
  });
});

describe('MaintenanceScheduler on two replicas', () => {
  function replica() {
    const counts = { sweeps: 0, retentions: 0 };
    const scheduler = new MaintenanceScheduler(
      lock(),
      {
        sweep: () => {
          counts.sweeps++;
          return Promise.resolve({ jobs: [] });
        },
      },
      {
        run: () => {
          counts.retentions++;
          return Promise.resolve({ jobs: 0, blobs: 0, outboxRows: 0, deadLetters: 0, webhookReceipts: 0 });
        },
      },
      { sweepIntervalMs: 25, retentionIntervalMs: 3_600_000 },
      logger,
    );
    return { scheduler, counts };
  }

  it('sweeps and purges on the leader only, and the other replica takes over when it stops', async () => {
    const one = replica();
    const two = replica();
    one.scheduler.start();
    two.scheduler.start();
    try {
      await waitFor(() => one.counts.sweeps + two.counts.sweeps >= 5, { description: 'five sweeps' });
      const [leader, follower] = one.scheduler.isLeader ? [one, two] : [two, one];
      expect(leader.scheduler.isLeader).toBe(true);
      expect(follower.scheduler.isLeader).toBe(false);
      expect(follower.counts).toEqual({ sweeps: 0, retentions: 0 });
      // Retention starts right after leadership is taken, then waits for its interval.
      expect(leader.counts.retentions).toBe(1);

      await leader.scheduler.stop();
      const swept = leader.counts.sweeps;
      await waitFor(() => follower.counts.sweeps >= 3, { description: 'the other replica to take over' });
      expect(follower.scheduler.isLeader).toBe(true);
      expect(follower.counts.retentions).toBe(1);
      expect(leader.counts.sweeps).toBe(swept);
    } finally {
      await one.scheduler.stop();
      await two.scheduler.stop();
    }
  });
});
