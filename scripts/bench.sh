#!/usr/bin/env bash
# make bench: every benchmark in benchmarks/ side by side, ending with one table of figures
# (docs/performance.md). Arguments go to `python -m benchmarks.run_all`, e.g. --quick.
# Makes sure PostgreSQL and Redis answer on 127.0.0.1 as scripts/test.sh does; the HTTP
# benchmarks create (and drop) their own database, bench_tracker, and use Redis db 14.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh requirements-dev.txt

source scripts/services.sh

ensure_wrk() {
  # wrk (C) leaves the cores to the server; without it the Python load generator is used.
  if command -v wrk >/dev/null; then return; fi
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "Installing Debian's wrk for the HTTP benchmarks..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null \
      || echo "wrk could not be installed: the Python load generator will be used." >&2
  else
    echo "wrk is missing: the Python load generator will be used." >&2
  fi
}

ensure_postgres
ensure_redis
ensure_wrk

python -m benchmarks.run_all "$@"
