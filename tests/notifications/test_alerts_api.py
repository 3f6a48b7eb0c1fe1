"""alerts/: permission matrix, ordering, filters, query count and lifecycle events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from notifications.models import Alert, AlertEvent
from tests.conftest import make_patient
from tests.notifications.conftest import make_alert
from tracker.models import AuditEvent, Patient, User

pytestmark = pytest.mark.django_db
Client = Callable[[User | None], APIClient]
URL = "/api/v1/alerts/"

ENDPOINTS: list[tuple[str, str, dict[str, Any]]] = [
    ("get", "", {}),
    ("post", "acknowledge/", {}),
    ("post", "assign/", {}),
    ("post", "resolve/", {"resolution": "not_a_relapse", "note": "Reviewed by phone"}),
    ("post", "comment/", {"note": "Called the patient"}),
    ("post", "escalate/", {"note": "Needs a clinician today"}),
]


@pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS)
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("nurse", 200),
        ("clinician", 200),
        ("other_nurse", 404),
        ("other_clinician", 404),
        ("alice", 403),
        (None, 401),
    ],
)
def test_alert_detail_endpoints_permission_matrix(
    request: pytest.FixtureRequest,
    client_for: Client,
    alice: Patient,
    carol: Patient,
    method: str,
    suffix: str,
    body: dict[str, Any],
    who: str | None,
    expected: int,
) -> None:
    alert = make_alert(alice)
    user = None if who is None else request.getfixturevalue(who)
    if isinstance(user, Patient):
        user = user.user
    client = client_for(user)

    response = getattr(client, method)(f"{URL}{alert.public_id}/{suffix}", body, format="json")

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert response["Content-Type"] == "application/problem+json"
        assert AlertEvent.objects.filter(alert=alert).count() == 1  # nothing happened


@pytest.mark.parametrize(
    ("who", "expected", "sees_alice"),
    [
        ("nurse", 200, True),
        ("clinician", 200, True),
        ("other_nurse", 200, False),
        ("alice", 403, False),
        (None, 401, False),
    ],
)
def test_alert_list_permission_matrix(
    request: pytest.FixtureRequest,
    client_for: Client,
    alice: Patient,
    carol: Patient,
    who: str | None,
    expected: int,
    sees_alice: bool,
) -> None:
    mine = make_alert(alice)
    theirs = make_alert(carol)
    user = None if who is None else request.getfixturevalue(who)
    if isinstance(user, Patient):
        user = user.user

    response = client_for(user).get(URL)

    assert response.status_code == expected
    if expected == 200:
        ids = {row["id"] for row in response.json()["results"]}
        assert (str(mine.public_id) in ids) is sees_alice
        assert (str(theirs.public_id) in ids) is (not sees_alice)


def test_list_orders_urgent_first_then_oldest(
    client_for: Client, nurse: User, alice: Patient, bob: Patient
) -> None:
    now = timezone.now()
    made = {}
    for name, severity, hours_ago in [
        ("info_old", "info", 50),
        ("warning_new", "warning", 1),
        ("urgent_new", "urgent", 2),
        ("warning_old", "warning", 30),
        ("urgent_old", "urgent", 5),
    ]:
        made[name] = make_alert(alice, severity=severity, episode=name)
        Alert.objects.filter(pk=made[name].pk).update(created_at=now - timedelta(hours=hours_ago))

    rows = client_for(nurse).get(URL).json()["results"]

    order = {str(a.public_id): name for name, a in made.items()}
    assert [order[r["id"]] for r in rows] == [
        "urgent_old",
        "urgent_new",
        "warning_old",
        "warning_new",
        "info_old",
    ]


def test_list_filters(
    client_for: Client, nurse: User, clinician: User, alice: Patient, bob: Patient
) -> None:
    a = make_alert(alice, severity="urgent", rule="cytopenia", episode="1")
    b = make_alert(bob, severity="warning", rule="gi_intolerance", episode="2")
    c = make_alert(bob, severity="info", rule="insomnia", episode="3")
    Alert.objects.filter(pk=b.pk).update(assigned_to=nurse, status="acknowledged")
    Alert.objects.filter(pk=c.pk).update(assigned_to=clinician, status="resolved")
    client = client_for(nurse)

    def ids(query: str) -> set[str]:
        response = client.get(URL + query)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids("?status=open") == {str(a.public_id)}
    assert ids("?status=open&status=acknowledged") == {str(a.public_id), str(b.public_id)}
    assert ids("?severity=warning") == {str(b.public_id)}
    assert ids("?rule=insomnia") == {str(c.public_id)}
    assert ids(f"?patient={bob.public_id}") == {str(b.public_id), str(c.public_id)}
    assert ids("?assigned=me") == {str(b.public_id)}
    assert ids("?assigned=none") == {str(a.public_id)}
    assert client.get(URL + "?severity=critical").status_code == 400


def test_list_query_count_does_not_grow_with_the_number_of_alerts(
    client_for: Client, nurse: User, clinician: User, alice: Patient
) -> None:
    client = client_for(nurse)

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL).status_code == 200
        return len(ctx.captured_queries)

    for n in range(2):
        alert = make_alert(alice, episode=f"a{n}")
        AlertEvent.objects.create(alert=alert, kind="commented", actor=clinician, note="x")
    Alert.objects.filter(episode_key="a0").update(assigned_to=clinician)
    few = queries_for_list()
    for n in range(2, 25):
        alert = make_alert(alice, episode=f"a{n}")
        AlertEvent.objects.create(alert=alert, kind="commented", actor=nurse, note="y")
    Alert.objects.update(assigned_to=nurse)

    assert queries_for_list() == few


def test_lifecycle_records_every_change_with_actor(
    client_for: Client, nurse: User, clinician: User, alice: Patient
) -> None:
    alert = make_alert(alice)
    url = f"{URL}{alert.public_id}/"
    as_nurse, as_clinician = client_for(nurse), client_for(clinician)

    ack = as_nurse.post(url + "acknowledge/", {"note": "On it"}, format="json")
    assert ack.status_code == 200
    assert ack.json()["status"] == "acknowledged"
    assert ack.json()["acknowledged_at"] is not None
    assigned = as_clinician.post(url + "assign/", {"assignee": str(nurse.public_id)}, format="json")
    assert assigned.json()["assigned_to"] == str(nurse.public_id)
    commented = as_nurse.post(url + "comment/", {"note": "Patient called"}, format="json")
    assert commented.status_code == 200
    resolved = as_clinician.post(
        url + "resolve/", {"resolution": "adverse_event_managed", "note": "Held 1 week"}
    )
    assert resolved.status_code == 200

    body = resolved.json()
    assert body["status"] == "resolved"
    assert (body["resolution"], body["resolution_note"]) == ("adverse_event_managed", "Held 1 week")
    assert [(e["kind"], e["actor"], e["note"]) for e in body["events"]] == [
        ("created", None, ""),
        ("acknowledged", nurse.email, "On it"),
        ("assigned", clinician.email, ""),
        ("commented", nurse.email, "Patient called"),
        ("resolved", clinician.email, "Held 1 week"),
    ]
    assert all(e["at"] for e in body["events"])
    assert set(body) >= {
        "id", "patient", "rule", "severity", "status", "summary", "evidence", "assigned_to",
        "created_at", "updated_at", "events", "acknowledged_at", "resolved_at", "escalated_at",
    }  # fmt: skip
    assert body["patient"] == str(alice.public_id)
    assert AuditEvent.objects.filter(object_type="alert", object_id=str(alert.public_id)).exists()


def test_conflicting_transitions_are_409(client_for: Client, nurse: User, alice: Patient) -> None:
    alert = make_alert(alice)
    url = f"{URL}{alert.public_id}/"
    client = client_for(nurse)
    resolve = {"resolution": "other", "note": "Duplicate of a phone call"}

    assert client.post(url + "acknowledge/").status_code == 200
    assert client.post(url + "acknowledge/").status_code == 409
    assert client.post(url + "resolve/", resolve, format="json").status_code == 200
    again = client.post(url + "resolve/", resolve, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "alert_resolved"
    assert client.post(url + "assign/").status_code == 409
    assert client.post(url + "escalate/").status_code == 409
    assert client.post(url + "comment/", {"note": "Follow-up ok"}).status_code == 200


def test_resolve_requires_resolution_and_note(
    client_for: Client, nurse: User, alice: Patient
) -> None:
    url = f"{URL}{make_alert(alice).public_id}/resolve/"
    client = client_for(nurse)

    assert client.post(url, {"resolution": "other"}, format="json").status_code == 400
    assert client.post(url, {"resolution": "other", "note": "  "}, format="json").status_code == 400
    assert client.post(url, {"resolution": "maybe", "note": "x"}, format="json").status_code == 400


def test_assign_only_to_clinical_staff_of_the_same_clinic(
    client_for: Client,
    nurse: User,
    clinic_admin: User,
    other_nurse: User,
    alice: Patient,
) -> None:
    url = f"{URL}{make_alert(alice).public_id}/assign/"
    client = client_for(nurse)
    for assignee in (other_nurse.public_id, clinic_admin.public_id, alice.user.public_id):
        response = client.post(url, {"assignee": str(assignee)}, format="json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["attr"] == "assignee"
    me = client.post(url, {}, format="json")
    assert me.json()["assigned_to"] == str(nurse.public_id)
    assert client.post(url, {}, format="json").status_code == 200  # idempotent
    assert AlertEvent.objects.filter(kind="assigned").count() == 1


def test_manual_escalation_writes_deliveries_once(
    client_for: Client, nurse: User, clinician: User, alice: Patient
) -> None:
    alert = make_alert(alice)
    url = f"{URL}{alert.public_id}/escalate/"

    response = client_for(nurse).post(url, {"note": "Fever and ANC 0.4"}, format="json")

    assert response.status_code == 200
    assert response.json()["escalated_at"] is not None
    assert alert.deliveries.filter(purpose="escalation", recipient=clinician).exists()
    assert client_for(nurse).post(url).status_code == 409


def test_alerts_of_a_patient_moved_scope_stay_in_their_clinic(
    client_for: Client, other_nurse: User, clinic: Any, alice: Patient
) -> None:
    """The queryset is scoped by the alert's clinic, so a lookup by id cannot cross it."""
    dave = make_patient("dave@patient.test", clinic, mrn="D004")
    alert = make_alert(dave)

    assert client_for(other_nurse).get(f"{URL}{alert.public_id}/").status_code == 404
    assert client_for(other_nurse).get(f"{URL}?patient={dave.public_id}").json()["count"] == 0
