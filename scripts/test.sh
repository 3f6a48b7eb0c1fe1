#!/usr/bin/env bash
# One command: install, make sure PostgreSQL and Redis answer on 127.0.0.1, then ruff, the
# migration check and the whole pytest suite against them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh requirements-dev.txt

source scripts/services.sh

ensure_chromium() {
  # The browser tests drive Debian's Chromium; never a downloaded browser build.
  if [ -x /usr/bin/chromium ]; then return; fi
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "Installing Debian's chromium for the browser tests..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
      || echo "chromium could not be installed: browser tests will be skipped." >&2
  else
    echo "chromium is missing and cannot be installed here: browser tests will be skipped." >&2
  fi
}

ensure_postgres
ensure_redis
ensure_chromium

export DJANGO_SETTINGS_MODULE=config.settings.test
echo "== ruff"
ruff check .
ruff format --check . >/dev/null || { echo "ruff format: files need formatting (run: ruff format .)"; exit 1; }
echo "== migrations"
python manage.py makemigrations --check --dry-run
echo "== pytest"
python -m pytest "$@"
