#!/usr/bin/env bash
# Every check, in the order that fails fastest: format, lint (type-aware, module boundaries),
# typecheck, unit tests, integration tests (real NATS JetStream + PostgreSQL/pgvector), end-to-end
# tests (the built apps as processes). Run through `npm test`, which does the set-up first.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
export NX_DAEMON=false NX_NO_CLOUD=true NX_SOCKET_DIR="${NX_SOCKET_DIR:-$PWD/tmp/nx-socket}"
mkdir -p tmp/jest
# pdf.js and the Prisma 7 client load ESM with a native dynamic import(), which Jest only allows with
# vm modules on.
export NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules --disable-warning=ExperimentalWarning"

started=$(date +%s)
# The browser the web console's e2e test drives (Debian's chromium; not needed by npm start).
bash scripts/ensure-chromium.sh
failed_steps=()
step() {
  local name=$1
  shift
  printf '\n\033[36m==> %s\033[0m\n' "$name"
  local t0=$(date +%s)
  if "$@"; then
    printf '\033[32m<== %s ok (%ss)\033[0m\n' "$name" $(($(date +%s) - t0))
  else
    printf '\033[31m<== %s FAILED (%ss)\033[0m\n' "$name" $(($(date +%s) - t0))
    failed_steps+=("$name")
  fi
}

step format prettier --check --log-level warn .
step lint bash -c 'nx show projects >/dev/null && eslint --max-warnings=0 .'
step typecheck tsc -p tsconfig.json
# The web console is browser code (DOM types, Preact's JSX): a project of its own.
step typecheck-console tsc -p apps/console/tsconfig.json
# Two workers: the machine has two cores, and each integration suite owns its own database and
# NATS namespace, so suites run side by side safely.
step unit jest --selectProjects unit --ci --maxWorkers=2 --json --outputFile=tmp/jest/unit.json
step integration jest --selectProjects integration --ci --maxWorkers=2 --json --outputFile=tmp/jest/integration.json
step e2e jest --selectProjects e2e --ci --runInBand --json --outputFile=tmp/jest/e2e.json

# One closing line over all tiers, in the plain 'N passed, N failed' form.
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const tier of ["unit", "integration", "e2e"]) {
    const f = `tmp/jest/${tier}.json`;
    if (!fs.existsSync(f)) { failed++; continue; }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests + r.numRuntimeErrorTestSuites; skipped += r.numPendingTests + r.numTodoTests;
    console.log(`${tier}: ${r.numPassedTests} passed, ${r.numFailedTests} failed in ${r.numTotalTestSuites} suites`);
  }
  console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
'
echo "total $(($(date +%s) - started))s"
if [ ${#failed_steps[@]} -gt 0 ]; then
  echo "failed: ${failed_steps[*]}"
  exit 1
fi
