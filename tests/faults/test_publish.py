"""Faults 6 and 7: a task published twice; an exception after the write, before commit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from config.celery import app
from notifications import dispatch
from notifications.evaluation import evaluation_sweep
from notifications.models import Alert, NotificationDelivery
from notifications.sweeps import deliveries_sweep
from tests.faults import sink, world
from tests.faults.conftest import Rig
from tests.faults.harness import wait_for
from tracker.jobs import EVALUATE_TASK
from tracker.models import CheckIn, DoseLog, Patient

DELIVERY_TASK = "notifications.tasks.delivery_send_task"


def _drained(rig: Rig) -> bool:
    return not any(rig.redis.queued().values())


def test_task_published_twice_one_alert_one_send(rig: Rig, report: Callable[..., None]) -> None:
    """Every evaluation and every delivery task is published three times (on commit plus two
    copies, run concurrently by three pool processes): one alert per event, one send."""
    cohort = world.cohort(8)
    worker = rig.worker(concurrency=3)
    started = time.monotonic()
    for patient in cohort.patients:
        world.report(patient, red_flag=True)  # publishes the evaluation on commit
        for _ in range(2):
            app.send_task(EVALUATE_TASK, kwargs={"patient_id": patient.pk})
    rig.wait_settled(60)
    ids = list(NotificationDelivery.objects.values_list("pk", flat=True))
    for pk in ids:
        for _ in range(2):
            app.send_task(DELIVERY_TASK, args=(pk,))
    for patient in cohort.patients:
        app.send_task(EVALUATE_TASK, kwargs={"patient_id": patient.pk})
    wait_for(lambda: _drained(rig), 60, interval=0.2, what="duplicate tasks consumed")
    verdict = world.check_invariant(cohort, rig.sink)
    assert verdict.alerts == 8
    assert verdict.deliveries_sent == 8 * world.DELIVERIES_PER_ALERT
    assert verdict.sink_lines == verdict.deliveries_sent
    assert worker.log_count("not_claimed") >= len(ids) * 2
    report(
        fault="task published twice",
        published=len(cohort.patients) * 4 + len(ids) * 3,
        triggering_events=verdict.triggering_events,
        alerts=verdict.alerts,
        deliveries_sent=verdict.deliveries_sent,
        resends=verdict.resends,
        duration_s=round(time.monotonic() - started, 1),
    )


def test_concurrent_sends_of_one_delivery_send_once(rig: Rig) -> None:
    """Eight threads run the same delivery at once, in-process: one claim, one send."""
    cohort = world.cohort(1)
    patient = cohort.patients[0]
    world.report(patient, red_flag=True)
    rig.redis.client().flushdb()  # drop the published tasks: this test runs them itself
    evaluation_sweep()
    delivery = NotificationDelivery.objects.order_by("pk").first()
    assert delivery is not None
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def run() -> None:
        try:
            barrier.wait()
            outcomes.append(str(dispatch.delivery_send(delivery.pk)))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["not_claimed"] * 7 + ["sent"]
    assert sink.read(rig.sink).keys[str(delivery.public_id)] == 1


def _nothing_happened(rig: Rig, patient: Patient) -> None:
    patient.refresh_from_db()
    assert patient.change_seq == 0
    assert not CheckIn.objects.exists()
    assert not DoseLog.objects.exists()
    assert rig.redis.queued() == {"default": 0, "alerts": 0, "unacked": 0}, "a task was published"
    # The sweeps find nothing to do either: no alert, no delivery, ever.
    evaluation_sweep()
    deliveries_sweep()
    assert not Alert.objects.exists()
    assert not NotificationDelivery.objects.exists()
    assert rig.redis.queued() == {"default": 0, "alerts": 0, "unacked": 0}


def test_exception_after_write_before_commit_leaves_nothing(
    rig: Rig, report: Callable[..., None]
) -> None:
    """A write whose transaction fails after the services ran: no row, no task, no alert."""
    cohort = world.cohort(1)
    patient = cohort.patients[0]

    def write_then_fail() -> None:
        with transaction.atomic():
            world.report(patient, red_flag=True)
            world.dose(patient)
            raise RuntimeError("after the write, before commit")

    with pytest.raises(RuntimeError):
        write_then_fail()
    _nothing_happened(rig, patient)
    report(
        fault="exception before commit (service)",
        writes=2,
        rows=0,
        tasks=0,
        alerts=0,
        deliveries_sent=0,
    )


def test_exception_inside_the_service_transaction_over_the_api(
    rig: Rig, report: Callable[..., None], client_for: Callable[..., Any], monkeypatch: Any
) -> None:
    """The same through the API: the failure is inside the service's own transaction, right
    after the evaluation was scheduled; the phone gets a 500 and nothing is kept."""
    import tracker.services.records as records

    cohort = world.cohort(1)
    patient = cohort.patients[0]
    original = records.patient_changed

    def then_fail(patient_id: int) -> None:
        original(patient_id)
        raise RuntimeError("after the write, before commit")

    monkeypatch.setattr(records, "patient_changed", then_fail)
    client = client_for(patient.user)
    client.raise_request_exception = False
    check_in = client.post(
        "/api/v1/check-ins/", world.check_in_payload(red_flag=True), format="json"
    )
    dose = client.post("/api/v1/dose-logs/", world.dose_payload(patient), format="json")
    assert (check_in.status_code, dose.status_code) == (500, 500)
    _nothing_happened(rig, patient)
    report(
        fault="exception before commit (API)",
        writes=2,
        statuses=[500, 500],
        rows=0,
        tasks=0,
        alerts=0,
        deliveries_sent=0,
    )


def test_database_lost_between_send_and_mark_sends_once(rig: Rig, monkeypatch: Any) -> None:
    """The provider accepted, then recording it fails (the database restarts): the outcome is
    recorded once the database answers again, and the message is not sent a second time."""
    from django.db import OperationalError

    import notifications.dispatch as dispatch_module

    cohort = world.cohort(1)
    world.report(cohort.patients[0], red_flag=True)
    rig.redis.client().flushdb()  # this test runs the tasks itself
    evaluation_sweep()
    delivery = NotificationDelivery.objects.order_by("pk").first()
    assert delivery is not None
    original = dispatch_module.delivery_mark_sent
    failures = iter([OperationalError("the database system is shutting down")] * 2)

    def flaky(*args: Any, **kwargs: Any) -> None:
        error = next(failures, None)
        if error is not None:
            raise error
        original(*args, **kwargs)

    monkeypatch.setattr(dispatch_module, "delivery_mark_sent", flaky)
    assert dispatch.delivery_send(delivery.pk) == "sent"
    assert dispatch.delivery_send(delivery.pk) == "not_claimed"  # e.g. a redelivered copy
    delivery.refresh_from_db()
    assert delivery.status == "sent"
    assert delivery.attempt_log.filter(outcome="sent").count() == 1
    assert sink.read(rig.sink).keys[str(delivery.public_id)] == 1
