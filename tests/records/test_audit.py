"""Every read and write of patient data through the API appends exactly one audit row.

The row says who (actor, role), what (action, object type and id), whose (patient) and under
which request (the X-Request-ID the response carries); it never holds patient values, and
PostgreSQL refuses to update or delete it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction

from tests.conftest import PASSWORD
from tests.records.conftest import World
from tests.records.factories import (
    ClientFor,
    check_in_body,
    clasi_body,
    dose_body,
    enrolment_body,
    lab_body,
    prescription_body,
    step_body,
    url,
)
from tracker.models import AuditEvent, Patient, User

ACTION = {"get": "read", "post": "create", "patch": "update"}


@dataclass(frozen=True)
class Call:
    actor: str  # "alice", "nurse" or "clinician"
    method: str
    path: Callable[[World], str]
    body: Callable[[World], Any] | None = None
    patient: bool = True  # the row names Alice (False: no single patient)
    object_id: str | None = None  # "patient", "row:<kind>", "created" or None
    object_type: str = ""


def alice_url(*parts: str) -> Callable[[World], str]:
    return lambda w: url("patients", w.patients["alice"].public_id, *parts)


def kind_url(kind: str, row: bool = False) -> Callable[[World], str]:
    return lambda w: url(kind, w.row_id(kind, "alice")) if row else url(kind)


def alice_body(make: Callable[..., dict[str, Any]]) -> Callable[[World], dict[str, Any]]:
    return lambda w: make(w.patients["alice"])


CALLS: dict[str, Call] = {
    "patients list": Call(
        "nurse", "get", lambda w: url("patients"), patient=False, object_type="patient"
    ),
    "patients detail": Call(
        "nurse", "get", alice_url(), object_id="patient", object_type="patient"
    ),
    "patients patch": Call(
        "clinician",
        "patch",
        alice_url(),
        lambda w: {"irregular_cycles": True},
        object_id="patient",
        object_type="patient",
    ),
    "regimen-steps list": Call("nurse", "get", alice_url("regimen-steps"), object_id="patient"),
    "regimen-steps create": Call(
        "clinician", "post", alice_url("regimen-steps"), lambda w: step_body(), object_id="patient"
    ),
    "schedule": Call("alice", "get", alice_url("schedule"), object_id="patient"),
    "adherence": Call("nurse", "get", alice_url("adherence"), object_id="patient"),
    "timeline": Call("clinician", "get", alice_url("timeline"), object_id="patient"),
    "dose-logs list by the patient": Call(
        "alice", "get", kind_url("dose-logs"), object_type="dose_log"
    ),
    "dose-logs list by staff": Call(
        "nurse", "get", kind_url("dose-logs"), patient=False, object_type="dose_log"
    ),
    "dose-logs detail": Call(
        "nurse",
        "get",
        kind_url("dose-logs", row=True),
        object_id="row:dose-logs",
        object_type="dose_log",
    ),
    "dose-logs create": Call(
        "alice",
        "post",
        kind_url("dose-logs"),
        lambda w: dose_body(),
        object_id="created",
        object_type="dose_log",
    ),
    "dose-logs correction": Call(
        "alice",
        "patch",
        kind_url("dose-logs", row=True),
        lambda w: {"client_id": str(uuid.uuid4()), "status": "skipped"},
        object_id="row:dose-logs",
        object_type="dose_log",
    ),
    "check-ins list": Call("alice", "get", kind_url("check-ins"), object_type="check_in"),
    "check-ins detail": Call(
        "clinician",
        "get",
        kind_url("check-ins", row=True),
        object_id="row:check-ins",
        object_type="check_in",
    ),
    "check-ins create": Call(
        "alice",
        "post",
        kind_url("check-ins"),
        lambda w: check_in_body(),
        object_id="created",
        object_type="check_in",
    ),
    "lab-results list": Call(
        "nurse", "get", kind_url("lab-results"), patient=False, object_type="lab_result"
    ),
    "lab-results detail": Call(
        "alice",
        "get",
        kind_url("lab-results", row=True),
        object_id="row:lab-results",
        object_type="lab_result",
    ),
    "lab-results create": Call(
        "nurse",
        "post",
        kind_url("lab-results"),
        alice_body(lab_body),
        object_id="created",
        object_type="lab_result",
    ),
    "clasi list": Call("alice", "get", kind_url("clasi-assessments"), object_type="clasi"),
    "clasi detail": Call(
        "nurse",
        "get",
        kind_url("clasi-assessments", row=True),
        object_id="row:clasi-assessments",
        object_type="clasi",
    ),
    "clasi create": Call(
        "clinician",
        "post",
        kind_url("clasi-assessments"),
        alice_body(clasi_body),
        object_id="created",
        object_type="clasi",
    ),
    "prescriptions list": Call(
        "clinician", "get", kind_url("prescriptions"), patient=False, object_type="prescription"
    ),
    "prescriptions detail": Call(
        "alice",
        "get",
        kind_url("prescriptions", row=True),
        object_id="row:prescriptions",
        object_type="prescription",
    ),
    "prescriptions create": Call(
        "clinician",
        "post",
        kind_url("prescriptions"),
        alice_body(prescription_body),
        object_id="created",
        object_type="prescription",
    ),
    "sync pull": Call("alice", "get", lambda w: url("sync"), object_type="sync"),
    "sync push": Call(
        "alice",
        "post",
        lambda w: url("sync"),
        lambda w: {"dose_logs": [dose_body(), dose_body()], "check_ins": [check_in_body()]},
        object_type="sync",
    ),
}


def user_of(request: pytest.FixtureRequest, name: str) -> User:
    value = request.getfixturevalue(name)
    return value.user if isinstance(value, Patient) else value


@pytest.mark.parametrize("name", list(CALLS))
def test_each_call_appends_one_audit_row(
    name: str, world: World, client_for: ClientFor, request: pytest.FixtureRequest
) -> None:
    call = CALLS[name]
    user = user_of(request, call.actor)
    alice = world.patients["alice"]
    before = set(AuditEvent.objects.values_list("pk", flat=True))
    kwargs: dict[str, Any] = {"format": "json", "HTTP_X_REQUEST_ID": f"req-{uuid.uuid4().hex}"}
    if call.body is not None:
        kwargs["data"] = call.body(world)

    response = getattr(client_for(user), call.method)(call.path(world), **kwargs)

    assert 200 <= response.status_code < 300, response.content
    [row] = AuditEvent.objects.exclude(pk__in=before)
    assert row.actor_id == user.pk
    assert row.actor_role == user.role
    assert row.action.startswith(ACTION[call.method] + ":")
    assert row.request_id == response["X-Request-ID"] == kwargs["HTTP_X_REQUEST_ID"]
    assert row.patient_id == (alice.pk if call.patient else None)
    if call.object_type:
        assert row.object_type == call.object_type
    if call.object_id is None:
        expected_object = ""
    elif call.object_id == "patient":
        expected_object = str(alice.public_id)
    elif call.object_id == "created":
        expected_object = response.json()["id"]
    else:  # "row:<kind>": Alice's row that the call read or corrected
        expected_object = world.row_id(call.object_id.removeprefix("row:"), "alice")
    assert row.object_id == expected_object


def test_enrolment_audits_the_new_patient(client_for: ClientFor, clinician: User) -> None:
    response = client_for(clinician).post(url("patients"), enrolment_body(), format="json")

    [row] = AuditEvent.objects.all()
    new = Patient.objects.get(public_id=response.json()["id"])
    assert (row.patient_id, row.object_id, row.actor_role) == (
        new.pk,
        str(new.public_id),
        "clinician",
    )
    assert row.request_id == response["X-Request-ID"]


def test_a_generated_request_id_is_the_one_audited(client_for: ClientFor, alice: Patient) -> None:
    response = client_for(alice.user).get(url("dose-logs"), HTTP_X_REQUEST_ID="bad id!")

    [row] = AuditEvent.objects.all()
    assert response["X-Request-ID"] != "bad id!"
    assert row.request_id == response["X-Request-ID"]


def test_an_idempotent_replay_is_audited_once_more(client_for: ClientFor, alice: Patient) -> None:
    client = client_for(alice.user)
    body = dose_body()

    client.post(url("dose-logs"), body, format="json", HTTP_IDEMPOTENCY_KEY="audit-key")
    replay = client.post(url("dose-logs"), body, format="json", HTTP_IDEMPOTENCY_KEY="audit-key")

    assert replay["Idempotent-Replayed"] == "true"
    assert AuditEvent.objects.count() == 2
    assert AuditEvent.objects.filter(request_id=replay["X-Request-ID"]).count() == 1


@pytest.mark.parametrize(
    ("actor", "method", "path"),
    [
        ("other_nurse", "get", "detail"),
        ("nurse", "post", "dose-logs"),
        ("alice", "post", "lab-results"),
    ],
)
def test_a_refused_request_reads_nothing_and_is_not_audited(
    world: World,
    client_for: ClientFor,
    request: pytest.FixtureRequest,
    actor: str,
    method: str,
    path: str,
) -> None:
    target = url("dose-logs", world.row_id("dose-logs", "alice")) if path == "detail" else url(path)

    response = getattr(client_for(user_of(request, actor)), method)(target, {}, format="json")

    assert response.status_code in (403, 404)
    assert not AuditEvent.objects.exists()


def test_anonymous_requests_are_not_audited(client_for: ClientFor, world: World) -> None:
    response = client_for(None).get(url("dose-logs"))

    assert response.status_code == 401
    assert not AuditEvent.objects.exists()


# --- append-only ---------------------------------------------------------------------------


@pytest.fixture
def audit_row(client_for: ClientFor, alice: Patient) -> AuditEvent:
    client_for(alice.user).get(url("dose-logs"))
    return AuditEvent.objects.get()


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda qs: qs.update(action="read:nothing"), id="update action"),
        pytest.param(lambda qs: qs.update(patient=None), id="update patient"),
        pytest.param(lambda qs: qs.delete(), id="delete"),
    ],
)
def test_audit_rows_cannot_be_changed_on_postgresql(
    audit_row: AuditEvent, change: Callable[[Any], Any]
) -> None:
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        change(AuditEvent.objects.filter(pk=audit_row.pk))

    stored = AuditEvent.objects.get(pk=audit_row.pk)
    assert (stored.action, stored.patient_id) == (audit_row.action, audit_row.patient_id)


def test_a_model_save_cannot_rewrite_an_audit_row(audit_row: AuditEvent) -> None:
    audit_row.object_id = "tampered"

    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        audit_row.save()

    assert AuditEvent.objects.get(pk=audit_row.pk).object_id == ""


# --- no patient values ---------------------------------------------------------------------

SECRET = "nausea-after-wine-7c1f"


def test_no_patient_values_reach_audit_rows_or_logs(
    client_for: ClientFor,
    alice: Patient,
    nurse: User,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    patient = client_for(alice.user)
    staff = client_for(nurse)

    created = patient.post(url("dose-logs"), dose_body(note=SECRET), format="json").json()
    patient.patch(
        url("dose-logs", created["id"]),
        {"client_id": str(uuid.uuid4()), "note": SECRET + "-fixed"},
        format="json",
    )
    patient.post(url("sync"), {"dose_logs": [dose_body(note=SECRET + "-sync")]}, format="json")
    staff.get(url("dose-logs"))
    staff.get(url("dose-logs", created["id"]))
    refused = patient.post(url("dose-logs"), dose_body(note=SECRET, status="bogus"), format="json")
    staff.post(url("lab-results"), lab_body(alice, value="0.777"), format="json")

    assert refused.status_code == 400
    rows = list(AuditEvent.objects.values())
    assert len(rows) == 6
    for row in rows:
        text = " ".join(str(v) for v in row.values())
        assert SECRET not in text
        assert "0.777" not in text
        assert alice.user.email not in text
    assert SECRET not in caplog.text
    assert PASSWORD not in caplog.text
