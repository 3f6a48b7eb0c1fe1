"""A real Celery worker process against the test database and the real Redis broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _redis_url() -> str:
    return settings.CELERY_BROKER_URL


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.2):
    """Poll until predicate() is truthy; return its value or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")


@pytest.fixture
def celery_worker(django_db_setup: None, django_db_blocker: object) -> Iterator[subprocess.Popen]:
    """Start `celery worker` on the test database for one test; stop it before the test's
    tables are truncated.

    Never longer-lived: a worker alive during a later transactional test evaluates the
    patients that test commits (and sends their deliveries) while pytest-django truncates
    the tables after it, and the TRUNCATE deadlocks with the worker's row locks.
    """
    redis.Redis.from_url(_redis_url()).flushdb()
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": _redis_url(),
    }
    (ROOT / "var").mkdir(exist_ok=True)
    log = open(ROOT / "var" / "test-worker.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "default,alerts",
            "-c",
            "2",
            "-l",
            "info",
            "--without-mingle",
            "--without-gossip",
            "-n",
            "test@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    from config.celery import app

    def pong() -> bool:
        try:
            return bool(app.control.ping(timeout=0.5))
        except Exception:
            return False

    try:
        wait_for(pong, timeout=30)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def close_db_after() -> Iterator[None]:
    yield
    connection.close()
