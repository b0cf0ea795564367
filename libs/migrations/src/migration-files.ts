import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface MigrationFile {
  /** The folder name, e.g. `20251123000000_init`; Prisma's `migration_name`. */
  name: string;
  sql: string;
  /** sha256 hex of the file's bytes, as Prisma stores it in `_prisma_migrations.checksum`. */
  checksum: string;
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';

  constructor(
    readonly code:
      | 'invalid_migrations_dir'
      | 'failed_migration_recorded'
      | 'checksum_mismatch'
      | 'migration_failed'
      | 'database_not_empty',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Reads Prisma's folder layout: `<dir>/<name>/migration.sql`, applied in name order. */
export function readMigrationFiles(migrationsDir: string): MigrationFile[] {
  if (!existsSync(migrationsDir) || !statSync(migrationsDir).isDirectory()) {
    throw new MigrationError('invalid_migrations_dir', `migrations folder not found: ${migrationsDir}`);
  }
  checkLockProvider(migrationsDir);
  const names = readdirSync(migrationsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    // Byte order, not locale order: Prisma sorts migration names the same way.
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names.map((name) => {
    const file = path.join(migrationsDir, name, 'migration.sql');
    if (!existsSync(file)) {
      throw new MigrationError('invalid_migrations_dir', `migration folder ${name} has no migration.sql`);
    }
    const bytes = readFileSync(file);
    return { name, sql: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') };
  });
}

function checkLockProvider(migrationsDir: string): void {
  const lockFile = path.join(migrationsDir, 'migration_lock.toml');
  if (!existsSync(lockFile)) return;
  const provider = /^\s*provider\s*=\s*"([^"]+)"/m.exec(readFileSync(lockFile, 'utf8'))?.[1];
  if (provider !== undefined && provider !== 'postgresql') {
    throw new MigrationError(
      'invalid_migrations_dir',
      `${lockFile} says provider = "${provider}"; these migrations are not for PostgreSQL`,
    );
  }
}

/**
 * Walks up from `startDir` to the folder holding `prisma/migrations`. Works from the TypeScript
 * sources (libs/migrations/src) and from the build (dist/libs/migrations/src),
 * which both sit below the repository root.
 */
export function findMigrationsDir(startDir: string = __dirname): string {
  return findUp(startDir, path.join('prisma', 'migrations'));
}

/** The repository's `prisma/schema.prisma`, found the same way as {@link findMigrationsDir}. */
export function findPrismaSchemaPath(startDir: string = __dirname): string {
  return findUp(startDir, path.join('prisma', 'schema.prisma'));
}

function findUp(startDir: string, relative: string): string {
  let dir = path.resolve(startDir);
  for (;;) {
    const candidate = path.join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new MigrationError(
        'invalid_migrations_dir',
        `no ${relative} in ${path.resolve(startDir)} or any folder above it`,
      );
    }
    dir = parent;
  }
}
