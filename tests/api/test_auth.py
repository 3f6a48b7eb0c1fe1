"""Sign-in, token lifetime and rotation, forged tokens, lock-out, activation, session + CSRF."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from io import StringIO
from typing import Any

import jwt
import time_machine
from axes.models import AccessFailureLog
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from api.lockout import lock_ends_at
from api.tasks import sign_in_failures_purge_task
from tests.conftest import PASSWORD
from tracker.models import Patient, User

TOKEN_URL = "/api/v1/auth/token/"
REFRESH_URL = "/api/v1/auth/token/refresh/"
ACTIVATE_URL = "/api/v1/auth/activate/"
ME_URL = "/api/v1/me/"
PATIENTS_URL = "/api/v1/patients/"
PROBLEM = "application/problem+json"
NEW_PASSWORD = "violet-lantern-orbit-42"


def sign_in(email: str, password: str) -> Any:
    return APIClient().post(TOKEN_URL, {"email": email, "password": password}, format="json")


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "code", "errors"} <= body.keys()
    return body


def error_codes(body: dict[str, Any]) -> set[str]:
    return {body["code"], *(e["code"] for e in body["errors"])}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- sign-in ----------------------------------------------------------------------------------


def test_sign_in_returns_access_and_refresh_tokens(nurse: User) -> None:
    response = sign_in("nora@first.test", PASSWORD)

    assert response.status_code == 200
    body = response.json()
    assert claims_of(body["access"])["token_type"] == "access"
    assert claims_of(body["refresh"])["token_type"] == "refresh"
    assert bearer(body["access"]).get(ME_URL).json()["email"] == "nora@first.test"


def test_sign_in_email_is_case_insensitive(nurse: User) -> None:
    assert sign_in("  Nora@First.TEST ", PASSWORD).status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_401(nurse: User) -> None:
    wrong = assert_problem(sign_in("nora@first.test", "not-the-password"), 401)
    unknown = assert_problem(sign_in("nobody@first.test", "not-the-password"), 401)

    # Same shape and message: the response does not tell which accounts exist.
    assert wrong.keys() == unknown.keys()
    assert (wrong["code"], wrong["detail"]) == (unknown["code"], unknown["detail"])


def test_sign_in_without_fields_is_400_with_field_errors(db: None) -> None:
    body = assert_problem(APIClient().post(TOKEN_URL, {}, format="json"), 400)

    assert {e["attr"] for e in body["errors"]} == {"email", "password"}


# --- access token lifetime and expiry ---------------------------------------------------------


def test_access_token_lives_at_most_15_minutes(nurse: User) -> None:
    access = sign_in("nora@first.test", PASSWORD).json()["access"]
    claims = claims_of(access)

    assert 0 < claims["exp"] - claims["iat"] <= 15 * 60


def test_access_token_is_refused_after_it_expires(nurse: User) -> None:
    access = sign_in("nora@first.test", PASSWORD).json()["access"]
    assert bearer(access).get(ME_URL).status_code == 200

    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
        body = assert_problem(bearer(access).get(ME_URL), 401)

    assert "token_not_valid" in error_codes(body)


# --- refresh rotation ------------------------------------------------------------------------


def test_refresh_rotates_and_the_old_refresh_cannot_be_reused(nurse: User) -> None:
    first = sign_in("nora@first.test", PASSWORD).json()

    rotated = APIClient().post(REFRESH_URL, {"refresh": first["refresh"]}, format="json")
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh"] != first["refresh"]
    assert bearer(second["access"]).get(ME_URL).status_code == 200

    reused = APIClient().post(REFRESH_URL, {"refresh": first["refresh"]}, format="json")
    assert_problem(reused, 401)
    # The rotated refresh still works once.
    again = APIClient().post(REFRESH_URL, {"refresh": second["refresh"]}, format="json")
    assert again.status_code == 200


def test_refresh_token_is_not_accepted_as_access_token(nurse: User) -> None:
    refresh = sign_in("nora@first.test", PASSWORD).json()["refresh"]

    assert_problem(bearer(refresh).get(ME_URL), 401)


def test_access_token_is_not_accepted_as_refresh_token(nurse: User) -> None:
    access = sign_in("nora@first.test", PASSWORD).json()["access"]

    assert_problem(APIClient().post(REFRESH_URL, {"refresh": access}, format="json"), 401)


def test_unsigned_alg_none_token_is_refused(nurse: User) -> None:
    claims = claims_of(sign_in("nora@first.test", PASSWORD).json()["access"])
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())

    for forged in (f"{header}.{payload}.", f"{header}.{payload}"):
        assert_problem(bearer(forged).get(ME_URL), 401)


def test_token_signed_with_another_key_is_refused(nurse: User) -> None:
    claims = claims_of(sign_in("nora@first.test", PASSWORD).json()["access"])
    forged = jwt.encode(claims, "another-key-that-is-long-enough-for-hs256!!", algorithm="HS256")

    assert_problem(bearer(forged).get(ME_URL), 401)


def test_token_with_tampered_claims_is_refused(nurse: User, clinician: User) -> None:
    access = sign_in("nora@first.test", PASSWORD).json()["access"]
    header, _, signature = access.split(".")
    claims = claims_of(access) | {"sub": str(clinician.public_id)}
    tampered = f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"

    assert_problem(bearer(tampered).get(ME_URL), 401)


def test_token_of_a_deactivated_user_is_refused(nurse: User) -> None:
    access = sign_in("nora@first.test", PASSWORD).json()["access"]
    User.objects.filter(pk=nurse.pk).update(is_active=False)

    assert_problem(bearer(access).get(ME_URL), 401)


# --- lock-out --------------------------------------------------------------------------------


def test_ten_failed_sign_ins_lock_the_account_until_the_cool_off(nurse: User) -> None:
    statuses = [sign_in("nora@first.test", f"wrong-{i}").status_code for i in range(10)]
    assert statuses[:9] == [401] * 9
    assert statuses[9] == 429  # the tenth failure locks the account and says so

    locked = assert_problem(sign_in("nora@first.test", PASSWORD), 429)
    assert locked["code"] == "account_locked"
    # The lock is per account, whatever case the e-mail is typed in.
    assert sign_in("NORA@first.test", PASSWORD).status_code == 429

    with time_machine.travel(timezone.now() + timedelta(minutes=16), tick=False):
        assert sign_in("nora@first.test", PASSWORD).status_code == 200


def test_lock_out_of_one_account_leaves_others_alone(nurse: User, clinician: User) -> None:
    for i in range(10):
        sign_in("nora@first.test", f"wrong-{i}")

    assert sign_in("nora@first.test", PASSWORD).status_code == 429
    assert sign_in("clara@first.test", PASSWORD).status_code == 200


def test_a_successful_sign_in_resets_the_failure_count(nurse: User) -> None:
    for i in range(9):
        sign_in("nora@first.test", f"wrong-{i}")
    assert sign_in("nora@first.test", PASSWORD).status_code == 200

    for i in range(9):
        sign_in("nora@first.test", f"wrong-again-{i}")
    assert sign_in("nora@first.test", PASSWORD).status_code == 200


def test_failures_spread_wider_than_the_window_do_not_lock(nurse: User) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for i in range(12):  # one every 6 minutes: never 10 within 15 minutes
            clock.move_to(start + timedelta(minutes=6 * i))
            assert sign_in("nora@first.test", f"wrong-{i}").status_code == 401
        assert sign_in("nora@first.test", PASSWORD).status_code == 200


def test_ten_failures_within_the_window_lock_for_the_cool_off_from_the_tenth(
    nurse: User,
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for i in range(10):  # 10 failures over 13.5 minutes
            clock.move_to(start + timedelta(minutes=1.5 * i))
            sign_in("nora@first.test", f"wrong-{i}")
        tenth = start + timedelta(minutes=13.5)
        clock.move_to(tenth + timedelta(minutes=5))
        for i in range(5):  # tries while locked neither count nor extend the lock
            assert sign_in("nora@first.test", f"again-{i}").status_code == 429
        clock.move_to(tenth + timedelta(minutes=14, seconds=59))
        assert sign_in("nora@first.test", PASSWORD).status_code == 429
        clock.move_to(tenth + timedelta(minutes=15))
        assert sign_in("nora@first.test", PASSWORD).status_code == 200


def test_a_flood_of_tries_while_locked_never_lifts_the_lock(nurse: User, settings: Any) -> None:
    settings.AXES_ACCESS_FAILURE_LOG_PER_USER_LIMIT = 12  # the flood overflows the log
    for i in range(10):
        sign_in("nora@first.test", f"wrong-{i}")
    for i in range(30):
        assert sign_in("nora@first.test", f"flood-{i}").status_code == 429
    assert AccessFailureLog.objects.filter(username="nora@first.test").count() <= 13
    assert sign_in("nora@first.test", PASSWORD).status_code == 429


def test_an_admin_reset_of_everyone_unlocks_the_account(nurse: User) -> None:
    for i in range(10):
        sign_in("nora@first.test", f"wrong-{i}")
    assert sign_in("nora@first.test", PASSWORD).status_code == 429
    call_command("axes_reset", stdout=StringIO())
    assert sign_in("nora@first.test", PASSWORD).status_code == 200


def test_failed_sign_ins_older_than_a_day_are_purged(nurse: User) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for i in range(3):
            sign_in("nora@first.test", f"wrong-{i}")
        clock.move_to(start + timedelta(days=1, minutes=1))
        sign_in("nora@first.test", "wrong-today")
        assert sign_in_failures_purge_task() == 3
    assert AccessFailureLog.objects.filter(username="nora@first.test").count() == 1


def test_lock_replay_counts_only_failures_inside_the_window_and_outside_a_lock() -> None:
    t0 = timezone.now()
    minutes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 20, 40, 41]
    failures = [t0 + timedelta(minutes=m) for m in minutes]
    ends, counted = lock_ends_at(
        failures, limit=10, window=timedelta(minutes=15), cool_off=timedelta(minutes=15)
    )
    # Locked at minute 9 until 24; 12 and 20 fell inside the lock; 40 and 41 count.
    assert ends == t0 + timedelta(minutes=24)
    assert counted == 2


# --- activation ------------------------------------------------------------------------------


def enrol(clinician: User, email: str = "dora@patient.test", mrn: str = "D004") -> str:
    payload = {
        "email": email,
        "first_name": "Dora",
        "last_name": "Newcomer",
        "date_of_birth": "1975-02-03",
        "sex": "female",
        "reproductive_potential": False,
        "cle_subtype": "dle",
        "timezone": "Europe/Madrid",
        "mrn": mrn,
    }
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {sign_in(clinician.email, PASSWORD).json()['access']}"
    )
    response = client.post(PATIENTS_URL, payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "invited"
    return body["activation_code"]


def activate(email: str, code: str, password: str) -> Any:
    return APIClient().post(
        ACTIVATE_URL,
        {"email": email, "activation_code": code, "password": password},
        format="json",
    )


def test_enrolled_patient_activates_with_the_code_and_signs_in(clinician: User) -> None:
    code = enrol(clinician)
    # Before activation the account has no usable password.
    assert sign_in("dora@patient.test", NEW_PASSWORD).status_code == 401

    response = activate("dora@patient.test", code, NEW_PASSWORD)

    assert response.status_code == 200, response.content
    assert Patient.objects.get(user__email="dora@patient.test").status == "active"
    tokens = sign_in("dora@patient.test", NEW_PASSWORD).json()
    me = bearer(tokens["access"]).get(ME_URL).json()
    assert me["role"] == "patient"


def test_activation_code_is_forgiving_about_case_spaces_and_dashes(clinician: User) -> None:
    code = enrol(clinician)

    typed = " " + code.replace("-", " ").lower() + " "
    assert activate("dora@patient.test", typed, NEW_PASSWORD).status_code == 200


def test_activation_with_wrong_code_is_400_invalid_activation(clinician: User) -> None:
    code = enrol(clinician)
    wrong = ("A" if code[0] != "A" else "B") + code[1:]

    body = assert_problem(activate("dora@patient.test", wrong, NEW_PASSWORD), 400)

    assert "invalid_activation" in error_codes(body)
    assert sign_in("dora@patient.test", NEW_PASSWORD).status_code == 401


def test_activation_for_unknown_email_looks_like_a_wrong_code(clinician: User) -> None:
    code = enrol(clinician)

    unknown = assert_problem(activate("nobody@patient.test", code, NEW_PASSWORD), 400)
    wrong = assert_problem(activate("dora@patient.test", "ZZZZZ-ZZZZZ", NEW_PASSWORD), 400)

    assert unknown["errors"] == wrong["errors"]


def test_activation_with_weak_password_is_400_on_the_password_field(clinician: User) -> None:
    code = enrol(clinician)

    body = assert_problem(activate("dora@patient.test", code, "12345678"), 400)

    assert "password" in {e["attr"] for e in body["errors"]}
    # A refused password does not spend the code.
    assert activate("dora@patient.test", code, NEW_PASSWORD).status_code == 200


def test_activation_code_works_only_once(clinician: User) -> None:
    code = enrol(clinician)
    assert activate("dora@patient.test", code, NEW_PASSWORD).status_code == 200

    body = assert_problem(activate("dora@patient.test", code, "another-" + NEW_PASSWORD), 400)

    assert "invalid_activation" in error_codes(body)
    # The first password still stands.
    assert sign_in("dora@patient.test", NEW_PASSWORD).status_code == 200


def test_activation_code_expires(clinician: User) -> None:
    code = enrol(clinician)
    assert timedelta(days=15) > settings.ACTIVATION_CODE_TTL

    with time_machine.travel(timezone.now() + timedelta(days=15), tick=False):
        body = assert_problem(activate("dora@patient.test", code, NEW_PASSWORD), 400)

    assert "invalid_activation" in error_codes(body)


def test_activation_cannot_take_over_an_existing_account(clinician: User, alice: Patient) -> None:
    enrol(clinician)

    body = assert_problem(activate("alice@patient.test", "ABCDE-FGHJK", NEW_PASSWORD), 400)

    assert "invalid_activation" in error_codes(body)
    assert sign_in("alice@patient.test", PASSWORD).status_code == 200


# --- session login with CSRF, for the web ----------------------------------------------------


def test_session_login_works_and_writes_need_the_csrf_token(clinician: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician, backend="django.contrib.auth.backends.ModelBackend")

    me = client.get(ME_URL)
    assert me.status_code == 200
    assert me.json()["role"] == "clinician"

    no_token = client.post(PATIENTS_URL, data={}, content_type="application/json")
    body = assert_problem(no_token, 403)
    assert "csrf" in body["detail"].lower()

    # A page of the site hands out the CSRF cookie; the web client echoes it in a header.
    client.get("/admin/login/")
    csrf = client.cookies[settings.CSRF_COOKIE_NAME].value
    with_token = client.post(
        PATIENTS_URL, data={}, content_type="application/json", HTTP_X_CSRFTOKEN=csrf
    )
    # Past the CSRF check, the empty body reaches validation.
    assert_problem(with_token, 400)


def test_jwt_clients_need_no_csrf_token(clinician: User) -> None:
    access = sign_in(clinician.email, PASSWORD).json()["access"]
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")

    assert_problem(client.post(PATIENTS_URL, {}, format="json"), 400)
