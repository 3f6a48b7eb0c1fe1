"""The benchmark server: a dedicated PostgreSQL database, seed data, and gunicorn.

    with bench_server() as server:
        server.base_url, server.reader.token, server.new_patient("x").token, ...

One `bench_server()` serves every HTTP benchmark of a run (run_all shares it), so that all
figures come from the same server, database and seed. On exit gunicorn is stopped, the
database dropped and Redis db 14 (the server's broker and cache) flushed.

The server is gunicorn with 2 gthread workers of 4 threads each (`WORKERS`, `THREADS`): the
gthread worker keeps connections alive, so the load generator does not pay a TCP handshake
per request, and its threads overlap one request's database waits with another's Python.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "bench_tracker"
ADMIN_DSN = "postgres://postgres@127.0.0.1:5432/postgres"
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
    # Forced, not defaulted: this database is dropped and this Redis db flushed at the end.
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
    "REDIS_URL": "redis://127.0.0.1:6379/14",
    "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
    "LOG_LEVEL": "WARNING",
    "DJANGO_DEBUG": "false",
}
# Variables that would point the server somewhere else than the benchmark's services.
UNSET_ENV = ("CELERY_BROKER_URL", "JWT_SIGNING_KEY", "DB_CONN_MAX_AGE", "DJANGO_HTTPS")
WORKERS = 2
WORKER_CLASS = "gthread"
THREADS = 4
SEED_DOSES = 500
TOKEN_LIFETIME = timedelta(hours=6)


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass
class Actor:
    label: str
    token: str
    patient_pk: int | None = None
    user_pk: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Server:
    base_url: str
    db: Database
    log_path: Path
    description: str
    pid: int = 0

    def app_cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the gunicorn workers."""
        return sum(_cpu_seconds(pid) for pid in _children(self.pid))

    @property
    def reader(self) -> Actor:
        return self.db.reader

    def url(self, path: str) -> str:
        return self.base_url + path

    def new_patient(self, label: str, *, doses: int = 0) -> Actor:
        return self.db.new_patient(label, doses=doses)

    def dose_count(self, actor: Actor) -> int:
        from tracker.models import DoseLog

        return DoseLog.objects.filter(patient_id=actor.patient_pk).count()


def _apply_env() -> None:
    os.environ.update(BENCH_ENV)
    for name in UNSET_ENV:
        os.environ.pop(name, None)


def _setup_django() -> None:
    import django
    from django.apps import apps

    _apply_env()
    if not apps.ready:
        django.setup()


def _create_database() -> None:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _drop_database() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def _flush_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(BENCH_ENV["REDIS_URL"], socket_timeout=2).flushdb()
    except redis.RedisError as exc:
        progress(f"could not flush Redis db 14: {type(exc).__name__}")


def _token_for(user: Any) -> str:
    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(user)
    token.set_exp(lifetime=TOKEN_LIFETIME)
    return str(token)


def _make_patient(clinic_pk: int, label: str, *, doses: int) -> Actor:
    from tracker.models import Patient, RegimenStep, User

    today = datetime.now(UTC).date()
    user = User.objects.create_user(f"{label}@bench.invalid")
    patient = Patient.objects.create(
        user=user,
        clinic_id=clinic_pk,
        mrn=f"BENCH-{label}",
        first_name="Bench",
        last_name=label,
        date_of_birth=date(1980, 5, 17),
        sex=Patient.Sex.FEMALE,
        cle_subtype=Patient.Subtype.SCLE,
        timezone="UTC",
        status=Patient.Status.ACTIVE,
    )
    RegimenStep.objects.create(
        patient=patient,
        starts_on=today - timedelta(days=doses + 400),
        dose_mg=Decimal(5),
        pattern=RegimenStep.Pattern.DAILY,
        reason=RegimenStep.Reason.START,
        created_by=user,
    )
    if doses:
        _seed_doses(patient, user, doses, today)
    return Actor(label=label, token=_token_for(user), patient_pk=patient.pk, user_pk=user.pk)


def _seed_doses(patient: Any, user: Any, n: int, today: date) -> None:
    """`n` current dose logs, one a day going back from yesterday, and a correction for every
    20th day (its superseded original stays, so the list's filter has rows to skip)."""
    from tracker.models import DoseLog

    def row(day: date, i: int, **extra: Any) -> DoseLog:
        status = "taken" if i % 9 else ("missed" if i % 2 else "skipped")
        return DoseLog(
            patient=patient,
            client_id=uuid.uuid4(),
            fingerprint="bench-seed",
            scheduled_date=day,
            status=status,
            dose_mg=Decimal(5) if status == "taken" else None,
            expected_dose_mg=Decimal(5),
            taken_at=datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=8)
            if status == "taken"
            else None,
            note="felt fine" if i % 7 == 0 else "",
            recorded_by=user,
            **extra,
        )

    days = [today - timedelta(days=i + 1) for i in range(n)]
    originals = DoseLog.objects.bulk_create(
        [row(d, i, superseded_at=datetime.now(UTC)) for i, d in enumerate(days) if i % 20 == 0]
    )
    by_day = {o.scheduled_date: o for o in originals}
    DoseLog.objects.bulk_create(
        [row(d, i + 1, supersedes=by_day.get(d)) for i, d in enumerate(days)], batch_size=500
    )


def _seed() -> tuple[int, Actor]:
    from django.db import connection

    from tracker.models import Clinic

    clinic = Clinic.objects.create(name="Bench clinic", timezone="UTC")
    reader = _make_patient(clinic.pk, "reader", doses=SEED_DOSES)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics, as autovacuum keeps them in production
    return clinic.pk, reader


def _stat_fields(pid: int) -> list[str]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text.rsplit(")", 1)[1].split()  # fields from the 3rd (state) on


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields and int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    if not fields:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited at start-up:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"gunicorn did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # gunicorn's graceful shutdown of its workers
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: only gunicorn and its workers
        proc.wait(timeout=5)


@dataclass
class Database:
    clinic_pk: int
    reader: Actor
    workdir: Path
    _made: int = field(default=0, repr=False)

    def new_patient(self, label: str, *, doses: int = 0) -> Actor:
        """A fresh patient of the bench clinic with a daily 5 mg regimen (and `doses` logs)."""
        self._made += 1
        return _make_patient(self.clinic_pk, f"{label}-{self._made}", doses=doses)


@contextmanager
def bench_database() -> Iterator[Database]:
    """Create, migrate and seed bench_tracker in this process; drop it on exit."""
    from django.core.management import call_command

    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    (workdir / "static").mkdir()
    os.environ["TRACKER_VAR_DIR"] = str(workdir)  # static, media and broker dirs
    _apply_env()
    progress(f"creating database {DB_NAME}")
    _create_database()
    try:
        _setup_django()
        progress("migrating")
        call_command("migrate", verbosity=0, interactive=False)
        _flush_redis()
        progress(f"seeding a clinic and a patient with {SEED_DOSES} dose logs")
        clinic_pk, reader = _seed()
        yield Database(clinic_pk=clinic_pk, reader=reader, workdir=workdir)
    finally:
        try:
            _drop_database()
        finally:
            _flush_redis()
            shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def bench_server() -> Iterator[Server]:
    """bench_database() served by gunicorn on a free port of 127.0.0.1."""
    with bench_database() as db:
        log = db.workdir / "gunicorn.log"
        port = _free_port()
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={WORKERS}",
            f"--worker-class={WORKER_CLASS}",
            f"--threads={THREADS}",
            "--keep-alive=30",
            "--no-control-socket",
            "--log-level=warning",
            f"--error-logfile={log}",
        ]
        progress(f"starting gunicorn: {WORKERS} {WORKER_CLASS} workers x {THREADS} threads")
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=dict(os.environ), start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base + "/health/", proc, log, timeout=60)
            yield Server(
                base_url=base,
                db=db,
                log_path=log,
                pid=proc.pid,
                description=f"gunicorn config.wsgi, {WORKERS} {WORKER_CLASS} workers x "
                f"{THREADS} threads, keep-alive; PostgreSQL db {DB_NAME}; Redis db 14",
            )
        finally:
            progress("tearing down: gunicorn, database, Redis db 14")
            _stop(proc)
