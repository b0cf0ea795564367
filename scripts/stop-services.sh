#!/usr/bin/env bash
# `npm run stop:services`: stops the PostgreSQL and NATS that `npm start` started under QUARRY_DATA_DIR
# (default .quarry/), found by their data folder and pid file, never by port or name: servers it did not
# start (the machine's own) are never touched. Their data stays; the next `npm start` starts them again.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[36m[services]\033[0m %s\n' "$*"; }

data=$(realpath -m "${QUARRY_DATA_DIR:-.quarry}")
stopped=0

pgdata=$data/postgres
if [ -e "$pgdata/postmaster.pid" ]; then
  pg_ctl=$(command -v pg_ctl 2>/dev/null || true)
  # The cluster's own major version picks the pg_ctl (Debian keeps one per version off PATH).
  version=$(cat "$pgdata/PG_VERSION" 2>/dev/null || true)
  [ -n "$version" ] && [ -x "/usr/lib/postgresql/$version/bin/pg_ctl" ] && pg_ctl=/usr/lib/postgresql/$version/bin/pg_ctl
  [ -n "$pg_ctl" ] || { echo "pg_ctl not found: stop PostgreSQL with kill \$(head -1 $pgdata/postmaster.pid)" >&2; exit 1; }
  as_pg=()
  [ "$(id -u)" = "0" ] && as_pg=(runuser -u "$(stat -c %U "$pgdata")" --)
  if "${as_pg[@]}" "$pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    "${as_pg[@]}" "$pg_ctl" -D "$pgdata" -m fast -w -t 60 stop >/dev/null
    say "stopped PostgreSQL (data $pgdata)"
    stopped=1
  fi
fi

if [ -e "$data/nats.pid" ]; then
  pid=$(cat "$data/nats.pid")
  # Only the nats-server whose store is this data folder: a pid may have been reused since.
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-sd $data/nats "; then
    kill -TERM "$pid"
    deadline=$(($(date +%s) + 30))
    while kill -0 "$pid" 2>/dev/null; do
      [ "$(date +%s)" -lt "$deadline" ] || { kill -KILL "$pid" 2>/dev/null || true; break; }
      sleep 0.1
    done
    say "stopped NATS (store $data/nats)"
    stopped=1
  fi
  rm -f "$data/nats.pid"
fi

[ "$stopped" = 1 ] || say "nothing of Quarry's own is running under $data"
