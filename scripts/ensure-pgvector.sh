#!/usr/bin/env bash
# Makes the pgvector extension available to the local PostgreSQL server.
# Debian bookworm ships no pgvector package, so it is built from Debian's own source package
# (trixie) against server headers unpacked with `dpkg -x` (installing postgresql-server-dev
# would upgrade the running server). Idempotent: does nothing when the extension is available.
set -euo pipefail

PGHOST_ADDR="${PGHOST:-127.0.0.1}"
psql_q() { psql -h "$PGHOST_ADDR" -U postgres -d postgres -Atc "$1"; }

if [ "$(psql_q "select count(*) from pg_available_extensions where name = 'vector'")" = "1" ]; then
  exit 0
fi

if [ "$(id -u)" != "0" ]; then
  echo "pgvector is not installed in PostgreSQL and building it needs root." >&2
  echo "Install it (e.g. 'apt-get install postgresql-15-pgvector' where available) or rerun as root." >&2
  exit 1
fi

pg_major=$(psql_q "show server_version_num" | cut -c1-2)
pg_config="/usr/lib/postgresql/${pg_major}/bin/pg_config"
if apt-cache policy "postgresql-${pg_major}-pgvector" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  echo "[ensure] installing postgresql-${pg_major}-pgvector from apt"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "postgresql-${pg_major}-pgvector" >/dev/null
  exit 0
fi

echo "[ensure] building pgvector from Debian's source package for PostgreSQL ${pg_major} (about a minute)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sources_file=$(ls /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 || true)
uri=""
[ -n "$sources_file" ] && uri=$(awk '/^URIs:/{print $2; exit}' "$sources_file")
[ -n "$uri" ] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$uri" ] || { echo "cannot find the Debian mirror in /etc/apt" >&2; exit 1; }

mkdir -p "$work/sp" "$work/lists/partial"
printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" >"$work/sp/trixie.sources"
apt_opts=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$work/sp" -o "Dir::State::Lists=$work/lists")
command -v dpkg-source >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q dpkg-dev >/dev/null
(
  cd "$work"
  apt-get "${apt_opts[@]}" -q update >/dev/null
  apt-get "${apt_opts[@]}" -q source --download-only pgvector >/dev/null
  apt-get -q download "postgresql-server-dev-${pg_major}" >/dev/null 2>&1 ||
    { apt-get -q update >/dev/null && apt-get -q download "postgresql-server-dev-${pg_major}" >/dev/null; }
  dpkg -x postgresql-server-dev-"${pg_major}"_*.deb hdr
  dpkg-source -x pgvector_*.dsc src >/dev/null
  cd src
  make -s with_llvm=no PG_CONFIG="$pg_config" \
    includedir_server="$work/hdr/usr/include/postgresql/${pg_major}/server" >/dev/null
  make -s with_llvm=no PG_CONFIG="$pg_config" \
    includedir_server="$work/hdr/usr/include/postgresql/${pg_major}/server" install >/dev/null
)
if [ "$(psql_q "select count(*) from pg_available_extensions where name = 'vector'")" != "1" ]; then
  echo "pgvector build finished but PostgreSQL does not list the extension" >&2
  exit 1
fi
echo "[ensure] pgvector installed"
