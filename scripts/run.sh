#!/usr/bin/env bash
# One command on a fresh machine: venv, install, migrate, seed the demo, then web + Celery
# worker + beat on the embedded default (SQLite, Kombu's filesystem broker, local media).
# Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh requirements.txt

export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
PORT="${PORT:-8000}"
mkdir -p var/broker/queue var/broker/processed var/media

python manage.py migrate --noinput
python manage.py seed_demo ${DEMO_PASSWORD:+--password "$DEMO_PASSWORD"}
python manage.py evaluate_patients

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "Stopping web, worker and beat..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

python manage.py runserver "127.0.0.1:${PORT}" --noreload & pids+=($!)
celery -A config worker -l warning -Q default,alerts --concurrency 2 & pids+=($!)
celery -A config beat -l warning --schedule var/celerybeat-schedule & pids+=($!)

sleep 2
cat <<MSG

  Service:    http://127.0.0.1:${PORT}/          (health: /health/, ready: /ready/)
  Dashboard:  http://127.0.0.1:${PORT}/dashboard/
  API docs:   http://127.0.0.1:${PORT}/api/docs/
  Demo logins are printed above by seed_demo. Press Ctrl-C to stop everything.

MSG
wait -n "${pids[@]}"
