import { randomBytes } from 'node:crypto';
import { findMigrationsDir, runMigrations } from '@quarry/persistence';
import { Client, escapeIdentifier } from 'pg';

const DEFAULT_SERVER_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** Connection URL of the new, migrated database. */
  url: string;
  /** Closes every connection to it (including ones the test forgot) and drops it. */
  drop(): Promise<void>;
}

/**
 * A fresh database with every migration applied, on the server at QUARRY_TEST_PG_URL (any database
 * on it; default postgresql://postgres@127.0.0.1:5432/postgres). Named `quarry_t_<label>_<random>` so
 * leftovers of a crashed run are easy to recognise and tests in parallel never share one.
 */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const serverUrl = process.env.QUARRY_TEST_PG_URL ?? DEFAULT_SERVER_URL;
  const safeLabel =
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_|_$/g, '')
      .slice(0, 30) || 'test';
  const name = `quarry_t_${safeLabel}_${randomBytes(5).toString('hex')}`;
  const url = withDatabase(serverUrl, name);

  await withClient(serverUrl, (admin) => admin.query(`CREATE DATABASE ${escapeIdentifier(name)}`));
  let dropped = false;
  const drop = async (): Promise<void> => {
    if (dropped) return;
    dropped = true;
    // FORCE (PostgreSQL 13+) terminates the remaining sessions, such as a pool a test did not close.
    await withClient(serverUrl, (admin) =>
      admin.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`),
    );
  };
  try {
    await runMigrations({ databaseUrl: url, migrationsDir: findMigrationsDir(__dirname) });
  } catch (error) {
    await drop();
    throw error;
  }
  return { url, drop };
}

function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
