"""Who gets in: sign-in, staff only, the clinic boundary (404, never a hint)."""

from __future__ import annotations

import pytest
from django.test import Client

from notifications.models import Alert
from tests.conftest import PASSWORD
from tests.dashboard.builders import make_alert
from tests.dashboard.conftest import BrowserFor
from tracker.models import Patient, User

pytestmark = pytest.mark.django_db

LOGIN = "/dashboard/login/"


def pages(patient: Patient, alert: Alert) -> list[str]:
    return [
        "/dashboard/",
        "/dashboard/alerts/table/",
        f"/dashboard/alerts/{alert.public_id}/",
        "/dashboard/patients/",
        f"/dashboard/patients/{patient.public_id}/",
        f"/dashboard/patients/{patient.public_id}/adherence.csv",
    ]


def test_every_page_redirects_anonymous_users_to_sign_in(alice: Patient) -> None:
    alert = make_alert(alice)
    client = Client()
    for url in pages(alice, alert):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{LOGIN}?next=/dashboard/"), url


def test_actions_redirect_anonymous_users_and_change_nothing(alice: Patient) -> None:
    alert = make_alert(alice)
    response = Client().post(f"/dashboard/alerts/{alert.public_id}/acknowledge/")
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN


def test_root_redirects_to_the_dashboard() -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"


def test_nurse_signs_in_with_email_and_password(nurse: User) -> None:
    client = Client()
    page = client.get(LOGIN)
    assert page.status_code == 200
    assert b'name="email"' in page.content
    assert b"csrfmiddlewaretoken" in page.content
    response = client.post(LOGIN, {"email": "Nora@First.test", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_sign_in_follows_next(nurse: User, alice: Patient) -> None:
    client = Client()
    target = f"/dashboard/patients/{alice.public_id}/"
    response = client.post(
        f"{LOGIN}?next={target}", {"email": nurse.email, "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302
    assert response["Location"] == target


def test_wrong_password_shows_the_form_again(nurse: User) -> None:
    client = Client()
    response = client.post(LOGIN, {"email": nurse.email, "password": "wrong"})
    assert response.status_code == 200
    assert b"Wrong e-mail or password." in response.content
    assert client.get("/dashboard/").status_code == 302


def test_patient_with_the_right_password_gets_403_and_no_session(alice: Patient) -> None:
    client = Client()
    response = client.post(LOGIN, {"email": alice.user.email, "password": PASSWORD})
    assert response.status_code == 403
    assert b"Not allowed" in response.content
    assert "_auth_user_id" not in client.session
    assert client.get("/dashboard/").status_code == 302


def test_patient_with_a_session_is_refused_every_page(
    alice: Patient, browser_for: BrowserFor
) -> None:
    alert = make_alert(alice)
    client = browser_for(alice.user)
    for url in pages(alice, alert):
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"Not allowed" in response.content
    response = client.post(f"/dashboard/alerts/{alert.public_id}/acknowledge/")
    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN


def test_account_is_locked_after_repeated_failures(nurse: User) -> None:
    client = Client()
    for _ in range(10):
        client.post(LOGIN, {"email": nurse.email, "password": "wrong"})
    response = client.post(LOGIN, {"email": nurse.email, "password": PASSWORD})
    assert response.status_code in (403, 429)
    assert "_auth_user_id" not in client.session
    assert client.get("/dashboard/").status_code == 302


def test_lock_out_is_per_account(nurse: User, clinician: User) -> None:
    client = Client()
    for _ in range(10):
        client.post(LOGIN, {"email": nurse.email, "password": "wrong"})
    response = Client().post(LOGIN, {"email": clinician.email, "password": PASSWORD})
    assert response.status_code == 302


def test_sign_out(nurse: User, browser_for: BrowserFor) -> None:
    client = browser_for(nurse)
    response = client.post("/dashboard/logout/")
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert client.get("/dashboard/").status_code == 302


def test_other_clinic_patient_and_alert_are_not_found(
    alice: Patient, other_nurse: User, browser_for: BrowserFor
) -> None:
    alert = make_alert(alice)
    client = browser_for(other_nurse)
    for url in pages(alice, alert)[2:]:
        if url == "/dashboard/patients/":
            continue
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Not found" in response.content
        assert alice.last_name.encode() not in response.content


def test_other_clinic_cannot_act_on_an_alert(
    alice: Patient, other_nurse: User, browser_for: BrowserFor
) -> None:
    alert = make_alert(alice)
    client = browser_for(other_nurse)
    for action in ("acknowledge", "assign", "resolve", "comment"):
        response = client.post(
            f"/dashboard/alerts/{alert.public_id}/{action}/",
            {"resolution": "other", "note": "x"},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 404, action
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN
    assert alert.assigned_to is None
    assert list(alert.events.values_list("kind", flat=True)) == ["created"]


def test_other_clinic_sees_none_of_our_patients_or_alerts(
    alice: Patient, bob: Patient, carol: Patient, other_nurse: User, browser_for: BrowserFor
) -> None:
    make_alert(alice)
    make_alert(carol, rule="cytopenia", severity="warning")
    client = browser_for(other_nurse)
    queue = client.get("/dashboard/").content.decode()
    assert "A001" not in queue
    assert "C003" in queue
    listing = client.get("/dashboard/patients/").content.decode()
    assert "A001" not in listing
    assert "B002" not in listing
    assert "C003" in listing


def test_clinic_admin_may_use_the_dashboard(clinic_admin: User, browser_for: BrowserFor) -> None:
    assert browser_for(clinic_admin).get("/dashboard/").status_code == 200


def test_post_without_csrf_token_is_refused(alice: Patient, nurse: User) -> None:
    alert = make_alert(alice)
    client = Client(enforce_csrf_checks=True)
    client.force_login(nurse)
    response = client.post(f"/dashboard/alerts/{alert.public_id}/acknowledge/")
    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN


def test_htmx_post_with_csrf_header_is_accepted(alice: Patient, nurse: User) -> None:
    alert = make_alert(alice)
    client = Client(enforce_csrf_checks=True)
    client.force_login(nurse)
    page = client.get("/dashboard/")
    token = page.cookies["csrftoken"].value
    assert b"X-CSRFToken" in page.content
    response = client.post(
        f"/dashboard/alerts/{alert.public_id}/acknowledge/",
        HTTP_HX_REQUEST="true",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200
    alert.refresh_from_db()
    assert alert.status == Alert.Status.ACKNOWLEDGED


def test_expired_session_makes_htmx_navigate_to_sign_in() -> None:
    response = Client().get(
        "/dashboard/alerts/table/?severity=urgent",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/dashboard/?severity=urgent",
    )
    assert response.status_code == 401
    assert response["HX-Redirect"] == f"{LOGIN}?next=/dashboard/%3Fseverity%3Durgent"


def test_assign_button_only_for_assignable_roles(
    alice: Patient, nurse: User, clinic_admin: User, browser_for: BrowserFor
) -> None:
    make_alert(alice)
    assert b"Assign to me" in browser_for(nurse).get("/dashboard/").content
    assert b"Assign to me" not in browser_for(clinic_admin).get("/dashboard/").content
