import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { HAND_MADE_SCHEMA_EXTRAS } from './hand-made-extras';
import { introspectDatabase } from './introspect';
import { parsePrismaSchema } from './prisma-datamodel';
import { type SchemaExtras, diffSchemas, expectedSchemaFromPrisma } from './schema-snapshot';

export interface CheckSchemaDriftOptions {
  /** A database the migrations have been applied to. */
  databaseUrl: string;
  /** The schema text; or give `schemaPath`. */
  schema?: string;
  schemaPath?: string;
  /** Defaults to {@link HAND_MADE_SCHEMA_EXTRAS}. */
  extras?: SchemaExtras;
}

/**
 * Compares a migrated database with schema.prisma and returns every difference (empty: they agree).
 * Stands in for `prisma migrate diff`, whose native engine cannot be installed offline: the schema is
 * read with Prisma's own wasm parser, the database from pg_catalog.
 */
export async function checkSchemaDrift(options: CheckSchemaDriftOptions): Promise<string[]> {
  const schemaText =
    options.schema ?? (options.schemaPath ? readFileSync(options.schemaPath, 'utf8') : undefined);
  if (schemaText === undefined) throw new Error('checkSchemaDrift needs schema or schemaPath');
  const expected = expectedSchemaFromPrisma(parsePrismaSchema(schemaText));
  const client = new Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    return diffSchemas(expected, await introspectDatabase(client), options.extras ?? HAND_MADE_SCHEMA_EXTRAS);
  } finally {
    await client.end();
  }
}
