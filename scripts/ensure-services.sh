#!/usr/bin/env bash
# Makes PostgreSQL and NATS (with JetStream) answer where DATABASE_URL and NATS_URL point (ADR 36).
# A server that already answers is used as it is and never touched. When nothing answers on a local
# address (localhost, 127.0.0.1, ::1), Quarry starts a server of its own there, with its data, logs and
# pid files under QUARRY_DATA_DIR (default .quarry/ in the repository): as root it first installs the
# Debian packages that are missing; without root it uses the binaries that are there, or prints the exact
# commands and fails. Servers started here keep running after `npm start` ends; `npm run stop:services`
# (scripts/stop-services.sh) stops them, and only them.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[36m[services]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[services]\033[0m %s\n' "$*" >&2; exit 1; }

data=$(realpath -m "${QUARRY_DATA_DIR:-.quarry}")
read -r db_host db_port db_user nats_host nats_port < <(node -e '
  const db = new URL(process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/quarry");
  const nats = new URL((process.env.NATS_URL || "nats://127.0.0.1:4222").split(",")[0]);
  const host = (h) => (h || "127.0.0.1").replace(/^\[(.*)\]$/, "$1");
  console.log(host(db.hostname), db.port || 5432, decodeURIComponent(db.username) || "postgres", host(nats.hostname), nats.port || 4222)')
reachable() { node -e 'const s=require("net").connect({host:process.argv[1],port:+process.argv[2]});s.setTimeout(2000);s.on("connect",()=>process.exit(0));s.on("error",()=>process.exit(1));s.on("timeout",()=>process.exit(1))' "$1" "$2"; }
is_local() { case "$1" in localhost | 127.0.0.1 | ::1) return 0 ;; *) return 1 ;; esac; }
# Polls until host:port answers or the deadline (seconds) passes.
wait_reachable() {
  local deadline=$(($(date +%s) + $3))
  until reachable "$1" "$2"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

pg_ok=true nats_ok=true
reachable "$db_host" "$db_port" || pg_ok=false
reachable "$nats_host" "$nats_port" || nats_ok=false
$pg_ok && $nats_ok && exit 0

if ! $pg_ok && ! is_local "$db_host"; then
  die "PostgreSQL is not reachable at $db_host:$db_port, which is not this machine: start it there, or point DATABASE_URL at a running server (or at a free local port, and npm start runs one of its own)."
fi
if ! $nats_ok && ! is_local "$nats_host"; then
  die "NATS is not reachable at $nats_host:$nats_port, which is not this machine: start it there (with JetStream), or point NATS_URL at a running server (or at a free local port, and npm start runs one of its own)."
fi

pg_bindir() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(realpath "$(command -v pg_ctl)")"
    return
  fi
  # Debian keeps the server's programs off PATH, one folder per major version: take the newest.
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}
nats_bin() { command -v nats-server 2>/dev/null || { [ -x /usr/sbin/nats-server ] && echo /usr/sbin/nats-server; } || true; }

# 1. The programs, from Debian's packages when they are missing.
missing=()
! $pg_ok && [ -z "$(pg_bindir)" ] && missing+=(postgresql)
! $nats_ok && [ -z "$(nats_bin)" ] && missing+=(nats-server)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != "0" ]; then
    die "$(printf 'not installed: %s (installing needs root). Install, then run npm start again, which starts them under %s:\n    sudo apt-get install -y %s\nor point %s at a running server.' \
      "${missing[*]}" "$data" "${missing[*]}" "$(! $pg_ok && echo DATABASE_URL)$(! $pg_ok && ! $nats_ok && echo ' and ')$(! $nats_ok && echo NATS_URL)")"
  fi
  say "installing ${missing[*]} from Debian's packages"
  install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
  if ! install 2>/dev/null; then
    say "refreshing the apt package lists"
    apt-get update -q >/dev/null
    install
  fi
  # Debian's postgresql package makes and starts a cluster of its own on 5432 where it can: when that
  # is the port asked for, that server is the one to use.
  ! $pg_ok && reachable "$db_host" "$db_port" && { say "PostgreSQL from the package answers at $db_host:$db_port"; pg_ok=true; }
  [ -n "$(pg_bindir)" ] || $pg_ok || die "postgresql is installed but initdb and pg_ctl are not found"
  [ -n "$(nats_bin)" ] || $nats_ok || die "nats-server is installed but not found"
fi

mkdir -p "$data"
chmod 755 "$data"
stop_hint="${QUARRY_DATA_DIR:+QUARRY_DATA_DIR=$data }npm run stop:services   (stops only what npm start started under $data)"
started=()

# 2. PostgreSQL: a cluster of its own in $data/postgres, trusting local connections, listening only on
#    the address asked for, its socket in $data/run. initdb and postgres refuse to run as root, so as root
#    they run as the postgres system user (which the Debian package makes).
if ! $pg_ok; then
  bindir=$(pg_bindir)
  pgdata=$data/postgres
  sock=$data/run
  as_pg=()
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user to run PostgreSQL as: create one (useradd --system postgres) or run npm start as an ordinary user"
    as_pg=(runuser -u postgres --)
  fi
  mkdir -p "$pgdata" "$sock"
  touch "$data/postgres.log"
  if [ "${#as_pg[@]}" -gt 0 ]; then
    chown postgres: "$pgdata" "$sock" "$data/postgres.log"
    "${as_pg[@]}" test -w "$pgdata" ||
      die "the postgres user cannot reach $pgdata: let it through the folders above (chmod o+x) or set QUARRY_DATA_DIR to a folder it can reach"
  fi
  chmod 700 "$pgdata"
  # A Unix socket path is limited to 107 bytes; past that, TCP only.
  [ "${#sock}" -le 90 ] || sock=""
  if [ ! -e "$pgdata/PG_VERSION" ]; then
    say "creating a PostgreSQL cluster in $pgdata (superuser $db_user, trust for local connections)"
    "${as_pg[@]}" "$bindir/initdb" -D "$pgdata" -U "$db_user" --auth-local=trust --auth-host=trust \
      -E UTF8 --locale=C.UTF-8 >"$data/initdb.log" 2>&1 ||
      die "initdb failed; its output is in $data/initdb.log"
  fi
  say "starting PostgreSQL ($bindir) on $db_host:$db_port"
  listen=$db_host
  [ "$db_host" = localhost ] && listen=127.0.0.1
  if ! "${as_pg[@]}" "$bindir/pg_ctl" -D "$pgdata" -l "$data/postgres.log" -w -t 60 \
    -o "-p $db_port -k '$sock' -c listen_addresses='$listen'" start >/dev/null; then
    tail -n 20 "$data/postgres.log" >&2 || true
    die "PostgreSQL did not start; its log is $data/postgres.log"
  fi
  wait_reachable "$db_host" "$db_port" 30 || die "PostgreSQL started but does not answer at $db_host:$db_port; see $data/postgres.log"
  started+=("PostgreSQL at $db_host:$db_port (data $pgdata, log $data/postgres.log; stop: ${as_pg[*]}${as_pg:+ }$bindir/pg_ctl -D $pgdata stop)")
fi

# 3. NATS with JetStream, detached, its store, log and pid file in $data.
if ! $nats_ok; then
  bin=$(nats_bin)
  mkdir -p "$data/nats"
  say "starting NATS with JetStream ($bin) on $nats_host:$nats_port"
  setsid "$bin" -a "$nats_host" -p "$nats_port" -js -sd "$data/nats" -l "$data/nats.log" -P "$data/nats.pid" \
    </dev/null >/dev/null 2>&1 &
  if ! wait_reachable "$nats_host" "$nats_port" 30; then
    tail -n 20 "$data/nats.log" >&2 || true
    die "NATS did not start; its log is $data/nats.log"
  fi
  started+=("NATS at $nats_host:$nats_port (store $data/nats, log $data/nats.log; stop: kill \$(cat $data/nats.pid))")
fi

say "started for Quarry, and left running after npm start ends (the next start reuses them):"
for s in "${started[@]}"; do say "  $s"; done
say "stop them with: $stop_hint"
