#!/usr/bin/env bash
# The full chaos run (`npm run test:chaos`, after the set-up of scripts/ensure.sh): every scenario of
# e2e/src/chaos/*.chaos-spec.ts against PostgreSQL and NATS instances of its own, then one line of
# figures per scenario. CHAOS_JOBS / CHAOS_RATE change the load; extra arguments go to Jest
# (e.g. --testPathPatterns cluster).
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/node_modules/.bin:$PATH"
export NX_DAEMON=false NX_NO_CLOUD=true
export NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules --disable-warning=ExperimentalWarning"
results=tmp/chaos/results.jsonl
mkdir -p tmp/chaos tmp/jest
started=$(date +%s)

# In the background only to learn its pid: run dirs end in the pid of the test process, which tells
# this run's figures from those of other runs (the small run of `npm test`) appended meanwhile.
jest --selectProjects chaos --ci --runInBand --json --outputFile=tmp/jest/chaos.json "$@" &
jest_pid=$!
wait $jest_pid
status=$?

printf '\n\033[36m==> chaos figures\033[0m\n'
touch "$results"
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)
    .map((l) => JSON.parse(l)).filter((r) => r.run.endsWith(`-${process.argv[2]}`));
  for (const r of lines) {
    console.log(`scenario=${r.scenario} jobs=${r.jobs} lost=${r.lost} duplicated=${r.duplicated} stuck=${r.stuck} ` +
      `failed=${r.failed} inconsistent=${r.inconsistent} leftover=${r.leftover} elapsed=${r.elapsedS.toFixed(1)}s`);
  }
  if (lines.length === 0) console.log("no scenario finished");
' "$results" "$jest_pid"
echo "total $(($(date +%s) - started))s"
exit $status
