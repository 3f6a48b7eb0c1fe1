"""Faults 1 and 2: pool processes SIGKILLed mid-task; the whole worker SIGKILLed and restarted.

The kills are real: a private worker runs evaluations and deliveries (each send takes
FAULT_SINK_DELAY, like a provider call) while the test asks it which pool processes are
executing a task (`inspect active`) and SIGKILLs one of those, so every kill lands mid-task.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from config.celery import app
from tests.faults import world
from tests.faults.conftest import Rig
from tests.faults.harness import Worker, wait_for

SEND_DELAY = "0.15"
EVALUATE = "patient_evaluate_task"
SEND = "delivery_send_task"


def _active(worker: Worker) -> list[dict[str, Any]]:
    try:
        replies = app.control.inspect(timeout=0.5, limit=1).active() or {}
    except Exception:
        return []
    children = {c.pid for c in worker.children()}
    return [t for tasks in replies.values() for t in tasks if t.get("worker_pid") in children]


def _kind(task: dict[str, Any]) -> str:
    return str(task.get("name", "?")).rsplit(".", 1)[-1]


def _wave(cohort: world.Cohort, rng: random.Random, size: int) -> int:
    """New check-ins (half of them red flags) from `size` random patients."""
    red = 0
    for patient in rng.sample(cohort.patients, size):
        flag = rng.random() < 0.5
        world.report(patient, red_flag=flag)
        red += flag
    return red


def _wait_for(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _kill_children(
    rig: Rig,
    *,
    kills: int,
    patients: int,
    report: Callable[..., None],
    deadline: float,
    beat: bool,
) -> None:
    rng = random.Random(8)
    cohort = world.cohort(patients)
    for patient in cohort.patients:
        world.dose(patient)
    worker = rig.worker(concurrency=3, FAULT_SINK_DELAY=SEND_DELAY)
    _wave(cohort, rng, len(cohort.patients))
    started = time.monotonic()
    killed: Counter[str] = Counter({EVALUATE: 0, SEND: 0})
    missed = 0  # kills that found the process already idle
    waves = 0
    waiting_since = time.monotonic()
    while sum(killed.values()) < kills:
        assert time.monotonic() - started < deadline, f"only {sum(killed.values())} kills"
        if not any(rig.redis.queued().values()):
            _wave(cohort, rng, min(len(cohort.patients), 12))
            waves += 1
        busy = _active(worker)
        # Alternate between evaluations and sends, so that both kinds die mid-task (after
        # 3 s without the wanted kind, any running task will do).
        wanted = min(killed, key=lambda kind: (killed[kind], kind != EVALUATE))
        victims = [t for t in busy if _kind(t) == wanted]
        if not victims and time.monotonic() - waiting_since > 3:
            victims = busy
        if not victims:
            time.sleep(0.05)
            continue
        victim = rng.choice(victims)
        lost_before = worker.log_count("WorkerLostError")
        if worker.kill_child(int(victim["worker_pid"])):
            waiting_since = time.monotonic()
            time.sleep(rng.uniform(0.2, 0.5))  # the pool replaces the process meanwhile
            # `inspect active` answers with a delay: on a busy machine the task may have
            # finished before the kill. Only a kill the worker saw lose a task counts.
            if _wait_for(lambda n=lost_before: worker.log_count("WorkerLostError") > n, 2.0):
                killed[_kind(victim)] += 1
            else:
                missed += 1
    # Redelivery finishes every killed task; a pool process killed between its commit and
    # the publishing of the deliveries leaves rows that only the deliveries sweep relays.
    if beat:
        rig.beat()
    recovered = rig.wait_settled(240 if beat else 60, tick=not beat)
    # A send killed between the provider's answer and the `sent` mark is sent again (G2');
    # every SIGKILL could be one (a late log line may have counted a real one as idle).
    verdict = world.check_invariant(cohort, rig.sink, max_resends=kills + missed)
    report(
        fault=f"worker child SIGKILL x{kills}",
        kills=sum(killed.values()),
        killed_in=dict(killed),
        kills_of_idle_processes=missed,
        waves=waves,
        triggering_events=verdict.triggering_events,
        alerts=verdict.alerts,
        deliveries_sent=verdict.deliveries_sent,
        resends=verdict.resends,
        relayed_by_sweep=rig.swept,
        settled_after_last_kill_s=round(recovered, 1),
        duration_s=round(time.monotonic() - started, 1),
    )


def test_pool_process_killed_mid_task_3_times(rig: Rig, report: Callable[..., None]) -> None:
    _kill_children(rig, kills=3, patients=12, report=report, deadline=60, beat=False)


@pytest.mark.slow
def test_pool_process_killed_mid_task_20_times(rig: Rig, report: Callable[..., None]) -> None:
    _kill_children(rig, kills=20, patients=40, report=report, deadline=300, beat=True)


@pytest.mark.slow
def test_whole_worker_killed_and_restarted(rig: Rig, report: Callable[..., None]) -> None:
    """Three times: SIGKILL the worker's main process and its pool at once while it runs
    evaluations and sends (a crashed host or container), then start it again. The tasks it
    held are stuck in Redis's unacked set until the visibility timeout (2 h): the beat
    sweeps must find their work in PostgreSQL."""
    rng = random.Random(2)
    cohort = world.cohort(24)
    for patient in cohort.patients:
        world.dose(patient)
    worker = rig.worker(concurrency=3, FAULT_SINK_DELAY=SEND_DELAY)
    rig.beat()
    started = time.monotonic()
    rounds: list[dict[str, Any]] = []
    for _ in range(3):
        _wave(cohort, rng, len(cohort.patients))
        wait_for(lambda: len(_active(worker)) >= 2, 30, what="tasks running")
        worker.kill_all()
        rounds.append(
            {
                "in_flight_messages": rig.redis.queued()["unacked"],
                "unevaluated": world.unevaluated(),
                "open_deliveries": world.open_deliveries(),
            }
        )
        worker.start()
    restarted = time.monotonic()
    recovered = rig.wait_settled(240, "everything recovered after the last restart")
    verdict = world.check_invariant(cohort, rig.sink, max_resends=3 * worker.concurrency)
    report(
        fault="whole worker SIGKILLed and restarted x3",
        rounds=rounds,
        triggering_events=verdict.triggering_events,
        alerts=verdict.alerts,
        deliveries_sent=verdict.deliveries_sent,
        resends=verdict.resends,
        settled_after_restart_s=round(recovered, 1),
        duration_s=round(time.monotonic() - started, 1),
        beat="celery beat",
    )
    assert time.monotonic() - restarted < 240
