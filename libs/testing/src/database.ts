import { createEmptyDatabase, type TestDatabase } from '@quarry/test-kit';
import { findMigrationsDir, runMigrations } from '@quarry/migrations';

/** A fresh database with every migration applied, as `npm start` would leave it. */
export function createTestDatabase(
  label = 'test',
  options: { serverUrl?: string } = {},
): Promise<TestDatabase> {
  return createEmptyDatabase(label, {
    ...options,
    prepare: (url) => runMigrations({ databaseUrl: url, migrationsDir: findMigrationsDir(__dirname) }),
  });
}
