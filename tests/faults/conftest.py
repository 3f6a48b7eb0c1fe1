"""Fixtures of the fault proofs: a rig of private Redis, Celery workers and beat per test.

Tests marked `slow` (the full-length proofs: 20 kills, a 60 s outage, a PostgreSQL restart)
run only with RUN_SLOW=1 (`make proof` sets it); the shortened variants run in every test
run. Figures go to the JSON-lines file named by FAULT_REPORT (default var/fault-report.jsonl)
for scripts/proof.sh to print.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from config.celery import app
from notifications.sweeps import SWEEP_GRACE, deliveries_sweep
from tests.faults import world
from tests.faults.harness import (
    ROOT,
    Beat,
    RedisServer,
    Worker,
    celery_broker,
    process_env,
    wait_for,
)

RUN_SLOW = os.environ.get("RUN_SLOW") == "1"
EVALUATION_SWEEP = "notifications.evaluation.evaluation_sweep_task"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if RUN_SLOW:
        return
    skip = pytest.mark.skip(reason="slow fault proof: run with RUN_SLOW=1 (make proof)")
    here = Path(__file__).parent
    for item in items:
        if "slow" in item.keywords and here in Path(str(item.path)).parents:
            item.add_marker(skip)


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@dataclass
class Rig:
    """One fault's private world: Redis (append-only, as in production), a sink file, the
    test database, and the workers/beat it starts (all stopped at teardown)."""

    dir: Path
    redis: RedisServer
    sink: Path
    database_url: str
    workers: list[Worker] = field(default_factory=list)
    beats: list[Beat] = field(default_factory=list)
    ticks: int = 0  # beat_tick runs
    swept: int = 0  # deliveries the sweeps published in wait_settled

    def env(self, **extra: str) -> dict[str, str]:
        return process_env(
            database_url=self.database_url, redis_url=self.redis.url, sink=self.sink, **extra
        )

    def worker(self, *, concurrency: int = 3, start: bool = True, **extra: str) -> Worker:
        worker = Worker(
            self.env(**extra), self.dir / f"worker{len(self.workers)}.log", concurrency=concurrency
        )
        self.workers.append(worker)
        if start:
            worker.start()
        return worker

    def beat(self, **extra: str) -> Beat:
        beat = Beat(self.env(**extra), self.dir)
        self.beats.append(beat)
        beat.start()
        return beat

    def beat_tick(self) -> int:
        """Run at once what beat's next ticks would: the evaluation sweep (published to the
        workers, as beat does) and the deliveries sweep with the clock past its grace (so a
        row whose task was lost is published now rather than in a minute). Returns the number
        of deliveries the sweep published."""
        self.ticks += 1
        app.send_task(EVALUATION_SWEEP)
        return deliveries_sweep(now=timezone.now() + SWEEP_GRACE + timedelta(seconds=1))

    def wait_settled(
        self, timeout: float, what: str = "all work finished", *, tick: bool = False
    ) -> float:
        """Wait until every patient is evaluated and every delivery sent; return the wait.

        `tick`: whenever the queues are empty but work is left, run `beat_tick` (at most
        every 2 s), like a beat that fires as soon as there is something to catch up on.
        """
        started = time.monotonic()
        last_tick = 0.0

        def done() -> bool:
            nonlocal last_tick
            if world.settled(self.sink):
                return True
            queued = self.redis.queued()
            # (not "unacked": a task acked while Redis was down stays there, harmlessly,
            # until the visibility timeout redelivers it)
            idle = not queued["default"] and not queued["alerts"]
            if tick and idle and time.monotonic() - last_tick > 2:
                last_tick = time.monotonic()
                self.swept += self.beat_tick()
            return False

        wait_for(
            done,
            timeout,
            interval=0.25,
            what=what,
            state=lambda: {**world.progress(self.sink), "queued": self.redis.queued()},
        )
        return time.monotonic() - started

    def stop_all(self) -> None:
        for proc in [*self.beats, *self.workers]:
            proc.stop()


@pytest.fixture
def rig(transactional_db: None, tmp_path: Path, settings: Any) -> Iterator[Rig]:
    redis_server = RedisServer(tmp_path / "redis", appendonly=True)
    redis_server.start()
    rig = Rig(tmp_path, redis_server, tmp_path / "sink.log", _database_url())
    # Cache and broker share the private Redis, as they share one Redis in production.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server.url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.EMAIL_BACKEND = "tests.faults.sink.EmailSink"
    settings.NOTIFY_PUSH_BACKEND = "tests.faults.sink.PushSink"
    settings.NOTIFY_SMS_BACKEND = "tests.faults.sink.SmsSink"
    os.environ["FAULT_SINK"] = str(rig.sink)
    try:
        with celery_broker(redis_server.url):
            yield rig
    finally:
        try:
            rig.stop_all()
        finally:
            redis_server.stop()
            os.environ.pop("FAULT_SINK", None)
            # The workers are gone; let pytest-django flush without our idle connections.
            for conn in connections.all():
                conn.close()


def _machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU, {model or platform.processor() or 'unknown CPU'}"


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Iterator[Callable[..., None]]:
    """report(**figures): one JSON line per test in FAULT_REPORT, written at teardown."""
    figures: dict[str, Any] = {}
    started = time.monotonic()

    def add(**values: Any) -> None:
        figures.update(values)

    yield add
    path = Path(os.environ.get("FAULT_REPORT") or ROOT / "var" / "fault-report.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    failed = getattr(request.node, "rep_call", None)
    row = {
        "test": request.node.name,
        "outcome": "failed" if failed is not None and failed.failed else "passed",
        "seconds": round(time.monotonic() - started, 1),
        "machine": _machine(),
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
        **figures,
    }
    with path.open("a") as f:
        f.write(json.dumps(row, default=str) + "\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    if rep.when == "call":
        item.rep_call = rep  # type: ignore[attr-defined]
    return rep
