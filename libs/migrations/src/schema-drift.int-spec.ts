import { readFileSync } from 'node:fs';
import { checkSchemaDrift, findMigrationsDir, findPrismaSchemaPath, runMigrations } from './index';
import { type ScratchDatabase, scratchDatabase, withClient } from './__fixtures__/scratch-database';

const serverUrl = process.env.QUARRY_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const schemaPath = findPrismaSchemaPath(__dirname);

/**
 * The guard that stands in for `prisma migrate diff`: the migrations in prisma/migrations, applied to
 * an empty database, must produce exactly what schema.prisma describes (plus the allow-listed
 * hand-made extras). When this fails, write the missing migration or fix the schema.
 */
describe('schema.prisma and prisma/migrations', () => {
  let db: ScratchDatabase;

  beforeAll(async () => {
    db = scratchDatabase(serverUrl, 'drift');
    await runMigrations({ databaseUrl: db.url, migrationsDir: findMigrationsDir(__dirname) });
  });
  afterAll(async () => {
    await db.drop();
  });

  it('agree', async () => {
    expect(await checkSchemaDrift({ databaseUrl: db.url, schemaPath })).toEqual([]);
  });

  it('disagree when the schema gains a field no migration adds', async () => {
    const schema = readFileSync(schemaPath, 'utf8').replace(
      '  attempts       Int       @default(0)\n',
      '  attempts       Int       @default(0)\n  priority       Int       @default(0)\n',
    );
    expect(await checkSchemaDrift({ databaseUrl: db.url, schema })).toEqual([
      'column jobs.priority: in schema.prisma, missing from the database',
    ]);
  });

  it('disagree when the database has changes no schema describes', async () => {
    const scratch = scratchDatabase(serverUrl, 'drift_db');
    try {
      await runMigrations({ databaseUrl: scratch.url, migrationsDir: findMigrationsDir(__dirname) });
      await withClient(scratch.url, (c) =>
        c.query(`
          ALTER TABLE jobs ADD COLUMN note TEXT;
          ALTER TABLE documents ALTER COLUMN filename DROP NOT NULL;
          DROP INDEX chunks_embedding_512_hnsw_idx;
          ALTER TYPE job_status ADD VALUE 'paused';
          CREATE INDEX pages_text_idx ON pages (md5(text));
        `),
      );
      expect(await checkSchemaDrift({ databaseUrl: scratch.url, schemaPath })).toEqual([
        'allow-listed indexes entry chunks_embedding_512_hnsw_idx: missing from the database',
        'column documents.filename: nullable in the database, NOT NULL per schema.prisma',
        'column jobs.note: in the database, not in schema.prisma',
        'enum job_status: values are (queued, running, succeeded, completed_with_failures, failed, cancelled, paused) in the database, (queued, running, succeeded, completed_with_failures, failed, cancelled) per schema.prisma',
        'index pages_text_idx on pages(md5(text)): in the database, not in schema.prisma',
      ]);
    } finally {
      await scratch.drop();
    }
  });
});
