"""Check-in -> commit -> evaluation on a real worker -> alert; concurrency; broker outage."""

from __future__ import annotations

import subprocess
import threading
import uuid
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from notifications.evaluation import evaluation_sweep, patients_evaluate
from notifications.models import Alert
from tests.integration.conftest import wait_for
from tracker.models import CheckIn, RegimenStep

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _on_treatment(patient, clinician) -> None:
    RegimenStep.objects.create(
        patient=patient,
        starts_on=timezone.localdate() - timedelta(days=20),
        dose_mg=5,
        pattern="daily",
        reason="start",
        created_by=clinician,
    )


def _red_flag_check_in(client) -> object:
    return client.post(
        "/api/v1/check-ins/",
        {
            "client_id": str(uuid.uuid4()),
            "answered_at": timezone.now().isoformat(),
            "chest_pain": True,
        },
        format="json",
    )


def test_check_in_through_api_raises_alert_on_worker(celery_worker, alice, clinician, client_for):
    _on_treatment(alice, clinician)
    response = _red_flag_check_in(client_for(alice.user))
    assert response.status_code == 201
    alert = wait_for(
        lambda: Alert.objects.filter(patient=alice, rule="thrombosis_red_flag").first(),
        timeout=20,
    )
    assert alert.severity == "urgent"
    assert alert.events.filter(kind="created").count() == 1


def test_concurrent_evaluations_leave_one_alert(alice, clinician):
    _on_treatment(alice, clinician)
    # Written directly, so that no on-commit evaluation races the two below.
    CheckIn.objects.create(
        patient=alice,
        client_id=uuid.uuid4(),
        fingerprint="x",
        answered_at=timezone.now(),
        local_date=timezone.localdate(),
        chest_pain=True,
    )
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            patients_evaluate([alice.pk])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Alert.objects.filter(patient=alice, rule="thrombosis_red_flag").count() == 1
    # A third, sequential run changes nothing either.
    outcome = patients_evaluate([alice.pk])
    assert outcome.created == []
    assert outcome.updated == 0


def _redis_stop() -> None:
    redis.Redis(host="127.0.0.1", port=6379).shutdown(nosave=True)


def _redis_start() -> None:
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
    )

    def up() -> bool:
        try:
            return bool(redis.Redis(host="127.0.0.1", port=6379).ping())
        except redis.ConnectionError:
            return False

    wait_for(up, timeout=10)


def test_broker_outage_delays_alert_but_never_loses_it(alice, clinician, client_for):
    _on_treatment(alice, clinician)
    client = client_for(alice.user)
    _redis_stop()
    try:
        response = _red_flag_check_in(client)
        assert response.status_code == 201  # the patient's report is saved
        assert not Alert.objects.filter(patient=alice).exists()
    finally:
        _redis_start()
    alice.refresh_from_db()
    assert alice.change_seq > alice.evaluated_seq  # the sweep can see it was never evaluated
    evaluation_sweep()
    assert Alert.objects.filter(patient=alice, rule="thrombosis_red_flag").count() == 1
    alice.refresh_from_db()
    assert alice.change_seq == alice.evaluated_seq
    assert settings.CELERY_BROKER_URL.startswith("redis://")
