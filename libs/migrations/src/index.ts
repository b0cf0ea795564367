export {
  findMigrationsDir,
  findPrismaSchemaPath,
  MigrationError,
  readMigrationFiles,
} from './migration-files';
export type { MigrationFile } from './migration-files';
export { PRISMA_MIGRATE_ADVISORY_LOCK, runMigrations } from './run-migrations';
export type { RunMigrationsOptions, RunMigrationsResult } from './run-migrations';
export { checkSchemaDrift } from './schema-drift';
export type { CheckSchemaDriftOptions } from './schema-drift';
export { HAND_MADE_SCHEMA_EXTRAS } from './hand-made-extras';
export { introspectDatabase } from './introspect';
export { parsePrismaSchema } from './prisma-datamodel';
export type { ParsedPrismaSchema } from './prisma-datamodel';
export { ANY_DEFAULT, diffSchemas, expectedSchemaFromPrisma } from './schema-snapshot';
export type { SchemaExtras, SchemaSnapshot } from './schema-snapshot';
