import { mintApiKey } from '@quarry/contracts';
import { findMigrationsDir, runMigrations } from '@quarry/migrations';
import { createEmptyDatabase, type TestDatabase } from '@quarry/test-kit';
import { createPrismaClient, type PrismaClient } from '../prisma';
import { ApiKeysRepository } from './api-keys.repository';
import { hashApiKey, TenantsRepository } from './jobs.repository';

let db: TestDatabase | undefined;
let prisma: PrismaClient;
let keys: ApiKeysRepository;
let tenants: TenantsRepository;

beforeAll(async () => {
  db = await createEmptyDatabase('api_keys', { create: false });
  await runMigrations({ databaseUrl: db.url, migrationsDir: findMigrationsDir(__dirname) });
  prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 2 });
  keys = new ApiKeysRepository(prisma);
  tenants = new TenantsRepository(prisma);
});

afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

async function tenant(name: string): Promise<string> {
  const created = await tenants.create(name);
  if (!created) throw new Error(`tenant ${name} exists`);
  return created.tenantId;
}

describe('TenantsRepository', () => {
  it('creates a tenant once; a taken name gives null', async () => {
    const id = await tenant('acme');
    expect(await tenants.create('acme')).toBeNull();
    expect(await tenants.findByName('acme')).toEqual({ tenantId: id });
    expect(await tenants.findByName('nobody')).toBeNull();
  });

  it('gives the bootstrap and `ops api-key <tenant> <key>` keys every scope, and leaves them alone when run again', async () => {
    const { tenantId } = await tenants.ensureTenantWithKey('boot', 'boot-key-0123456789');
    await tenants.ensureTenantWithKey('boot', 'boot-key-0123456789');
    const [key] = await keys.list(tenantId);
    expect(await keys.list(tenantId)).toHaveLength(1);
    expect(key).toMatchObject({ name: 'bootstrap', prefix: 'boot-k', scopes: ['read', 'write', 'admin'] });
  });
});

describe('ApiKeysRepository', () => {
  it('stores the hash of the key, never the key', async () => {
    const tenantId = await tenant('hashes');
    const minted = mintApiKey();
    const created = await keys.create({ tenantId, name: 'n', ...minted, scopes: ['read'], expiresAt: null });
    const rows = await prisma.$queryRaw<{ key_hash: string; prefix: string; scopes: string[] }[]>`
      SELECT key_hash, prefix, scopes FROM api_keys WHERE id = ${created.id}::uuid`;
    expect(rows).toEqual([{ key_hash: hashApiKey(minted.key), prefix: minted.prefix, scopes: ['read'] }]);
    expect(JSON.stringify(await prisma.apiKey.findMany())).not.toContain(minted.key);
  });

  it("reads and revokes only the tenant's own keys", async () => {
    const [a, b] = [await tenant('scoped-a'), await tenant('scoped-b')];
    const key = await keys.create({
      tenantId: a,
      name: 'a',
      ...mintApiKey(),
      scopes: ['admin'],
      expiresAt: null,
    });
    expect(await keys.get(b, key.id)).toBeNull();
    expect(await keys.revoke(b, key.id)).toBeNull();
    expect(await keys.list(b)).toEqual([]);
    expect((await keys.get(a, key.id))?.revokedAt).toBeNull();
  });

  it('keeps the first revocation time when a key is revoked again', async () => {
    const tenantId = await tenant('revokes');
    const minted = mintApiKey();
    const key = await keys.create({ tenantId, name: 'r', ...minted, scopes: ['read'], expiresAt: null });
    const first = await keys.revoke(tenantId, key.id);
    const again = await keys.revoke(tenantId, key.id);
    expect(first?.revokedAt).toBeInstanceOf(Date);
    expect(again?.revokedAt).toEqual(first?.revokedAt);
    expect((await keys.findForAuth(minted.key))?.revokedAt).toEqual(first?.revokedAt);
  });

  it('lists newest first and finds keys by prefix', async () => {
    const tenantId = await tenant('lists');
    const older = await keys.create({
      tenantId,
      name: 'older',
      ...mintApiKey(),
      scopes: ['read'],
      expiresAt: null,
    });
    const newer = await keys.create({
      tenantId,
      name: 'newer',
      ...mintApiKey(),
      scopes: ['write'],
      expiresAt: null,
    });
    expect((await keys.list(tenantId)).map((k) => k.name)).toEqual(['newer', 'older']);
    expect(await keys.findByPrefix(tenantId, older.prefix)).toEqual([older]);
    expect(await keys.findByPrefix(tenantId, 'qk_nothing')).toEqual([]);
    expect(newer.scopes).toEqual(['write']);
  });

  it('records a use at most once a minute, whoever asks', async () => {
    const tenantId = await tenant('uses');
    const key = await keys.create({
      tenantId,
      name: 'u',
      ...mintApiKey(),
      scopes: ['read'],
      expiresAt: null,
    });
    await keys.markUsed(key.id);
    const first = (await keys.get(tenantId, key.id))!.lastUsedAt;
    expect(first).toBeInstanceOf(Date);
    await keys.markUsed(key.id);
    expect((await keys.get(tenantId, key.id))!.lastUsedAt).toEqual(first);
    // A minute later (the row aged by hand), the next use is recorded.
    await prisma.$executeRaw`UPDATE api_keys SET last_used_at = now() - interval '61 seconds' WHERE id = ${key.id}::uuid`;
    await keys.markUsed(key.id);
    const later = (await keys.get(tenantId, key.id))!.lastUsedAt!;
    expect(Date.now() - later.getTime()).toBeLessThan(10_000);
  });

  it('ignores a stored scope the code does not know rather than failing', async () => {
    const tenantId = await tenant('odd-scopes');
    const minted = mintApiKey();
    const key = await keys.create({ tenantId, name: 'o', ...minted, scopes: ['read'], expiresAt: null });
    await prisma.$executeRaw`UPDATE api_keys SET scopes = ARRAY['read', 'superuser'] WHERE id = ${key.id}::uuid`;
    expect((await keys.findForAuth(minted.key))?.scopes).toEqual(['read']);
  });
});
