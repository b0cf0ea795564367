import { MINTED_API_KEY } from '@quarry/contracts';
import { createPrismaClient, hashApiKey, type PrismaClient } from '@quarry/persistence';
import { createTestDatabase, type TestDatabase } from '@quarry/testing';
import { runApiKeyCommand, runTenantCommand } from './tenant-commands';

// The ops commands against a migrated database of their own, as `ops tenant …` and `ops api-key …` run them.

let db: TestDatabase;
let prisma: PrismaClient;

beforeAll(async () => {
  db = await createTestDatabase('ops_keys');
  prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 2 });
});
afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

/** Runs a command and returns what it printed. */
async function run(kind: 'tenant' | 'api-key', ...args: string[]): Promise<string[]> {
  const printed: string[] = [];
  const print = (line: string) => printed.push(line);
  if (kind === 'tenant') await runTenantCommand(prisma, args, print);
  else await runApiKeyCommand(prisma, args, print);
  return printed;
}

describe('ops tenant create', () => {
  it('prints the new tenant’s id, and refuses a name that is taken', async () => {
    const [id] = await run('tenant', 'create', 'acme');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await prisma.tenant.findUnique({ where: { name: 'acme' } })).toMatchObject({ id });
    await expect(run('tenant', 'create', 'acme')).rejects.toThrow(`tenant "acme" already exists: ${id}`);
  });
});

describe('ops api-key', () => {
  it('create prints the key alone and stores its hash with the scopes, name and expiry asked for', async () => {
    const [tenantId] = await run('tenant', 'create', 'keys-create');
    const printed = await run(
      'api-key',
      'create',
      'keys-create',
      '--scopes',
      'read',
      '--name',
      'reporting',
      '--expires',
      '2030-01-01T00:00:00Z',
    );
    expect(printed).toHaveLength(1);
    const key = printed[0]!;
    expect(key).toMatch(MINTED_API_KEY);
    const stored = await prisma.apiKey.findUnique({ where: { keyHash: hashApiKey(key) } });
    expect(stored).toMatchObject({
      tenantId,
      name: 'reporting',
      prefix: key.slice(0, 11),
      scopes: ['read'],
      expiresAt: new Date('2030-01-01T00:00:00Z'),
      revokedAt: null,
    });
    // By id as well as by name; every scope by default.
    const [full] = await run('api-key', 'create', tenantId!);
    expect((await prisma.apiKey.findUnique({ where: { keyHash: hashApiKey(full!) } }))?.scopes).toEqual([
      'read',
      'write',
      'admin',
    ]);
  });

  it('refuses a tenant that does not exist', async () => {
    await expect(run('api-key', 'create', 'nobody')).rejects.toThrow('no tenant named "nobody"');
    await expect(run('api-key', 'list', 'nobody')).rejects.toThrow('no tenant named "nobody"');
  });

  it('list shows the tenant’s keys without secrets; revoke takes a prefix or an id', async () => {
    await run('tenant', 'create', 'keys-list');
    const [first] = await run('api-key', 'create', 'keys-list', '--name', 'first');
    const [second] = await run('api-key', 'create', 'keys-list', '--name', 'second');
    const [table] = await run('api-key', 'list', 'keys-list');
    expect(table).toContain(first!.slice(0, 11));
    expect(table).toContain(second!.slice(0, 11));
    expect(table).not.toContain(first!.slice(12));
    expect(table!.split('\n')).toHaveLength(3);

    const [byPrefix] = await run('api-key', 'revoke', 'keys-list', first!.slice(0, 11));
    expect(byPrefix).toMatch(/^revoked [0-9a-f-]{36} \(qk_[0-9a-f]{8}\) at /);
    const secondId = (await prisma.apiKey.findUnique({ where: { keyHash: hashApiKey(second!) } }))!.id;
    await run('api-key', 'revoke', 'keys-list', secondId);
    const [after] = await run('api-key', 'list', 'keys-list');
    expect(
      after!
        .split('\n')
        .slice(1)
        .every((line) => line.includes('revoked')),
    ).toBe(true);
    await expect(run('api-key', 'revoke', 'keys-list', 'qk_00000000')).rejects.toThrow(
      'has no key qk_00000000',
    );
  });

  it('revoke will not guess between keys that share a prefix', async () => {
    const [tenantId] = await run('tenant', 'create', 'keys-shared');
    // Keys of `ops api-key <tenant> <key>` keep the key's first six characters as their prefix.
    await run('api-key', 'keys-shared', 'same-prefix-key-one-0123');
    await run('api-key', 'keys-shared', 'same-prefix-key-two-0123');
    await expect(run('api-key', 'revoke', 'keys-shared', 'same-p')).rejects.toThrow('matches 2 keys');
    expect(await prisma.apiKey.count({ where: { tenantId: tenantId!, revokedAt: { not: null } } })).toBe(0);
  });

  it('keeps `api-key <tenant> <key>` as it was: the tenant is made if missing and holds the key, every scope', async () => {
    const key = 'script-made-key-0123456789';
    expect(await run('api-key', 'scripted', key)).toEqual([]);
    await run('api-key', 'scripted', key);
    const stored = await prisma.apiKey.findMany({
      where: { keyHash: hashApiKey(key) },
      include: { tenant: true },
    });
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      name: 'bootstrap',
      prefix: 'script',
      scopes: ['read', 'write', 'admin'],
      tenant: { name: 'scripted' },
    });
  });
});
