#!/usr/bin/env bash
# make proof: the slow proofs, then the benchmarks; ends with a table of figures.
#
# 1. The fault proofs (tests/faults, docs/reliability.md): first the slow ones (`-m slow`,
#    RUN_SLOW=1: 20 pool kills, the whole worker killed 3 times, Redis down 60 s under
#    writes, PostgreSQL restarted under writes), then the fast ones, so that the table has
#    every fault. Each starts its own private Redis, PostgreSQL, Celery worker, beat and
#    gunicorn on free ports; the shared PostgreSQL holds only the test database
#    test_tracker_faults and the shared Redis is never stopped or flushed.
# 2. The load proof, `python -m benchmarks.load.run_load` (docs/security.md section 5):
#    capacity ramp, half capacity for 5 minutes, 150 % for 60 s, recovery. PROOF_LOAD=0
#    skips it.
# 3. `scripts/bench.sh` (benchmarks.run_all) when that module exists (docs/performance.md);
#    PROOF_BENCH=0 skips it.
# 4. The table of fault figures, and the status of each part.
#
# Arguments go to pytest (e.g. -x, -k kill). About 10 minutes for the faults on 2 CPUs.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh requirements-dev.txt

for need in "pg_isready -q -h 127.0.0.1 -p 5432" "redis-cli -h 127.0.0.1 -p 6379 ping"; do
  if ! $need >/dev/null 2>&1; then
    echo "'$need' failed: PostgreSQL and Redis must answer on 127.0.0.1 (see scripts/test.sh)." >&2
    exit 1
  fi
done
for tool in redis-server runuser; do
  command -v "$tool" >/dev/null || { echo "$tool is required by the fault proofs." >&2; exit 1; }
done
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
  || { echo "initdb (the PostgreSQL server package) is required by the fault proofs." >&2; exit 1; }

export DJANGO_SETTINGS_MODULE=config.settings.test
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tracker_faults}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/9}"
export RUN_SLOW=1
mkdir -p var/proof
stamp="$(date +%Y%m%d-%H%M%S)"
export FAULT_REPORT="var/proof/faults-$stamp.jsonl"
started=$SECONDS

echo "== fault proofs: slow (RUN_SLOW=1 -m slow)"
python -m pytest tests/faults -m slow -q -p no:randomly --basetemp="var/proof/tmp-$stamp" "$@"
slow_rc=$?
echo "== fault proofs: fast"
python -m pytest tests/faults -m "not slow" -q -p no:randomly --basetemp="var/proof/tmp-$stamp" "$@"
fast_rc=$?
faults_s=$((SECONDS - started))

load_rc="-"
if [ "${PROOF_LOAD:-1}" != 0 ]; then
  echo "== load: half capacity 5 min, 150 % for 60 s, recovery (python -m benchmarks.load.run_load)"
  python -m benchmarks.load.run_load
  load_rc=$?
fi

bench_rc="-"
if [ -f benchmarks/run_all.py ] && [ "${PROOF_BENCH:-1}" != 0 ]; then
  echo "== benchmarks (scripts/bench.sh: installs wrk when it can, then benchmarks.run_all)"
  bash scripts/bench.sh
  bench_rc=$?
fi
rm -rf "var/proof/tmp-$stamp"

echo
echo "== proof: fault figures ($FAULT_REPORT)"
python -m tests.faults.report "$FAULT_REPORT"
report_rc=$?
echo
printf '| %-26s | %-6s |\n' "part" "exit"
printf '|%s|%s|\n' "----------------------------" "--------"
printf '| %-26s | %-6s |\n' "faults, slow" "$slow_rc" "faults, fast" "$fast_rc" \
  "load (var/proof/load.json)" "$load_rc" "benchmarks" "$bench_rc" "fault table" "$report_rc"
total_s=$((SECONDS - started))
echo "faults took $((faults_s / 60)) min $((faults_s % 60)) s; in all $((total_s / 60)) min $((total_s % 60)) s"
[ "$slow_rc" = 0 ] && [ "$fast_rc" = 0 ] && [ "$report_rc" = 0 ] \
  && { [ "$load_rc" = 0 ] || [ "$load_rc" = "-" ]; } && { [ "$bench_rc" = 0 ] || [ "$bench_rc" = "-" ]; }
