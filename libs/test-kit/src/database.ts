import { randomBytes } from 'node:crypto';
import { Client, escapeIdentifier } from 'pg';

const DEFAULT_SERVER_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** Connection URL of the new database. */
  url: string;
  /** Closes every connection to it (including ones the test forgot) and drops it. Safe to call twice. */
  drop(): Promise<void>;
}

/** The server tests create their databases on: QUARRY_TEST_PG_URL, or the machine's PostgreSQL. */
export function testServerUrl(): string {
  return process.env['QUARRY_TEST_PG_URL'] ?? DEFAULT_SERVER_URL;
}

export async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A fresh database on the test server, named `quarry_t_<label>_<random>` so leftovers of a crashed
 * run are easy to recognise and suites in parallel never share one. `prepare` (the migrations, for
 * most callers) runs against it before it is handed out; `create: false` only names it, for tests of
 * the migration runner, which creates databases itself.
 */
export async function createEmptyDatabase(
  label = 'test',
  options: {
    prepare?: (url: string) => Promise<unknown>;
    create?: boolean;
    /** Another server than the test server (the chaos suite runs PostgreSQL instances of its own). */
    serverUrl?: string;
  } = {},
): Promise<TestDatabase> {
  const serverUrl = options.serverUrl ?? testServerUrl();
  const safeLabel =
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_|_$/g, '')
      .slice(0, 30) || 'test';
  const name = `quarry_t_${safeLabel}_${randomBytes(5).toString('hex')}`;
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(name)}`;

  if (options.create !== false) {
    await withClient(serverUrl, (admin) => admin.query(`CREATE DATABASE ${escapeIdentifier(name)}`));
  }
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
    await options.prepare?.(url.toString());
  } catch (error) {
    await drop();
    throw error;
  }
  return { url: url.toString(), drop };
}
