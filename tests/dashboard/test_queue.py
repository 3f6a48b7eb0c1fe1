"""The alert queue: order, filters, refresh partial, paging and a fixed number of queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.clinical import patient_today
from notifications.models import Alert
from tests.conftest import make_patient
from tests.dashboard.builders import REGIMEN, make_alert
from tests.dashboard.conftest import BrowserFor
from tracker.models import Clinic, Patient, RegimenStep, User

pytestmark = pytest.mark.django_db

ROW = re.compile(r'<tr id="alert-([0-9a-f-]{36})"')


def row_ids(html: bytes) -> list[str]:
    return ROW.findall(html.decode())


def test_urgent_first_then_oldest_and_resolved_hidden(
    alice: Patient, bob: Patient, nurse: User, browser_for: BrowserFor
) -> None:
    old_info = make_alert(alice, rule="insomnia", severity="info", age=timedelta(days=9))
    old_warning = make_alert(bob, rule="cytopenia", severity="warning", age=timedelta(days=3))
    new_warning = make_alert(
        alice, rule="gi_intolerance", severity="warning", age=timedelta(hours=1)
    )
    new_urgent = make_alert(
        bob, rule="thrombosis_red_flag", severity="urgent", age=timedelta(minutes=5)
    )
    old_urgent = make_alert(
        alice, rule="possible_relapse", severity="urgent", age=timedelta(hours=7)
    )
    make_alert(alice, rule="adherence", severity="urgent", status=Alert.Status.RESOLVED)

    html = browser_for(nurse).get("/dashboard/").content
    assert row_ids(html) == [
        str(a.public_id) for a in (old_urgent, new_urgent, old_warning, new_warning, old_info)
    ]


def test_row_shows_patient_rule_severity_age_assignee_and_status(
    alice: Patient, nurse: User, browser_for: BrowserFor
) -> None:
    make_alert(
        alice, rule="cytopenia", severity="warning", age=timedelta(hours=3), assigned_to=nurse
    )
    html = browser_for(nurse).get("/dashboard/").content.decode()
    assert f"/dashboard/patients/{alice.public_id}/" in html
    assert "Alice Tester" in html
    assert "MRN A001" in html
    assert "Blood count" in html  # the rule's label, not its code
    assert 'class="sev sev-warning"' in html
    assert ">Warning</span>" in html  # a word with the colour
    assert "sev-icon" in html
    assert ">3 h</time>" in html
    assert "Nurse Staff" in html
    assert ">Open</span>" in html


def test_unacknowledged_urgent_alerts_stand_out(
    alice: Patient, nurse: User, browser_for: BrowserFor
) -> None:
    urgent = make_alert(alice, severity="urgent")
    acked = make_alert(alice, rule="cytopenia", severity="urgent", status=Alert.Status.ACKNOWLEDGED)
    warning = make_alert(alice, rule="insomnia", severity="warning")
    html = browser_for(nurse).get("/dashboard/").content.decode()
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r'<tr id="alert-([0-9a-f-]{36})".*?</tr>', html, re.S)
    }
    assert "unack-urgent" in rows[str(urgent.public_id)]
    assert "UNACKNOWLEDGED" in rows[str(urgent.public_id)]
    for other in (acked, warning):
        assert "unack-urgent" not in rows[str(other.public_id)]
        assert "UNACKNOWLEDGED" not in rows[str(other.public_id)]


def test_filters(alice: Patient, bob: Patient, nurse: User, browser_for: BrowserFor) -> None:
    relapse = make_alert(alice, rule="possible_relapse", severity="urgent")
    counts = make_alert(bob, rule="cytopenia", severity="warning", assigned_to=nurse)
    done = make_alert(bob, rule="insomnia", severity="info", status=Alert.Status.RESOLVED)
    acked = make_alert(alice, rule="adherence", severity="info", status=Alert.Status.ACKNOWLEDGED)
    client = browser_for(nurse)

    def ids(query: str) -> set[str]:
        return set(row_ids(client.get(f"/dashboard/?{query}").content))

    assert ids("") == {str(a.public_id) for a in (relapse, counts, acked)}
    assert ids("status=resolved") == {str(done.public_id)}
    assert ids("status=acknowledged") == {str(acked.public_id)}
    assert ids("status=open") == {str(relapse.public_id), str(counts.public_id)}
    assert ids("status=all") == {str(a.public_id) for a in (relapse, counts, done, acked)}
    assert ids("severity=warning") == {str(counts.public_id)}
    assert ids("rule=possible_relapse") == {str(relapse.public_id)}
    assert ids("mine=on") == {str(counts.public_id)}
    assert ids("mine=on&severity=urgent") == set()
    # Nonsense values fall back to the defaults instead of failing.
    assert ids("status=bogus&severity=nope") == {str(a.public_id) for a in (relapse, counts, acked)}


def test_table_partial_polls_and_keeps_filters(
    alice: Patient, nurse: User, browser_for: BrowserFor
) -> None:
    make_alert(alice, rule="cytopenia", severity="warning")
    client = browser_for(nurse)
    page = client.get("/dashboard/?severity=warning").content.decode()
    assert 'hx-trigger="every 30s' in page
    assert 'hx-get="/dashboard/alerts/table/?severity=warning"' in page
    assert "/static/dashboard/vendor/htmx.min.js" in page
    partial = client.get("/dashboard/alerts/table/?severity=urgent").content.decode()
    assert "<html" not in partial
    assert "<table" in partial
    assert "No alerts match these filters." in partial


def test_pages_of_fifty(alice: Patient, nurse: User, browser_for: BrowserFor) -> None:
    for i in range(55):
        make_alert(alice, rule="insomnia", severity="info", age=timedelta(minutes=60 + i))
    client = browser_for(nurse)
    first = client.get("/dashboard/").content
    second = client.get("/dashboard/?page=2").content
    assert len(row_ids(first)) == 50
    assert len(row_ids(second)) == 5
    assert not set(row_ids(first)) & set(row_ids(second))
    assert b"Page 1 of 2" in first


def _queue_queries(client: object, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)  # type: ignore[attr-defined]
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", ["/dashboard/", "/dashboard/alerts/table/"])
def test_queue_queries_do_not_grow_with_alerts(
    clinic: Clinic, nurse: User, clinician: User, browser_for: BrowserFor, url: str
) -> None:
    patients = [make_patient(f"p{i}@patient.test", clinic, mrn=f"Q{i:03}") for i in range(40)]
    for i, p in enumerate(patients[:5]):
        make_alert(
            p, rule="cytopenia", severity="warning", assigned_to=clinician if i % 2 else None
        )
    client = browser_for(nurse)
    client.get(url)  # warm caches (session, content types) outside the measurement
    few = _queue_queries(client, url)
    for i, p in enumerate(patients[5:]):
        make_alert(p, rule="insomnia", severity="info", assigned_to=nurse if i % 2 else clinician)
    assert Alert.objects.count() == 40
    many = _queue_queries(client, url)
    assert many == few, f"{few} queries with 5 alerts, {many} with 40"


def test_patient_list_queries_do_not_grow_with_patients(
    clinic: Clinic, nurse: User, clinician: User, browser_for: BrowserFor
) -> None:
    today = patient_today("Europe/Madrid")

    def enrol(start: int, stop: int) -> None:
        for i in range(start, stop):
            p = make_patient(f"l{i}@patient.test", clinic, mrn=f"L{i:03}")
            for ago, dose, pattern, reason in REGIMEN:
                RegimenStep.objects.create(
                    patient=p,
                    starts_on=today - timedelta(days=ago),
                    dose_mg=dose,
                    pattern=pattern,
                    reason=reason,
                    created_by=clinician,
                )
            make_alert(p, rule="insomnia", severity="info")

    enrol(0, 5)
    client = browser_for(nurse)
    client.get("/dashboard/patients/")
    few = _queue_queries(client, "/dashboard/patients/")
    enrol(5, 40)
    response = client.get("/dashboard/patients/")
    assert response.content.count(b'class="patient-row"') == 40
    assert response.content.count(b"Taper watch") == 40
    many = _queue_queries(client, "/dashboard/patients/")
    assert many == few, f"{few} queries with 5 patients, {many} with 40"
