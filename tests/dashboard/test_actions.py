"""Queue and detail actions: they go through notifications.services and record the actor."""

from __future__ import annotations

import pytest

from notifications.models import Alert, AlertEvent
from tests.dashboard.builders import make_alert
from tests.dashboard.conftest import BrowserFor
from tracker.models import AuditEvent, Patient, User

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(alert: Alert, action: str) -> str:
    return f"/dashboard/alerts/{alert.public_id}/{action}/"


def events(alert: Alert) -> list[tuple[str, int | None]]:
    return list(alert.events.order_by("at", "pk").values_list("kind", "actor_id"))


def test_acknowledge_swaps_the_row_and_records_the_nurse(
    alice: Patient, nurse: User, browser_for: BrowserFor
) -> None:
    alert = make_alert(alice, severity="urgent")
    response = browser_for(nurse).post(url(alert, "acknowledge"), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<tr id="alert-{alert.public_id}"' in html
    assert 'data-status="acknowledged"' in html
    assert "UNACKNOWLEDGED" not in html
    assert "<html" not in html
    alert.refresh_from_db()
    assert alert.status == Alert.Status.ACKNOWLEDGED
    assert alert.acknowledged_at is not None
    assert events(alert)[-1] == (AlertEvent.Kind.ACKNOWLEDGED, nurse.pk)
    assert AuditEvent.objects.filter(actor=nurse, action="dashboard:acknowledge:alert").exists()


def test_assign_to_me(alice: Patient, nurse: User, browser_for: BrowserFor) -> None:
    alert = make_alert(alice)
    response = browser_for(nurse).post(url(alert, "assign"), **HTMX)
    assert response.status_code == 200
    assert "Nurse Staff" in response.content.decode()
    alert.refresh_from_db()
    assert alert.assigned_to == nurse
    assert events(alert)[-1] == (AlertEvent.Kind.ASSIGNED, nurse.pk)
    assert "Assign to me" not in response.content.decode()


def test_resolve_with_resolution_and_note(
    alice: Patient, nurse: User, browser_for: BrowserFor
) -> None:
    alert = make_alert(alice)
    response = browser_for(nurse).post(
        url(alert, "resolve"),
        {"resolution": "not_a_relapse", "note": "Sunburn, not lupus."},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-status="resolved"' in html
    assert "Not a relapse" in html
    alert.refresh_from_db()
    assert alert.status == Alert.Status.RESOLVED
    assert alert.resolution == "not_a_relapse"
    assert alert.resolution_note == "Sunburn, not lupus."
    kind, actor = events(alert)[-1]
    assert (kind, actor) == (AlertEvent.Kind.RESOLVED, nurse.pk)


def test_acknowledge_then_resolve_records_both_events(
    alice: Patient, nurse: User, browser_for: BrowserFor
) -> None:
    alert = make_alert(alice)
    client = browser_for(nurse)
    client.post(url(alert, "acknowledge"), **HTMX)
    client.post(url(alert, "resolve"), {"resolution": "other", "note": "Called."}, **HTMX)
    assert events(alert) == [
        (AlertEvent.Kind.CREATED, None),
        (AlertEvent.Kind.ACKNOWLEDGED, nurse.pk),
        (AlertEvent.Kind.RESOLVED, nurse.pk),
    ]


@pytest.mark.parametrize(
    "data",
    [{"resolution": "not_a_relapse", "note": "  "}, {"resolution": "bogus", "note": "x"}, {}],
)
def test_resolve_needs_a_known_resolution_and_a_note(
    alice: Patient, nurse: User, browser_for: BrowserFor, data: dict[str, str]
) -> None:
    alert = make_alert(alice)
    response = browser_for(nurse).post(url(alert, "resolve"), data, **HTMX)
    assert response.status_code == 200
    assert "Choose a resolution and write a note." in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN
    assert events(alert) == [(AlertEvent.Kind.CREATED, None)]


def test_a_refused_transition_explains_itself_in_the_row(
    alice: Patient, nurse: User, clinician: User, browser_for: BrowserFor
) -> None:
    alert = make_alert(alice)
    browser_for(clinician).post(url(alert, "acknowledge"), **HTMX)
    response = browser_for(nurse).post(url(alert, "acknowledge"), **HTMX)
    assert response.status_code == 200
    assert "already acknowledged" in response.content.decode()
    assert events(alert)[-1] == (AlertEvent.Kind.ACKNOWLEDGED, clinician.pk)


def test_resolved_alert_cannot_be_resolved_again(
    alice: Patient, nurse: User, browser_for: BrowserFor
) -> None:
    alert = make_alert(alice, status=Alert.Status.RESOLVED)
    response = browser_for(nurse).post(
        url(alert, "resolve"), {"resolution": "other", "note": "again"}, **HTMX
    )
    assert "already resolved" in response.content.decode()


def test_plain_form_post_redirects_back_with_a_message(
    alice: Patient, nurse: User, browser_for: BrowserFor
) -> None:
    alert = make_alert(alice)
    client = browser_for(nurse)
    detail = f"/dashboard/alerts/{alert.public_id}/"
    response = client.post(url(alert, "acknowledge"), {"next": detail})
    assert response.status_code == 302
    assert response["Location"] == detail
    page = client.get(detail).content.decode()
    assert "Acknowledged." in page
    # An off-site "next" is ignored.
    response = client.post(url(alert, "assign"), {"next": "https://evil.example/"})
    assert response["Location"] == detail


def test_comment_on_the_detail_page(alice: Patient, nurse: User, browser_for: BrowserFor) -> None:
    alert = make_alert(alice)
    client = browser_for(nurse)
    detail = f"/dashboard/alerts/{alert.public_id}/"
    response = client.post(url(alert, "comment"), {"note": "Left a voicemail.", "next": detail})
    assert response.status_code == 302
    assert events(alert)[-1] == (AlertEvent.Kind.COMMENTED, nurse.pk)
    page = client.get(detail).content.decode()
    assert "Left a voicemail." in page
    assert "Comment" in page


def test_actions_need_post(alice: Patient, nurse: User, browser_for: BrowserFor) -> None:
    alert = make_alert(alice)
    assert browser_for(nurse).get(url(alert, "acknowledge")).status_code == 405
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN
