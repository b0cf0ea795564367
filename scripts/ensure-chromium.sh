#!/usr/bin/env bash
# Makes Debian's Chromium available for the web console's end-to-end test (e2e/src/console.e2e-spec.ts drives it
# with playwright-core; Playwright's own browser download cannot work here). Installed from Debian's `chromium`
# package when /usr/bin/chromium (or CHROMIUM_PATH) is missing; idempotent and instant when it is there. `npm test`
# runs it; `npm start` does not need a browser.
set -euo pipefail

say() { printf '\033[36m[ensure]\033[0m %s\n' "$*"; }
browser="${CHROMIUM_PATH:-/usr/bin/chromium}"

[ -x "$browser" ] && exit 0

if [ "$(id -u)" != "0" ]; then
  say "Chromium is missing at $browser: the web console's e2e test needs it"
  say "install it as root: apt-get install --no-install-recommends chromium (or point CHROMIUM_PATH at one)"
  exit 0
fi

say "installing chromium from apt (for the web console's e2e test)"
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null; }
if ! install 2>/dev/null; then
  # A fresh image has no package lists ("Unable to locate package"): fetch them once and retry.
  say "refreshing the apt package lists"
  apt-get update -q >/dev/null
  install
fi
[ -x "$browser" ] || { echo "[ensure] $browser is still missing after installing chromium" >&2; exit 1; }
say "chromium installed: $("$browser" --version 2>/dev/null || echo "$browser")"
