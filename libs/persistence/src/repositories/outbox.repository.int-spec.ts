import { findMigrationsDir, runMigrations } from '@quarry/migrations';
import { createEmptyDatabase, type TestDatabase } from '@quarry/test-kit';
import { createPrismaClient, type PrismaClient } from '../prisma';
import { TenantsRepository } from './jobs.repository';
import { OutboxRepository } from './outbox.repository';

let db: TestDatabase | undefined;
let prisma: PrismaClient;
let outbox: OutboxRepository;
let tenantId: string;

beforeAll(async () => {
  db = await createEmptyDatabase('outbox', { create: false });
  await runMigrations({ databaseUrl: db.url, migrationsDir: findMigrationsDir(__dirname) });
  prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 2 });
  outbox = new OutboxRepository(prisma);
  tenantId = (await new TenantsRepository(prisma).ensureTenantWithKey('outbox-tenant', 'key-outbox-0123'))
    .tenantId;
});

afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

beforeEach(async () => {
  await prisma.$executeRaw`TRUNCATE outbox`;
});

/** A row created `ageMs` ago (the relay's grace period is measured against created_at). */
async function row(msgId: string, ageMs: number, extra: { id?: bigint } = {}): Promise<string> {
  const created = await prisma.outbox.create({
    data: {
      ...(extra.id === undefined ? {} : { id: extra.id }),
      tenantId,
      subject: `qt_outbox.events.job.${msgId}`,
      msgId,
      payload: { msgId, nested: { n: 1 } },
      headers: { traceparent: `tp-${msgId}` },
      createdAt: new Date(Date.now() - ageMs),
    },
  });
  return created.id.toString();
}

describe('OutboxRepository', () => {
  it('returns unsent rows past the grace period, oldest first, up to the limit', async () => {
    const old = await row('old', 60_000);
    const older = await row('older', 120_000);
    const recent = await row('recent', 10_000);
    await row('fresh', 0);

    const pending = await outbox.pending(10, 5_000);
    expect(pending.map((r) => r.msgId)).toEqual(['older', 'old', 'recent']);
    expect(pending[0]).toEqual({
      id: older,
      tenantId,
      jobId: null,
      subject: 'qt_outbox.events.job.older',
      msgId: 'older',
      payload: { msgId: 'older', nested: { n: 1 } },
      headers: { traceparent: 'tp-older' },
    });
    expect((await outbox.pending(2, 5_000)).map((r) => r.id)).toEqual([older, old]);
    expect((await outbox.pending(10, 30_000)).map((r) => r.id)).toEqual([older, old]);
    expect((await outbox.pending(10, 0)).map((r) => r.msgId)).toEqual(['older', 'old', 'recent', 'fresh']);
    expect(recent).toMatch(/^\d+$/);
  });

  it('orders rows written in one transaction (same created_at) by id', async () => {
    // Inserted in descending id order so that heap order and id order disagree.
    const at = new Date(Date.now() - 60_000);
    await prisma.$transaction([
      prisma.outbox.create({ data: { id: 30n, subject: 's', msgId: 'c', payload: {}, createdAt: at } }),
      prisma.outbox.create({ data: { id: 20n, subject: 's', msgId: 'b', payload: {}, createdAt: at } }),
      prisma.outbox.create({ data: { id: 10n, subject: 's', msgId: 'a', payload: {}, createdAt: at } }),
    ]);
    expect((await outbox.pending(10, 1_000)).map((r) => r.msgId)).toEqual(['a', 'b', 'c']);
    expect((await outbox.pending(1, 1_000)).map((r) => r.msgId)).toEqual(['a']);
  });

  it('hides rows once marked sent, and keeps the first sent_at', async () => {
    const a = await row('a', 60_000);
    const b = await row('b', 50_000);
    const c = await row('c', 40_000);
    expect(await outbox.unsentCount()).toBe(3);

    await outbox.markSent([a, c]);
    expect((await outbox.pending(10, 0)).map((r) => r.id)).toEqual([b]);
    expect(await outbox.unsentCount()).toBe(1);

    const sentAt = (await prisma.outbox.findUniqueOrThrow({ where: { id: BigInt(a) } })).sentAt;
    expect(sentAt).not.toBeNull();
    await outbox.markSent([a]);
    await outbox.markSent([]);
    expect((await prisma.outbox.findUniqueOrThrow({ where: { id: BigInt(a) } })).sentAt).toEqual(sentAt);
  });

  it('records failed publishes without hiding the row', async () => {
    const a = await row('a', 60_000);
    await outbox.markFailed(a, 'nats down');
    await outbox.markFailed(a, 'x'.repeat(5000));

    const stored = await prisma.outbox.findUniqueOrThrow({ where: { id: BigInt(a) } });
    expect(stored.attempts).toBe(2);
    expect(stored.lastError).toHaveLength(2000);
    expect((await outbox.pending(10, 0)).map((r) => r.id)).toEqual([a]);
  });
});
