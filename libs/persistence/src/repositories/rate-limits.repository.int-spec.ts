import { mintApiKey } from '@quarry/contracts';
import { findMigrationsDir, runMigrations } from '@quarry/migrations';
import { createEmptyDatabase, type TestDatabase } from '@quarry/test-kit';
import { createPrismaClient, type PrismaClient } from '../prisma';
import { ApiKeysRepository } from './api-keys.repository';
import { TenantsRepository } from './jobs.repository';
import { RateLimitsRepository, type GcraRate, type RateDecision } from './rate-limits.repository';

let db: TestDatabase | undefined;
// Two clients with pools of their own stand for two gateway replicas.
let replicaA: PrismaClient;
let replicaB: PrismaClient;
let tenantId: string;

beforeAll(async () => {
  db = await createEmptyDatabase('rate_limits', { create: false });
  await runMigrations({ databaseUrl: db.url, migrationsDir: findMigrationsDir(__dirname) });
  replicaA = createPrismaClient({ databaseUrl: db.url, poolMax: 4 });
  replicaB = createPrismaClient({ databaseUrl: db.url, poolMax: 4 });
  tenantId = (await new TenantsRepository(replicaA).ensureTenantWithKey('limits', 'key-limits-0123456789'))
    .tenantId;
});

afterAll(async () => {
  await replicaA?.$disconnect();
  await replicaB?.$disconnect();
  await db?.drop();
});

async function newKey(): Promise<string> {
  const minted = mintApiKey();
  const key = await new ApiKeysRepository(replicaA).create({
    tenantId,
    name: 'limited',
    ...minted,
    scopes: ['read'],
    expiresAt: null,
  });
  return key.id;
}

/** One request a second on average, five at once from a rested key. */
const ONE_A_SECOND_BURST_5: GcraRate = { intervalMs: 1000, toleranceMs: 5000 };

describe('RateLimitsRepository (GCRA in one statement)', () => {
  it('admits exactly the burst when two replicas take for one key at once, and says how long to wait', async () => {
    const keyId = await newKey();
    const a = new RateLimitsRepository(replicaA);
    const b = new RateLimitsRepository(replicaB);
    const decisions = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).take(keyId, ONE_A_SECOND_BURST_5)),
    );
    const refused = decisions.filter((d): d is Extract<RateDecision, { admitted: false }> => !d.admitted);
    expect(decisions.filter((d) => d.admitted)).toHaveLength(5);
    expect(refused).toHaveLength(7);
    // Five taken at once: the next slot opens one interval after the burst, less the time the statements took.
    for (const d of refused) {
      expect(d.retryAfterMs).toBeGreaterThan(0);
      expect(d.retryAfterMs).toBeLessThanOrEqual(1000);
    }
  });

  it('admits again once the wait it gave has passed, and then holds the key to its rate', async () => {
    const keyId = await newKey();
    const limits = new RateLimitsRepository(replicaA);
    for (let i = 0; i < 5; i++) expect((await limits.take(keyId, ONE_A_SECOND_BURST_5)).admitted).toBe(true);
    const refused = await limits.take(keyId, ONE_A_SECOND_BURST_5);
    if (refused.admitted) throw new Error('the sixth request of a burst of five was admitted');
    const refusedAt = Date.now();
    // Poll (a refused take changes nothing) until admitted, within the wait plus slack.
    let admittedAt: number | undefined;
    while (admittedAt === undefined && Date.now() - refusedAt < refused.retryAfterMs + 2000) {
      if ((await limits.take(keyId, ONE_A_SECOND_BURST_5)).admitted) admittedAt = Date.now();
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(admittedAt).toBeDefined();
    expect(admittedAt! - refusedAt).toBeGreaterThanOrEqual(refused.retryAfterMs - 50);
    // One slot opened, and it is used: the next request waits a whole interval again.
    const next = await limits.take(keyId, ONE_A_SECOND_BURST_5);
    expect(next.admitted).toBe(false);
    expect(next.admitted ? 0 : next.retryAfterMs).toBeGreaterThan(900);
  });

  it('counts each key on its own', async () => {
    const [first, second] = [await newKey(), await newKey()];
    const limits = new RateLimitsRepository(replicaB);
    const rate: GcraRate = { intervalMs: 60_000, toleranceMs: 60_000 };
    expect(await limits.take(first, rate)).toEqual({ admitted: true });
    expect((await limits.take(first, rate)).admitted).toBe(false);
    expect(await limits.take(second, rate)).toEqual({ admitted: true });
  });

  it('keeps rates finer than a millisecond', async () => {
    const keyId = await newKey();
    const limits = new RateLimitsRepository(replicaA);
    // 600,000 a minute, 3 at once: 0.1 ms apart.
    const rate: GcraRate = { intervalMs: 0.1, toleranceMs: 0.3 };
    const decisions = await Promise.all(Array.from({ length: 3 }, () => limits.take(keyId, rate)));
    expect(decisions.every((d) => d.admitted)).toBe(true);
  });

  it('goes with its key: a row per key, deleted with it', async () => {
    const keyId = await newKey();
    await new RateLimitsRepository(replicaA).take(keyId, ONE_A_SECOND_BURST_5);
    const count = async () =>
      (
        await replicaA.$queryRaw<{ n: number }[]>`
        SELECT count(*)::int AS n FROM api_key_rate_limits WHERE api_key_id = ${keyId}::uuid`
      )[0]!.n;
    expect(await count()).toBe(1);
    await replicaA.$executeRaw`DELETE FROM api_keys WHERE id = ${keyId}::uuid`;
    expect(await count()).toBe(0);
  });
});
