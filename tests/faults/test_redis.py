"""Faults 3 and 4: Redis (broker and cache) stopped under a write load; Redis restarted empty.

The phones' writes go through the API (Django test client, JWT) in a thread, against the
private Redis for both the cache and the broker, as in production where one Redis is both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection

from config.celery import app
from notifications.evaluation import patients_evaluate
from tests.faults import world
from tests.faults.conftest import Rig
from tests.faults.harness import wait_for
from tracker.jobs import EVALUATE_TASK

MAX_REQUEST_SECONDS = 2.0


@dataclass
class Writes:
    """A phone-like write load: check-ins (every third a red flag) and dose logs."""

    cohort: world.Cohort
    clients: dict[int, Any]
    period: float = 0.1
    results: list[tuple[float, str, int, float]] = field(default_factory=list)  # t, kind, status, s
    writers: int = 0  # the first `writers` patients write (all of them at the start)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.writers = self.writers or len(self.cohort.patients)

    errors: list[BaseException] = field(default_factory=list)

    def run(self) -> None:
        n = 0
        try:
            while not self.stop.is_set():
                patients = self.cohort.patients[: self.writers]
                patient = patients[n % len(patients)]
                client = self.clients[patient.pk]
                if n % 2:
                    kind, url = "check-in", "/api/v1/check-ins/"
                    body = world.check_in_payload(red_flag=n % 3 == 0)
                else:
                    kind, url = "dose", "/api/v1/dose-logs/"
                    body = world.dose_payload(patient, days_ago=1 + n % 20)
                started = time.monotonic()
                response = client.post(url, body, format="json")
                self.results.append(
                    (started, kind, response.status_code, time.monotonic() - started)
                )
                n += 1
                self.stop.wait(self.period)
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)
        finally:
            connection.close()

    def between(self, start: float, end: float) -> list[tuple[float, str, int, float]]:
        return [r for r in self.results if start <= r[0] < end]


def _outage(
    rig: Rig,
    report: Callable[..., None],
    client_for: Callable[..., Any],
    *,
    outage: float,
    beat: bool,
    recovery_limit: float,
) -> None:
    cohort = world.cohort(8)
    worker = rig.worker(concurrency=2)
    if beat:
        rig.beat()
    writes = Writes(cohort, {p.pk: client_for(p.user) for p in cohort.patients})
    thread = threading.Thread(target=writes.run, daemon=True)
    thread.start()
    try:
        time.sleep(1.5)
        down = time.monotonic()
        rig.redis.stop()
        time.sleep(outage)
        # Half the patients go quiet: their last writes were made while the broker was down,
        # so only the sweeps can evaluate them; the other half keep writing.
        writes.writers = len(cohort.patients) // 2
        rig.redis.start()
        up = time.monotonic()
        time.sleep(1.5)
    finally:
        writes.stop.set()
        thread.join(timeout=30)
    assert not writes.errors, writes.errors
    during = writes.between(down, up)
    statuses = sorted({status for _, _, status, _ in writes.results})
    slowest = max(seconds for *_, seconds in writes.results)
    assert during, "no write was attempted while Redis was down"
    assert statuses == [201], f"writes answered {statuses}"
    # (offset from the stop in s, kind, seconds) of the writes over 0.5 s, to tell a Redis
    # timeout (near the stop or the start) from a starved CPU (anywhere).
    slow = [
        (round(t - down, 2), kind, round(seconds, 2))
        for t, kind, _, seconds in writes.results
        if seconds > 0.5
    ]
    assert slowest < MAX_REQUEST_SECONDS, f"a write took {slowest:.2f} s; slow writes: {slow}"
    waited = rig.wait_settled(recovery_limit, "everything evaluated and delivered", tick=not beat)
    assert worker.alive(), "the worker exited on the broker outage"
    recovered = time.monotonic() - up
    assert recovered < recovery_limit
    verdict = world.check_invariant(cohort, rig.sink)
    latencies = sorted(seconds for *_, seconds in writes.results)
    report(
        fault=f"Redis stopped {outage:.0f} s under writes",
        writes=len(writes.results),
        writes_during_outage=len(during),
        statuses=statuses,
        p50_ms=round(latencies[len(latencies) // 2] * 1000),
        max_write_ms=round(slowest * 1000),
        slow_writes=slow,
        outage_window_s=round(up - down, 1),
        triggering_events=verdict.triggering_events,
        alerts=verdict.alerts,
        deliveries_sent=verdict.deliveries_sent,
        delivered_after_recovery_s=round(recovered, 1),
        waited_s=round(waited, 1),
        relayed_by_sweep=rig.swept,
        beat="celery beat" if beat else "sweeps run by the test",
    )


def test_redis_stopped_5s_under_writes(
    rig: Rig, report: Callable[..., None], client_for: Callable[..., Any]
) -> None:
    _outage(rig, report, client_for, outage=5, beat=False, recovery_limit=60)


@pytest.mark.slow
def test_redis_stopped_60s_under_writes(
    rig: Rig, report: Callable[..., None], client_for: Callable[..., Any]
) -> None:
    _outage(rig, report, client_for, outage=60, beat=True, recovery_limit=120)


def test_redis_restarted_empty_with_tasks_queued(rig: Rig, report: Callable[..., None]) -> None:
    """Evaluations and deliveries are queued, no worker is up, and Redis comes back empty:
    the sweeps find every lost task in PostgreSQL."""
    cohort = world.cohort(6)
    half = cohort.patients[:3]
    for patient in cohort.patients:
        world.report(patient, red_flag=True)
    # The first half is evaluated (alerts and delivery rows committed, sends queued); the
    # second half's evaluations are still queued.
    patients_evaluate([p.pk for p in half])
    queued = rig.redis.queued()
    assert queued["alerts"] == len(cohort.patients) + len(half) * world.DELIVERIES_PER_ALERT
    rig.redis.stop()
    rig.redis.wipe()
    rig.redis.start()
    assert not any(rig.redis.queued().values())
    started = time.monotonic()
    rig.worker(concurrency=2)
    rig.wait_settled(60, "everything recovered by the sweeps", tick=True)
    verdict = world.check_invariant(cohort, rig.sink)
    assert verdict.alerts == len(cohort.patients)
    wait_for(lambda: not any(rig.redis.queued().values()), 10, what="queues drained")
    report(
        fault="Redis restarted empty with tasks queued",
        tasks_lost=queued["alerts"],
        triggering_events=verdict.triggering_events,
        alerts=verdict.alerts,
        deliveries_sent=verdict.deliveries_sent,
        recovered_s=round(time.monotonic() - started, 1),
        sweep_runs=rig.ticks,
        relayed_by_sweep=rig.swept,
    )


@pytest.mark.slow
def test_worker_survives_repeated_broker_losses(rig: Rig, report: Callable[..., None]) -> None:
    """Redis stopped 10 times while the worker is busy receiving and acking tasks: the worker
    reconnects every time (kombu's Redis transport used to raise AttributeError while closing
    the lost connection, and the worker exited: notifications/broker.py)."""
    cohort = world.cohort(2)
    worker = rig.worker(concurrency=2)
    for round_ in range(10):
        for _ in range(300):
            app.send_task(EVALUATE_TASK, kwargs={"patient_id": cohort.patients[0].pk})
        time.sleep(1.0 + round_ * 0.13)  # lose the broker at a different moment each time
        rig.redis.stop()
        time.sleep(1.5)
        rig.redis.start()
        wait_for(worker.alive, 1, what="worker alive")
        rig.redis.client().flushdb()
    assert worker.log_count("Unrecoverable error") == 0
    world.report(cohort.patients[1], red_flag=True)  # and it still works
    rig.wait_settled(60)
    verdict = world.check_invariant(cohort, rig.sink)
    report(
        fault="Redis stopped x10 while the worker is busy",
        broker_losses=10,
        worker_exits=0,
        alerts=verdict.alerts,
        deliveries_sent=verdict.deliveries_sent,
    )
