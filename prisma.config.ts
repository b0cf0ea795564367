// Prisma 7 CLI configuration. The datasource URL lives here (not in schema.prisma) and is read from the
// environment by the CLI only; applications pass their URL to createPrismaClient explicitly.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { defineConfig } from 'prisma/config';

const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/quarry';

// The CLI insists on a native schema engine even for `generate`, which needs none, and downloading it
// fails offline. When no engine has been installed, point it at a stub that exists (enough for
// `generate`) and explains itself if something does try to run it (`migrate`: use db:migrate instead).
function hasDownloadedSchemaEngine(): boolean {
  const dir = path.join(__dirname, 'node_modules', '@prisma', 'engines');
  return existsSync(dir) && readdirSync(dir).some((f) => f.startsWith('schema-engine-'));
}
if (!process.env.PRISMA_SCHEMA_ENGINE_BINARY && !hasDownloadedSchemaEngine()) {
  process.env.PRISMA_SCHEMA_ENGINE_BINARY = path.join(__dirname, 'prisma', 'offline-schema-engine.sh');
}

export default defineConfig({
  schema: path.join(__dirname, 'prisma', 'schema.prisma'),
  migrations: { path: path.join(__dirname, 'prisma', 'migrations') },
  datasource: { url: process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL },
});
