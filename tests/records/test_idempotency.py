"""Phone writes are idempotent: by client_id, by Idempotency-Key, and under concurrent retries.

The concurrent tests run against PostgreSQL in real transactions: each thread has its own
connection, so the unique (patient, client_id) constraint and the Idempotency-Key row are what
settles the race, exactly as between two gunicorn workers.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tests.records.factories import (
    RECORD_FACTORIES,
    ClientFor,
    assert_problem,
    check_in_body,
    days_ago,
    dose_body,
    dose_log,
    lab_body,
    step,
    url,
)
from tracker.models import CheckIn, DoseLog, LabResult, Patient, User

DOSES = url("dose-logs")
CHECK_INS = url("check-ins")
SYNC = url("sync")


@pytest.fixture
def on_regimen(alice: Patient) -> Patient:
    step(alice, days_ago(60), "5", "daily")
    return alice


# --- client_id -------------------------------------------------------------------------------


def test_dose_log_retry_with_the_same_client_id_returns_the_first_result(
    client_for: ClientFor, on_regimen: Patient
) -> None:
    client = client_for(on_regimen.user)
    body = dose_body(status="taken", note="with breakfast")

    first = client.post(DOSES, body, format="json")
    retry = client.post(DOSES, body, format="json")

    assert first.status_code == 201, first.content
    assert retry.status_code == 200, retry.content
    assert retry.json() == first.json()
    assert DoseLog.objects.filter(patient=on_regimen).count() == 1


def test_check_in_retry_with_the_same_client_id_returns_the_first_result(
    client_for: ClientFor, alice: Patient
) -> None:
    client = client_for(alice.user)
    body = check_in_body()

    first = client.post(CHECK_INS, body, format="json")
    retry = client.post(CHECK_INS, body, format="json")

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["id"] == first.json()["id"]
    assert CheckIn.objects.filter(patient=alice).count() == 1


def test_lab_retry_with_the_same_client_id_returns_the_first_result(
    client_for: ClientFor, nurse: User, alice: Patient
) -> None:
    client = client_for(nurse)
    body = lab_body(alice, client_id=str(uuid.uuid4()))

    first = client.post(url("lab-results"), body, format="json")
    retry = client.post(url("lab-results"), body, format="json")

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["id"] == first.json()["id"]
    assert LabResult.objects.filter(patient=alice).count() == 1


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"status": "skipped"}, id="status"),
        pytest.param({"note": "another note"}, id="note"),
        pytest.param({"scheduled_date": str(days_ago(3))}, id="scheduled_date"),
    ],
)
def test_same_client_id_with_different_fields_is_409_client_id_reused(
    client_for: ClientFor, on_regimen: Patient, change: dict[str, Any]
) -> None:
    client = client_for(on_regimen.user)
    body = dose_body(status="missed", note="forgot")
    first = client.post(DOSES, body, format="json")

    response = client.post(DOSES, {**body, **change}, format="json")

    assert first.status_code == 201
    assert_problem(response, 409, "client_id_reused")
    stored = DoseLog.objects.get(patient=on_regimen)
    assert (stored.status, stored.note) == ("missed", "forgot")


def test_same_check_in_client_id_with_different_answers_is_409(
    client_for: ClientFor, alice: Patient
) -> None:
    client = client_for(alice.user)
    body = check_in_body(itch=2)
    client.post(CHECK_INS, body, format="json")

    response = client.post(CHECK_INS, {**body, "itch": 7}, format="json")

    assert_problem(response, 409, "client_id_reused")
    assert list(CheckIn.objects.values_list("itch", flat=True)) == [2]


def test_client_ids_are_per_patient(client_for: ClientFor, alice: Patient, bob: Patient) -> None:
    body = dose_body()

    first = client_for(alice.user).post(DOSES, body, format="json")
    second = client_for(bob.user).post(DOSES, body, format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert second.json()["patient"] == str(bob.public_id)


# --- Idempotency-Key -------------------------------------------------------------------------


def test_same_idempotency_key_replays_the_stored_response(
    client_for: ClientFor, on_regimen: Patient
) -> None:
    client = client_for(on_regimen.user)
    body = dose_body(status="taken")

    first = client.post(DOSES, body, format="json", HTTP_IDEMPOTENCY_KEY="key-1")
    replay = client.post(DOSES, body, format="json", HTTP_IDEMPOTENCY_KEY="key-1")

    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert DoseLog.objects.filter(patient=on_regimen).count() == 1


def test_same_idempotency_key_with_a_different_body_is_422(
    client_for: ClientFor, on_regimen: Patient
) -> None:
    client = client_for(on_regimen.user)
    client.post(DOSES, dose_body(), format="json", HTTP_IDEMPOTENCY_KEY="key-2")

    response = client.post(DOSES, dose_body(), format="json", HTTP_IDEMPOTENCY_KEY="key-2")

    assert_problem(response, 422, "idempotency_key_reused")
    assert DoseLog.objects.filter(patient=on_regimen).count() == 1


def test_idempotency_keys_are_per_user(client_for: ClientFor, alice: Patient, bob: Patient) -> None:
    first = client_for(alice.user).post(
        DOSES, dose_body(), format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )
    second = client_for(bob.user).post(
        DOSES, dose_body(), format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )

    assert (first.status_code, second.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in second
    assert second.json()["patient"] == str(bob.public_id)


def test_a_refused_request_does_not_burn_its_idempotency_key(
    client_for: ClientFor, alice: Patient
) -> None:
    client = client_for(alice.user)
    body = dose_body(status="taken")  # no regimen: a taken dose must say its dose

    refused = client.post(DOSES, body, format="json", HTTP_IDEMPOTENCY_KEY="key-3")
    step(alice, days_ago(60))
    retried = client.post(DOSES, body, format="json", HTTP_IDEMPOTENCY_KEY="key-3")

    assert_problem(refused, 400)
    assert retried.status_code == 201, retried.content
    assert "Idempotent-Replayed" not in retried


def test_an_unprintable_idempotency_key_is_422(client_for: ClientFor, alice: Patient) -> None:
    response = client_for(alice.user).post(
        DOSES, dose_body(), format="json", HTTP_IDEMPOTENCY_KEY="x" * 256
    )

    assert_problem(response, 422, "bad_idempotency_key")
    assert not DoseLog.objects.exists()


# --- a patient writes only for themself ------------------------------------------------------


@pytest.mark.parametrize("target", ["bob", "carol"])
@pytest.mark.parametrize("endpoint", ["dose-logs", "check-ins"])
def test_a_patient_field_naming_another_patient_is_refused(
    request: pytest.FixtureRequest,
    client_for: ClientFor,
    alice: Patient,
    endpoint: str,
    target: str,
) -> None:
    other: Patient = request.getfixturevalue(target)
    body = (dose_body if endpoint == "dose-logs" else check_in_body)(patient=str(other.public_id))

    response = client_for(alice.user).post(url(endpoint), body, format="json")

    body = assert_problem(response, 400)
    assert "patient" in {e["attr"] for e in body["errors"]}
    assert not DoseLog.objects.exists()
    assert not CheckIn.objects.exists()


def test_a_patient_field_naming_oneself_is_accepted(client_for: ClientFor, alice: Patient) -> None:
    response = client_for(alice.user).post(
        DOSES, dose_body(patient=str(alice.public_id)), format="json"
    )

    assert response.status_code == 201
    assert response.json()["patient"] == str(alice.public_id)


def test_sync_refuses_a_record_naming_another_patient(
    client_for: ClientFor, alice: Patient, bob: Patient
) -> None:
    response = client_for(alice.user).post(
        SYNC, {"dose_logs": [dose_body(patient=str(bob.public_id))]}, format="json"
    )

    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["status"] == "error"
    assert "patient" in result["errors"]
    assert not DoseLog.objects.exists()


# --- concurrent retries against PostgreSQL ---------------------------------------------------

N = 8


def fire_at_once(user: User, path: str, body: dict[str, Any], headers: dict[str, str]) -> list[Any]:
    """N identical POSTs released together, each from its own thread and DB connection."""
    token = str(RefreshToken.for_user(user).access_token)
    barrier = threading.Barrier(N)
    responses: list[Any] = [None] * N

    def worker(i: int) -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            barrier.wait(timeout=10)
            responses[i] = client.post(path, body, format="json", **headers)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(r is not None for r in responses), "a request did not finish"
    return responses


ConcurrentCase = tuple[str, type[Any], Callable[[], dict[str, Any]]]
CONCURRENT: dict[str, ConcurrentCase] = {
    "dose-logs": (DOSES, DoseLog, lambda: dose_body(status="taken")),
    "check-ins": (CHECK_INS, CheckIn, check_in_body),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", list(CONCURRENT))
def test_concurrent_retries_by_client_id_create_one_row(alice: Patient, kind: str) -> None:
    step(alice, days_ago(60))
    path, model, make_body = CONCURRENT[kind]

    responses = fire_at_once(alice.user, path, make_body(), {})

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 201}, [r.content[:300] for r in responses]
    assert statuses.count(201) == 1
    assert len({r.json()["id"] for r in responses}) == 1
    assert model.objects.filter(patient=alice).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", list(CONCURRENT))
def test_concurrent_retries_with_an_idempotency_key_create_one_row(
    alice: Patient, kind: str
) -> None:
    step(alice, days_ago(60))
    path, model, make_body = CONCURRENT[kind]

    responses = fire_at_once(
        alice.user, path, make_body(), {"HTTP_IDEMPOTENCY_KEY": f"race-{kind}"}
    )

    ok = [r for r in responses if r.status_code in (200, 201)]
    in_progress = [r for r in responses if r.status_code == 409]
    assert len(ok) + len(in_progress) == N, [r.content[:300] for r in responses]
    assert ok
    assert len({r.json()["id"] for r in ok}) == 1
    for r in in_progress:
        assert_problem(r, 409, "idempotency_in_progress")
    assert model.objects.filter(patient=alice).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_refused_retries_with_an_idempotency_key_never_fail_with_500(
    alice: Patient,
) -> None:
    body = dose_body(status="taken")  # no regimen, no dose: refused with 400

    responses = fire_at_once(alice.user, DOSES, body, {"HTTP_IDEMPOTENCY_KEY": "race-refused"})

    assert {r.status_code for r in responses} <= {400, 409}
    assert 400 in {r.status_code for r in responses}
    assert not DoseLog.objects.exists()


# --- corrections keep history ----------------------------------------------------------------


def test_a_correction_keeps_the_original_superseded(
    client_for: ClientFor, on_regimen: Patient
) -> None:
    client = client_for(on_regimen.user)
    original = client.post(DOSES, dose_body(status="missed"), format="json").json()
    correction = {"client_id": str(uuid.uuid4()), "status": "taken", "dose_mg": "5"}

    response = client.patch(url("dose-logs", original["id"]), correction, format="json")

    assert response.status_code == 201, response.content
    new = response.json()
    assert new["id"] != original["id"]
    assert (new["status"], new["supersedes"], new["current"]) == ("taken", original["id"], True)
    assert new["scheduled_date"] == original["scheduled_date"]
    current = client.get(DOSES).json()["results"]
    assert [r["id"] for r in current] == [new["id"]]
    history = client.get(DOSES, {"include_superseded": "true"}).json()["results"]
    by_id = {r["id"]: r for r in history}
    assert set(by_id) == {original["id"], new["id"]}
    assert (by_id[original["id"]]["status"], by_id[original["id"]]["current"]) == (
        "missed",
        False,
    )
    assert client.get(url("dose-logs", original["id"])).json()["current"] is False


def test_a_correction_retry_returns_the_first_correction(
    client_for: ClientFor, on_regimen: Patient
) -> None:
    client = client_for(on_regimen.user)
    original = dose_log(on_regimen, days_ago(2), status="missed")
    correction = {"client_id": str(uuid.uuid4()), "status": "skipped"}

    first = client.patch(url("dose-logs", original.public_id), correction, format="json")
    retry = client.patch(url("dose-logs", original.public_id), correction, format="json")

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["id"] == first.json()["id"]
    assert DoseLog.objects.filter(patient=on_regimen).count() == 2


def test_a_superseded_version_cannot_be_corrected_again(
    client_for: ClientFor, on_regimen: Patient
) -> None:
    client = client_for(on_regimen.user)
    original = dose_log(on_regimen, days_ago(2), status="missed")
    client.patch(
        url("dose-logs", original.public_id),
        {"client_id": str(uuid.uuid4()), "status": "skipped"},
        format="json",
    )

    response = client.patch(
        url("dose-logs", original.public_id),
        {"client_id": str(uuid.uuid4()), "status": "taken"},
        format="json",
    )

    assert_problem(response, 409, "superseded")
    assert DoseLog.objects.filter(patient=on_regimen).count() == 2


@pytest.mark.parametrize("method", ["delete", "put"])
def test_dose_logs_cannot_be_deleted_or_replaced(
    client_for: ClientFor, on_regimen: Patient, method: str
) -> None:
    original = dose_log(on_regimen, days_ago(2))

    response = getattr(client_for(on_regimen.user), method)(
        url("dose-logs", original.public_id), dose_body(), format="json"
    )

    assert_problem(response, 405)
    assert DoseLog.objects.filter(pk=original.pk, superseded_at__isnull=True).exists()


@pytest.mark.parametrize("endpoint", ["check-ins", "lab-results", "clasi-assessments"])
def test_other_records_cannot_be_deleted(
    client_for: ClientFor, clinician: User, alice: Patient, endpoint: str
) -> None:
    row = RECORD_FACTORIES[endpoint](alice)
    actor = alice.user if endpoint == "check-ins" else clinician

    response = client_for(actor).delete(url(endpoint, row.public_id))

    assert_problem(response, 405)
    assert type(row).objects.filter(pk=row.pk).exists()


# --- sync push -------------------------------------------------------------------------------


def test_sync_push_answers_per_record_and_is_idempotent(
    client_for: ClientFor, on_regimen: Patient
) -> None:
    client = client_for(on_regimen.user)
    good_dose = dose_body(status="taken", scheduled_date=str(days_ago(1)))
    bad_dose = dose_body(status="taken", scheduled_date="2999-01-01")
    good_check_in = check_in_body()
    batch = {"dose_logs": [good_dose, bad_dose], "check_ins": [good_check_in]}

    first = client.post(SYNC, batch, format="json")
    again = client.post(SYNC, batch, format="json")

    assert first.status_code == 200, first.content
    results = {r["client_id"]: r for r in first.json()["results"]}
    assert results[good_dose["client_id"]]["status"] == "created"
    assert results[good_check_in["client_id"]]["status"] == "created"
    assert results[bad_dose["client_id"]]["status"] == "error"
    assert "scheduled_date" in results[bad_dose["client_id"]]["errors"]
    assert DoseLog.objects.filter(patient=on_regimen).count() == 1
    assert CheckIn.objects.filter(patient=on_regimen).count() == 1

    assert again.status_code == 200
    replayed = {r["client_id"]: r for r in again.json()["results"]}
    assert replayed[good_dose["client_id"]]["status"] == "duplicate"
    assert replayed[good_check_in["client_id"]]["status"] == "duplicate"
    assert replayed[bad_dose["client_id"]]["status"] == "error"
    for key in (good_dose["client_id"], good_check_in["client_id"]):
        assert replayed[key]["id"] == results[key]["id"]
    assert DoseLog.objects.filter(patient=on_regimen).count() == 1
    assert CheckIn.objects.filter(patient=on_regimen).count() == 1


def test_sync_push_reports_a_reused_client_id_without_failing_the_batch(
    client_for: ClientFor, on_regimen: Patient
) -> None:
    client = client_for(on_regimen.user)
    first = dose_body(status="missed")
    client.post(SYNC, {"dose_logs": [first]}, format="json")
    changed = {**first, "status": "skipped"}
    fresh = dose_body(status="skipped", scheduled_date=str(days_ago(4)))

    response = client.post(SYNC, {"dose_logs": [changed, fresh]}, format="json")

    results = {r["client_id"]: r for r in response.json()["results"]}
    assert (results[first["client_id"]]["status"], results[first["client_id"]]["code"]) == (
        "error",
        "client_id_reused",
    )
    assert results[fresh["client_id"]]["status"] == "created"
    assert DoseLog.objects.filter(patient=on_regimen).count() == 2


def test_sync_push_refuses_more_than_500_records(client_for: ClientFor, alice: Patient) -> None:
    batch = {"dose_logs": [dose_body() for _ in range(501)]}

    response = client_for(alice.user).post(SYNC, batch, format="json")

    assert_problem(response, 400)
    assert not DoseLog.objects.exists()


def test_sync_push_treats_a_repeat_inside_one_batch_like_a_retry(
    client_for: ClientFor, on_regimen: Patient
) -> None:
    client = client_for(on_regimen.user)
    dose = dose_body(status="missed")
    same_again = dict(dose)
    reused = {**dose, "status": "skipped"}  # same client_id, other fields
    check_in = check_in_body()

    response = client.post(
        SYNC,
        {"dose_logs": [dose, same_again, reused], "check_ins": [check_in, check_in]},
        format="json",
    )

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["kind"] for r in results] == ["dose_log"] * 3 + ["check_in"] * 2  # in order
    assert [r["status"] for r in results] == [
        "created",
        "duplicate",
        "error",
        "created",
        "duplicate",
    ]
    assert results[0]["id"] == results[1]["id"]
    assert results[3]["id"] == results[4]["id"]
    assert results[2]["code"] == "client_id_reused"
    assert DoseLog.objects.filter(patient=on_regimen).count() == 1
    assert CheckIn.objects.filter(patient=on_regimen).count() == 1


def _sync_statements(client: Any, records: int) -> int:
    batch = {
        "dose_logs": [
            dose_body(status="taken", scheduled_date=str(days_ago(1 + i))) for i in range(records)
        ]
    }
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(SYNC, batch, format="json")
    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {"created"}
    return len(ctx.captured_queries)


def test_sync_push_runs_the_same_statements_for_5_or_50_records(
    client_for: ClientFor, on_regimen: Patient
) -> None:
    client = client_for(on_regimen.user)
    _sync_statements(client, 1)  # warm up (content types, the regimen's first read)
    assert _sync_statements(client, 5) == _sync_statements(client, 50)
    assert DoseLog.objects.filter(patient=on_regimen).count() == 56


@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_sync_batches_store_each_record_once(alice: Patient) -> None:
    step(alice, days_ago(60))
    doses = [dose_body(scheduled_date=str(days_ago(1 + i))) for i in range(30)]
    check_ins = [check_in_body() for _ in range(3)]
    # Repeats inside the batch too: after a lost race they must still name the stored row.
    batch = {"dose_logs": [*doses, doses[0], doses[7]], "check_ins": [*check_ins, check_ins[1]]}

    responses = fire_at_once(alice.user, SYNC, batch, {})

    assert {r.status_code for r in responses} == {200}, [r.content[:300] for r in responses]
    by_record: dict[str, set[str]] = {}
    for r in responses:
        for result in r.json()["results"]:
            assert result["status"] in {"created", "duplicate"}, result
            by_record.setdefault(result["client_id"], set()).add(result["id"])
    assert all(len(ids) == 1 for ids in by_record.values())  # every answer names one row
    stored = {str(i) for i in DoseLog.objects.values_list("public_id", flat=True)}
    stored |= {str(i) for i in CheckIn.objects.values_list("public_id", flat=True)}
    assert set().union(*by_record.values()) == stored  # ... and that row exists
    assert DoseLog.objects.filter(patient=alice).count() == 30
    assert CheckIn.objects.filter(patient=alice).count() == 3


# --- sync pull -------------------------------------------------------------------------------


def test_sync_pull_returns_changes_since_the_cursor_with_a_short_overlap(
    client_for: ClientFor, on_regimen: Patient
) -> None:
    def at(hour: int, minute: int = 0) -> Any:
        moment = datetime(2026, 11, 27, hour, minute, tzinfo=UTC)
        return time_machine.travel(moment, tick=False)

    with at(8):
        old = dose_log(on_regimen, days_ago(3))
    with at(9):
        newest_seen = dose_log(on_regimen, days_ago(2))
    with at(10):
        first = client_for(on_regimen.user).get(SYNC).json()
    with at(11):
        new = dose_log(on_regimen, days_ago(1))
    with at(12):
        second = client_for(on_regimen.user).get(SYNC, {"since": first["cursor"]}).json()

    assert {r["id"] for r in first["dose_logs"]} == {str(old.public_id), str(newest_seen.public_id)}
    # The row at the cursor is repeated (30-second overlap); older ones are not.
    assert {r["id"] for r in second["dose_logs"]} == {
        str(newest_seen.public_id),
        str(new.public_id),
    }
    assert second["cursor"] != first["cursor"]
