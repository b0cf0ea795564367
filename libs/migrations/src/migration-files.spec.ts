import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findMigrationsDir, findPrismaSchemaPath, readMigrationFiles } from './migration-files';

const repoRoot = path.resolve(__dirname, '../../..');

describe('findMigrationsDir', () => {
  it('finds prisma/migrations from the sources and from the build output', () => {
    const expected = path.join(repoRoot, 'prisma', 'migrations');
    expect(findMigrationsDir(__dirname)).toBe(expected);
    expect(findMigrationsDir(path.join(repoRoot, 'dist', 'libs', 'migrations', 'src'))).toBe(expected);
    expect(findPrismaSchemaPath(__dirname)).toBe(path.join(repoRoot, 'prisma', 'schema.prisma'));
  });

  it('says where it looked when there is none', () => {
    expect(() => findMigrationsDir(tmpdir())).toThrow(/no prisma\/migrations in .* or any folder above it/);
  });
});

describe('readMigrationFiles', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'quarry-migration-files-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const add = (name: string, sql: string): void => {
    mkdirSync(path.join(dir, name));
    writeFileSync(path.join(dir, name, 'migration.sql'), sql);
  };

  it("lists folders in byte order with Prisma's checksum (sha256 hex of the file)", () => {
    add('20250102000000_b', 'SELECT 2;\n');
    add('20250101000000_a', 'SELECT 1;\n');
    add('20250101000000_B', 'SELECT 0;\n');
    writeFileSync(path.join(dir, 'migration_lock.toml'), 'provider = "postgresql"\n');
    const files = readMigrationFiles(dir);
    expect(files.map((f) => f.name)).toEqual(['20250101000000_B', '20250101000000_a', '20250102000000_b']);
    expect(files[2]!.checksum).toBe(createHash('sha256').update('SELECT 2;\n').digest('hex'));
  });

  it('matches the checksum of the real init migration byte for byte', () => {
    const real = readMigrationFiles(findMigrationsDir(__dirname))[0]!;
    const bytes = readFileSync(path.join(findMigrationsDir(__dirname), real.name, 'migration.sql'));
    expect(real.checksum).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('rejects a folder without migration.sql and a lock file for another provider', () => {
    mkdirSync(path.join(dir, '20250101000000_empty'));
    expect(() => readMigrationFiles(dir)).toThrow(/20250101000000_empty has no migration.sql/);
    rmSync(path.join(dir, '20250101000000_empty'), { recursive: true });
    writeFileSync(path.join(dir, 'migration_lock.toml'), 'provider = "mysql"\n');
    expect(() => readMigrationFiles(dir)).toThrow(/not for PostgreSQL/);
  });
});
