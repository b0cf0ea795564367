#!/bin/sh
# Stands in for Prisma's native schema engine where it cannot be downloaded (prisma.config.ts points
# PRISMA_SCHEMA_ENGINE_BINARY here). `prisma generate` only checks that the file exists. A command that
# really needs the engine (migrate, db push, db pull) fails at once with "Schema engine error" instead
# of trying a download; the CLI does not show this message, but DEBUG=prisma* and a manual run do.
echo "Prisma's schema engine is not installed here (its download fails offline). Apply migrations with 'npm run db:migrate' (runMigrations in libs/persistence); write new ones by hand in prisma/migrations." >&2
exit 1
