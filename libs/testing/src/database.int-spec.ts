import { Client } from 'pg';
import { findMigrationsDir, readMigrationFiles } from '@quarry/migrations';
import { createTestDatabase } from './database';

const serverUrl = process.env.QUARRY_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

async function databaseExists(name: string): Promise<boolean> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}

describe('createTestDatabase', () => {
  it('creates a migrated database and drops it even while a connection is still open', async () => {
    const db = await createTestDatabase('Drop Me!');
    const name = new URL(db.url).pathname.slice(1);
    expect(name).toMatch(/^quarry_t_drop_me_[0-9a-f]{10}$/);

    const leftOpen = new Client({ connectionString: db.url });
    leftOpen.on('error', () => undefined); // the drop terminates this session on purpose
    await leftOpen.connect();
    const { rows } = await leftOpen.query<{ migration_name: string }>(
      'SELECT migration_name FROM _prisma_migrations',
    );
    expect(rows.map((r) => r.migration_name)).toEqual(
      readMigrationFiles(findMigrationsDir(__dirname)).map((m) => m.name),
    );

    await db.drop();
    expect(await databaseExists(name)).toBe(false);
    await db.drop(); // idempotent
    await leftOpen.end().catch((error: unknown) => expect(String(error)).toMatch(/terminat|closed|ended/i));
  });

  it('gives every call its own database', async () => {
    const [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    try {
      expect(a.url).not.toBe(b.url);
    } finally {
      await Promise.all([a.drop(), b.drop()]);
    }
  });
});
