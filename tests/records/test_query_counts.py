"""List endpoints run a fixed number of queries, whatever the page size.

60 rows per list; the count of queries for page_size=5 must equal the count for page_size=50,
for a nurse and for the patient. Each request writes exactly one audit row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import Alert
from tests.conftest import make_patient
from tests.records.factories import RECORD_FACTORIES, ClientFor, check_in, url
from tracker.models import Clinic, Patient, User

ROWS = 60


def run(client: Any, path: str, page_size: int) -> tuple[int, int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, {"page_size": page_size})
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == page_size
    sql = [q["sql"] for q in ctx.captured_queries]
    audit_inserts = [s for s in sql if s.startswith('INSERT INTO "tracker_auditevent"')]
    return len(sql), len(audit_inserts), sql


def assert_flat(client: Any, path: str) -> None:
    small, small_audits, _ = run(client, path, 5)
    large, large_audits, large_sql = run(client, path, 50)

    assert small == large, "\n".join(large_sql)
    assert (small_audits, large_audits) == (1, 1)


@pytest.mark.parametrize("viewer", ["nurse", "patient"])
@pytest.mark.parametrize("kind", list(RECORD_FACTORIES))
def test_record_lists_do_not_grow_with_page_size(
    kind: str, viewer: str, alice: Patient, nurse: User, client_for: ClientFor
) -> None:
    make = RECORD_FACTORIES[kind]
    for _ in range(ROWS):
        make(alice)
    client = client_for(nurse if viewer == "nurse" else alice.user)

    assert_flat(client, url(kind))


def test_patients_list_does_not_grow_with_page_size(
    clinic: Clinic, nurse: User, client_for: ClientFor
) -> None:
    for n in range(ROWS):
        make_patient(f"p{n}@patient.test", clinic, mrn=f"P{n:03d}")

    assert_flat(client_for(nurse), url("patients"))


def test_timeline_query_count_does_not_grow_with_history(
    alice: Patient, nurse: User, client_for: ClientFor
) -> None:
    client = client_for(nurse)
    path = url("patients", alice.public_id, "timeline")
    for make in RECORD_FACTORIES.values():
        make(alice)
    with CaptureQueriesContext(connection) as few:
        client.get(path)
    for make in RECORD_FACTORIES.values():
        for _ in range(20):
            make(alice)
    with CaptureQueriesContext(connection) as many:
        response = client.get(path)

    assert len(response.json()) > 60
    assert len(few.captured_queries) == len(many.captured_queries)


def test_sync_pull_does_not_grow_with_the_number_of_changes(
    alice: Patient, client_for: ClientFor
) -> None:
    client = client_for(alice.user)

    def pull_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url("sync"))
        assert response.status_code == 200
        return len(ctx.captured_queries)

    for make in RECORD_FACTORIES.values():
        make(alice)
    few = pull_queries()
    for make in RECORD_FACTORIES.values():
        for _ in range(ROWS):
            make(alice)
    many = pull_queries()

    assert few == many


def test_check_ins_list_each_check_ins_later_alerts(
    alice: Patient, bob: Patient, nurse: User, client_for: ClientFor
) -> None:
    """The batched alert lookup gives each check-in what a per-row lookup would."""

    def at(day: int) -> time_machine.travel:
        return time_machine.travel(datetime(2026, 11, day, 12, tzinfo=UTC), tick=False)

    def alert(patient: Patient, key: str) -> Alert:
        return Alert.objects.create(
            patient=patient,
            clinic=patient.clinic,
            rule="possible_relapse",
            episode_key=key,
            severity="warning",
            summary="s",
        )

    with at(1):
        early = check_in(alice)
    with at(2):
        first_alert = alert(alice, "one")
        alert(bob, "bob")
    with at(3):
        late = check_in(alice)
        bobs = check_in(bob)
    with at(4):
        second_alert = alert(alice, "two")

    rows = client_for(nurse).get(url("check-ins")).json()["results"]

    shown = {r["id"]: {a["id"] for a in r["alerts"]} for r in rows}
    assert shown[str(early.public_id)] == {str(first_alert.public_id), str(second_alert.public_id)}
    assert shown[str(late.public_id)] == {str(second_alert.public_id)}
    assert shown[str(bobs.public_id)] == set()
