import { randomUUID } from 'node:crypto';
import { Client, escapeIdentifier } from 'pg';
import { MigrationError, type MigrationFile, readMigrationFiles } from './migration-files';

export interface RunMigrationsOptions {
  databaseUrl: string;
  /** Prisma's layout: `<dir>/<timestamp>_<name>/migration.sql`. See `findMigrationsDir()`. */
  migrationsDir: string;
  log?: (message: string) => void;
}

export interface RunMigrationsResult {
  /** Names of the migrations this call applied, in order; empty when the database was up to date. */
  applied: string[];
}

/**
 * The advisory lock key `prisma migrate deploy` takes, so this runner and Prisma's own serialize
 * against each other as well as among themselves.
 */
export const PRISMA_MIGRATE_ADVISORY_LOCK = 72707369;

/** Prisma's own DDL for its history table (schema-engine, postgres flavour), column for column. */
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;

/** A row of `_prisma_migrations`, as the runner reads it. */
export interface HistoryRow {
  id: string;
  checksum: string;
  migration_name: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  logs: string | null;
}

/**
 * Applies the pending migrations the way `prisma migrate deploy` does, without Prisma's native
 * engine: same lock, same `_prisma_migrations` rows, same refusals (edited or failed migrations).
 * Unlike Prisma, each migration runs in one transaction, so a failure leaves no half-applied schema;
 * it is still recorded as failed, and the next run refuses until someone marks it rolled back.
 */
export async function runMigrations(options: RunMigrationsOptions): Promise<RunMigrationsResult> {
  const log = options.log ?? (() => undefined);
  const files = readMigrationFiles(options.migrationsDir);
  await ensureDatabaseExists(options.databaseUrl, log);

  const client = new Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    // Session-level: released when the connection closes, also when this process dies mid-way.
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_ADVISORY_LOCK]);
    return { applied: await migrateLocked(client, files, log) };
  } finally {
    await client.end();
  }
}

async function migrateLocked(
  client: Client,
  files: MigrationFile[],
  log: (message: string) => void,
): Promise<string[]> {
  const hadHistory = await historyTableExists(client);
  if (!hadHistory) {
    await refuseNonEmptyDatabase(client);
    await client.query(CREATE_MIGRATIONS_TABLE);
  }
  const history = (
    await client.query<HistoryRow>(
      `SELECT id, checksum, migration_name, finished_at, rolled_back_at, logs
         FROM _prisma_migrations ORDER BY started_at, migration_name`,
    )
  ).rows;

  const failed = history.find((row) => row.finished_at === null && row.rolled_back_at === null);
  if (failed) {
    throw new MigrationError(
      'failed_migration_recorded',
      `migration ${failed.migration_name} is recorded as failed (_prisma_migrations.id = ${failed.id}); ` +
        `no further migrations are applied until it is resolved. Error: ${failed.logs ?? '(none recorded)'}. ` +
        `Once the database is back in the state before it (this runner rolls a failed migration back; ` +
        `Prisma's own deploy may not), mark it with \`prisma migrate resolve --rolled-back ${failed.migration_name}\` ` +
        `or UPDATE _prisma_migrations SET rolled_back_at = now() WHERE id = '${failed.id}'.`,
    );
  }

  const local = new Map(files.map((f) => [f.name, f]));
  const applied = new Set<string>();
  for (const row of history) {
    if (row.finished_at === null || row.rolled_back_at !== null) continue;
    applied.add(row.migration_name);
    const file = local.get(row.migration_name);
    if (!file) {
      log(
        `[migrate] ${row.migration_name} is applied in the database but missing from the migrations folder`,
      );
    } else if (file.checksum !== row.checksum) {
      throw new MigrationError(
        'checksum_mismatch',
        `migration ${row.migration_name} was modified after it was applied (checksum in database ` +
          `${row.checksum}, on disk ${file.checksum}). Applied migrations are immutable: restore the file ` +
          `and put the change in a new migration.`,
      );
    }
  }

  const pending = files.filter((f) => !applied.has(f.name));
  if (pending.length === 0) {
    log('[migrate] database is up to date');
    return [];
  }
  for (const file of pending) {
    const started = Date.now();
    await applyOne(client, file);
    log(`[migrate] applied ${file.name} in ${Date.now() - started} ms`);
  }
  return pending.map((f) => f.name);
}

async function applyOne(client: Client, file: MigrationFile): Promise<void> {
  const id = randomUUID();
  await client.query('BEGIN');
  try {
    await client.query(
      `INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, applied_steps_count)
       VALUES ($1, $2, $3, now(), 0)`,
      [id, file.checksum, file.name],
    );
    // No parameters: pg then uses the simple query protocol, which accepts a multi-statement script.
    await client.query(file.sql);
    await client.query(
      `UPDATE _prisma_migrations SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`,
      [id],
    );
    await client.query('COMMIT');
  } catch (error) {
    const logs = describePgError(error);
    try {
      await client.query('ROLLBACK');
      // Recorded after the rollback, as Prisma records a failed migration, so every later run refuses
      // until a person has looked at it.
      await client.query(
        `INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, logs, applied_steps_count)
         VALUES ($1, $2, $3, now(), $4, 0)`,
        [id, file.checksum, file.name, logs],
      );
    } catch (recordError) {
      throw new MigrationError(
        'migration_failed',
        `migration ${file.name} failed (${logs}), and recording the failure failed too: ${describePgError(recordError)}`,
        { cause: error },
      );
    }
    throw new MigrationError(
      'migration_failed',
      `migration ${file.name} failed and was rolled back: ${logs}`,
      {
        cause: error,
      },
    );
  }
}

async function historyTableExists(client: Client): Promise<boolean> {
  const { rows } = await client.query<{ exists: boolean }>(
    `SELECT to_regclass('_prisma_migrations') IS NOT NULL AS exists`,
  );
  return rows[0]?.exists === true;
}

/** Prisma's P3005: a schema with tables but no migration history needs baselining, not migrating. */
async function refuseNonEmptyDatabase(client: Client): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
      ORDER BY 1 LIMIT 5`,
  );
  if (rows.length > 0) {
    throw new MigrationError(
      'database_not_empty',
      `the database has tables (${rows.map((r) => r.name).join(', ')}) but no _prisma_migrations history; ` +
        `baseline it (see Prisma's "baselining" guide) before migrating`,
    );
  }
}

async function ensureDatabaseExists(databaseUrl: string, log: (message: string) => void): Promise<void> {
  const probe = new Client({ connectionString: databaseUrl });
  try {
    await probe.connect();
    return;
  } catch (error) {
    if (pgErrorCode(error) !== '3D000') throw error;
  } finally {
    await probe.end();
  }

  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${escapeIdentifier(name)}`);
    log(`[migrate] created database ${name}`);
  } catch (error) {
    // Another runner created it between our probe and our CREATE: what we wanted anyway. 23505 is how
    // a concurrent CREATE DATABASE of the same name sometimes surfaces (pg_database's unique index).
    const code = pgErrorCode(error);
    if (code !== '42P04' && code !== '23505') throw error;
    log(`[migrate] database ${name} was created concurrently`);
  } finally {
    await admin.end();
  }
}

function pgErrorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

function describePgError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const details = error as Error & { code?: string; position?: string; detail?: string; where?: string };
  return [
    details.code ? `[${details.code}]` : undefined,
    error.message,
    details.detail ? `detail: ${details.detail}` : undefined,
    details.position ? `at character ${details.position}` : undefined,
    details.where ? `where: ${details.where}` : undefined,
  ]
    .filter((part) => part !== undefined)
    .join(' ');
}
