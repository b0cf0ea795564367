import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findMigrationsDir, MigrationError, readMigrationFiles, runMigrations } from './index';
import { type ScratchDatabase, scratchDatabase, withClient } from './__fixtures__/scratch-database';
import type { HistoryRow as RunnerHistoryRow } from './run-migrations';

const serverUrl = process.env.QUARRY_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const migrationsDir = findMigrationsDir(__dirname);
const INIT = '20251123000000_init';
/** Every migration in the repository, in the order the runner applies them. */
const ALL = readMigrationFiles(migrationsDir).map((m) => m.name);

describe('runMigrations', () => {
  const databases: ScratchDatabase[] = [];
  const tmpDirs: string[] = [];
  const database = (label: string): ScratchDatabase => {
    const db = scratchDatabase(serverUrl, label);
    databases.push(db);
    return db;
  };
  /** A private copy of the real migrations that a test may edit. */
  const copyOfMigrations = (): string => {
    const dir = mkdtempSync(path.join(tmpdir(), 'quarry-migrations-'));
    tmpDirs.push(dir);
    cpSync(migrationsDir, dir, { recursive: true });
    return dir;
  };
  // The runner's row and the column it does not read.
  interface HistoryRow extends RunnerHistoryRow {
    applied_steps_count: number;
  }
  const history = (url: string): Promise<HistoryRow[]> =>
    withClient(
      url,
      async (c) => (await c.query<HistoryRow>('SELECT * FROM _prisma_migrations ORDER BY started_at')).rows,
    );

  afterAll(async () => {
    for (const db of databases) await db.drop();
    for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('creates the database, applies every migration, records it as Prisma does, and is idempotent', async () => {
    const db = database('fresh');
    const logs: string[] = [];

    await expect(
      runMigrations({ databaseUrl: db.url, migrationsDir, log: (m) => logs.push(m) }),
    ).resolves.toEqual({
      applied: ALL,
    });
    expect(logs.some((m) => m.includes(`created database ${db.name}`))).toBe(true);

    const rows = await history(db.url);
    expect(rows.map((r) => r.migration_name)).toEqual(ALL);
    expect(rows[0]).toMatchObject({
      migration_name: INIT,
      checksum: createHash('sha256')
        .update(readFileSync(path.join(migrationsDir, INIT, 'migration.sql')))
        .digest('hex'),
      rolled_back_at: null,
      logs: null,
      applied_steps_count: 1,
    });
    expect(rows[0]!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(rows[0]!.finished_at).toBeInstanceOf(Date);

    await expect(runMigrations({ databaseUrl: db.url, migrationsDir })).resolves.toEqual({ applied: [] });
    expect(await history(db.url)).toHaveLength(ALL.length);
  });

  it("creates _prisma_migrations with exactly Prisma's columns", async () => {
    const db = database('history');
    await runMigrations({ databaseUrl: db.url, migrationsDir });
    const columns = await withClient(db.url, async (c) =>
      (
        await c.query(
          `SELECT column_name, data_type, character_maximum_length AS len, is_nullable, column_default
             FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
        )
      ).rows.map((r: Record<string, unknown>) => Object.values(r).join(' ')),
    );
    expect(columns).toEqual([
      'id character varying 36 NO ',
      'checksum character varying 64 NO ',
      'finished_at timestamp with time zone  YES ',
      'migration_name character varying 255 NO ',
      'logs text  YES ',
      'rolled_back_at timestamp with time zone  YES ',
      'started_at timestamp with time zone  NO now()',
      'applied_steps_count integer  NO 0',
    ]);
  });

  it('serialises concurrent runners: one applies, the others find nothing to do', async () => {
    const db = database('concurrent');
    const results = await Promise.all(
      [1, 2, 3].map(() => runMigrations({ databaseUrl: db.url, migrationsDir })),
    );
    expect(results.map((r) => r.applied).sort()).toEqual([[], [], ALL]);
    expect(await history(db.url)).toHaveLength(ALL.length);
  });

  it('applies only the migrations added since the last run', async () => {
    const db = database('incremental');
    const dir = copyOfMigrations();
    await runMigrations({ databaseUrl: db.url, migrationsDir: dir });

    mkdirSync(path.join(dir, '20991231000000_add_note'));
    writeFileSync(
      path.join(dir, '20991231000000_add_note', 'migration.sql'),
      'ALTER TABLE "jobs" ADD COLUMN "note" TEXT;\n',
    );
    await expect(runMigrations({ databaseUrl: db.url, migrationsDir: dir })).resolves.toEqual({
      applied: ['20991231000000_add_note'],
    });
    expect((await history(db.url)).map((r) => r.migration_name)).toEqual([...ALL, '20991231000000_add_note']);
  });

  it('refuses when an applied migration was edited afterwards', async () => {
    const db = database('checksum');
    const dir = copyOfMigrations();
    await runMigrations({ databaseUrl: db.url, migrationsDir: dir });

    appendFileSync(path.join(dir, INIT, 'migration.sql'), '\n-- an innocent-looking edit\n');
    const run = runMigrations({ databaseUrl: db.url, migrationsDir: dir });
    await expect(run).rejects.toBeInstanceOf(MigrationError);
    await expect(run).rejects.toMatchObject({ code: 'checksum_mismatch' });
    await expect(run).rejects.toThrow(new RegExp(`migration ${INIT} was modified after it was applied`));
  });

  it('rolls a failing migration back, records the failure, and refuses until it is resolved', async () => {
    const db = database('failing');
    const dir = copyOfMigrations();
    const broken = '20991231000000_broken';
    mkdirSync(path.join(dir, broken));
    writeFileSync(
      path.join(dir, broken, 'migration.sql'),
      'CREATE TABLE "half_done" ("id" INTEGER);\nALTER TABLE "no_such_table" ADD COLUMN "x" INTEGER;\n',
    );

    await expect(runMigrations({ databaseUrl: db.url, migrationsDir: dir })).rejects.toMatchObject({
      code: 'migration_failed',
      message: expect.stringContaining('no_such_table') as unknown,
    });
    const rows = await history(db.url);
    expect(rows.map((r) => [r.migration_name, r.finished_at !== null])).toEqual([
      ...ALL.map((name) => [name, true]),
      [broken, false],
    ]);
    expect(rows[ALL.length]!.logs).toContain('no_such_table');
    const halfDone = await withClient(
      db.url,
      async (c) =>
        (await c.query<{ t: string | null }>(`SELECT to_regclass('half_done')::text AS t`)).rows[0]!.t,
    );
    expect(halfDone).toBeNull();

    await expect(runMigrations({ databaseUrl: db.url, migrationsDir: dir })).rejects.toMatchObject({
      code: 'failed_migration_recorded',
      message: expect.stringContaining(`prisma migrate resolve --rolled-back ${broken}`) as unknown,
    });

    // What `prisma migrate resolve --rolled-back` does; then the fixed migration goes through.
    await withClient(db.url, (c) =>
      c.query(`UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = $1`, [broken]),
    );
    writeFileSync(path.join(dir, broken, 'migration.sql'), 'CREATE TABLE "half_done" ("id" INTEGER);\n');
    await expect(runMigrations({ databaseUrl: db.url, migrationsDir: dir })).resolves.toEqual({
      applied: [broken],
    });
  });

  it('refuses a database that has tables but no migration history', async () => {
    const db = database('baseline');
    await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${db.name}`));
    await withClient(db.url, (c) => c.query('CREATE TABLE legacy (id INTEGER)'));
    await expect(runMigrations({ databaseUrl: db.url, migrationsDir })).rejects.toMatchObject({
      code: 'database_not_empty',
    });
  });

  it('rejects a folder that is not a migrations folder', async () => {
    await expect(
      runMigrations({ databaseUrl: serverUrl, migrationsDir: path.join(tmpdir(), 'quarry-no-such-dir') }),
    ).rejects.toMatchObject({ code: 'invalid_migrations_dir' });
  });
});
