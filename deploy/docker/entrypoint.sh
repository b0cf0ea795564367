#!/bin/sh
# The image's entry point: the first argument names what to run, so compose files and Kubernetes
# manifests say `gateway` or `ops migrate` instead of a path into dist/. `exec` makes Node PID 1, so
# SIGTERM reaches the app's own graceful shutdown (stop pulling, finish in-flight work, exit 0).
set -eu
cd /app
case "${1:-}" in
  gateway | ingest-worker | analysis-worker | ops)
    app=$1
    shift
    # The Node flags the app asks for in its package.json (quarry.nodeFlags), as `npm start` passes them.
    # shellcheck disable=SC2046 # one flag per word, on purpose
    exec node $(node -p "(require('./apps/$app/package.json').quarry?.nodeFlags ?? []).join(' ')") \
      --enable-source-maps "dist/apps/$app/src/main.js" "$@"
    ;;
  "")
    echo "usage: quarry <gateway | ingest-worker | analysis-worker | ops <migrate | provision | setup | tenant create <name> | api-key ...>>" >&2
    exit 2
    ;;
  *)
    # Anything else (a shell, `node -e ...`) runs as given.
    exec "$@"
    ;;
esac
