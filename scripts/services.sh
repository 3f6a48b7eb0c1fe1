# Sourced by test.sh, bench.sh and proof.sh: make sure PostgreSQL and Redis answer on
# 127.0.0.1, starting them when they are installed but stopped.

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return; fi
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is stopped: starting it..."
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return; sleep 1; done
  fi
  echo "PostgreSQL does not answer on 127.0.0.1:5432 and could not be started." >&2
  echo "Install it (apt-get install postgresql) with trust auth for user postgres." >&2
  exit 1
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
  if command -v redis-server >/dev/null; then
    echo "Redis is stopped: starting it..."
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return; sleep 0.5; done
  fi
  echo "Redis does not answer on 127.0.0.1:6379 and could not be started." >&2
  echo "Install it (apt-get install redis-server)." >&2
  exit 1
}
