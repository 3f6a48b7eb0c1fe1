"""me/ for every role, and patients/ scoped to the caller's clinic (or to the patient)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.conftest import make_patient
from tracker.models import Clinic, Patient, User

ME_URL = "/api/v1/me/"
PATIENTS_URL = "/api/v1/patients/"
PROBLEM = "application/problem+json"

ClientFor = Callable[[User | None], APIClient]


def detail_url(patient: Patient) -> str:
    return f"{PATIENTS_URL}{patient.public_id}/"


def listed_ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    return body


def field_errors(body: dict[str, Any]) -> set[str]:
    return {e["attr"] for e in body["errors"]}


def enrolment(**overrides: Any) -> dict[str, Any]:
    payload = {
        "email": "erin@patient.test",
        "first_name": "Erin",
        "last_name": "Enrolled",
        "date_of_birth": "1982-09-30",
        "sex": "female",
        "reproductive_potential": True,
        "cle_subtype": "scle",
        "timezone": "Europe/Madrid",
        "mrn": "E005",
    }
    payload.update(overrides)
    return payload


# --- me/ -------------------------------------------------------------------------------------


def test_me_for_a_patient_gives_the_patient_id(
    client_for: ClientFor, alice: Patient, clinic: Clinic
) -> None:
    me = client_for(alice.user).get(ME_URL).json()

    assert me["role"] == "patient"
    assert me["email"] == "alice@patient.test"
    assert me["id"] == str(alice.user.public_id)
    assert me["patient"] == str(alice.public_id)
    assert me["clinic"] == str(clinic.public_id)


@pytest.mark.parametrize("persona", ["nurse", "clinician", "clinic_admin"])
def test_me_for_staff_gives_role_and_clinic(
    request: pytest.FixtureRequest, client_for: ClientFor, clinic: Clinic, persona: str
) -> None:
    user: User = request.getfixturevalue(persona)

    me = client_for(user).get(ME_URL).json()

    assert me["role"] == persona
    assert me["clinic"] == str(clinic.public_id)
    assert me["clinic_name"] == clinic.name
    assert me["patient"] is None


def test_me_for_staff_of_the_other_clinic(
    client_for: ClientFor, other_nurse: User, other_clinic: Clinic
) -> None:
    me = client_for(other_nurse).get(ME_URL).json()

    assert (me["role"], me["clinic"]) == ("nurse", str(other_clinic.public_id))


def test_me_anonymous_is_401(api: APIClient, db: None) -> None:
    body = assert_problem(api.get(ME_URL), 401)

    assert body["code"] == "not_authenticated"


# --- patients/ scoping -----------------------------------------------------------------------


def test_nurse_lists_only_her_clinics_patients(
    client_for: ClientFor, nurse: User, alice: Patient, bob: Patient, carol: Patient
) -> None:
    ids = listed_ids(client_for(nurse).get(PATIENTS_URL))

    assert ids == {str(alice.public_id), str(bob.public_id)}


def test_other_nurse_lists_only_carol(
    client_for: ClientFor, other_nurse: User, alice: Patient, bob: Patient, carol: Patient
) -> None:
    ids = listed_ids(client_for(other_nurse).get(PATIENTS_URL))

    assert ids == {str(carol.public_id)}


def test_list_search_stays_inside_the_clinic(
    client_for: ClientFor, nurse: User, alice: Patient, carol: Patient
) -> None:
    client = client_for(nurse)

    assert listed_ids(client.get(PATIENTS_URL, {"search": "A001"})) == {str(alice.public_id)}
    assert listed_ids(client.get(PATIENTS_URL, {"search": "C003"})) == set()


def test_patient_lists_only_themself(
    client_for: ClientFor, alice: Patient, bob: Patient, carol: Patient
) -> None:
    ids = listed_ids(client_for(alice.user).get(PATIENTS_URL))

    assert ids == {str(alice.public_id)}


def test_patient_gets_own_detail_and_404_for_another_patient(
    client_for: ClientFor, alice: Patient, bob: Patient, carol: Patient
) -> None:
    client = client_for(alice.user)

    own = client.get(detail_url(alice))
    assert own.status_code == 200
    assert own.json()["mrn"] == "A001"
    assert_problem(client.get(detail_url(bob)), 404)
    assert_problem(client.get(detail_url(carol)), 404)


def test_staff_get_404_for_another_clinics_patient(
    client_for: ClientFor, nurse: User, clinician: User, alice: Patient, carol: Patient
) -> None:
    assert client_for(nurse).get(detail_url(alice)).status_code == 200
    assert_problem(client_for(nurse).get(detail_url(carol)), 404)
    assert_problem(client_for(clinician).get(detail_url(carol)), 404)


def test_detail_of_a_missing_patient_looks_like_another_clinics(
    client_for: ClientFor, nurse: User, carol: Patient
) -> None:
    client = client_for(nurse)
    missing = assert_problem(
        client.get(f"{PATIENTS_URL}00000000-0000-4000-8000-000000000000/"), 404
    )
    hidden = assert_problem(client.get(detail_url(carol)), 404)

    assert (missing["code"], missing["detail"]) == (hidden["code"], hidden["detail"])


def test_patients_list_anonymous_is_401(api: APIClient, alice: Patient) -> None:
    assert_problem(api.get(PATIENTS_URL), 401)


def test_staff_cannot_patch_another_clinics_patient(
    client_for: ClientFor, clinician: User, carol: Patient
) -> None:
    response = client_for(clinician).patch(detail_url(carol), {"status": "discontinued"})

    assert_problem(response, 404)
    carol.refresh_from_db()
    assert carol.status == "active"


# --- enrolment -------------------------------------------------------------------------------


def test_clinician_enrols_a_patient_at_her_clinic(
    client_for: ClientFor, clinician: User, nurse: User, clinic: Clinic
) -> None:
    response = client_for(clinician).post(PATIENTS_URL, enrolment(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["clinic"] == str(clinic.public_id)
    assert body["status"] == "invited"
    assert body["email"] == "erin@patient.test"
    assert len(body["activation_code"].replace("-", "")) >= 8
    patient = Patient.objects.get(public_id=body["id"])
    assert patient.clinic_id == clinic.pk
    # The code is stored only as a hash; reads never show it again.
    assert body["activation_code"] not in patient.activation_code_hash
    again = client_for(clinician).get(f"{PATIENTS_URL}{body['id']}/").json()
    assert "activation_code" not in again
    # The nurse of the clinic sees the new patient.
    assert body["id"] in listed_ids(client_for(nurse).get(PATIENTS_URL))


@pytest.mark.parametrize("persona", ["nurse", "clinic_admin"])
def test_other_staff_cannot_enrol(
    request: pytest.FixtureRequest, client_for: ClientFor, persona: str
) -> None:
    user: User = request.getfixturevalue(persona)

    assert_problem(client_for(user).post(PATIENTS_URL, enrolment(), format="json"), 403)
    assert not Patient.objects.filter(mrn="E005").exists()


def test_patient_cannot_enrol(client_for: ClientFor, alice: Patient) -> None:
    assert_problem(client_for(alice.user).post(PATIENTS_URL, enrolment(), format="json"), 403)
    assert not Patient.objects.filter(mrn="E005").exists()


def test_anonymous_cannot_enrol(api: APIClient, db: None) -> None:
    assert_problem(api.post(PATIENTS_URL, enrolment(), format="json"), 401)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"sex": "male", "reproductive_potential": True}, "reproductive_potential"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"date_of_birth": "not-a-date"}, "date_of_birth"),
        ({"email": "not-an-email"}, "email"),
        ({"sex": "unknown"}, "sex"),
        ({"cle_subtype": "systemic"}, "cle_subtype"),
        ({"mrn": "A 001; DROP"}, "mrn"),
        ({"reproductive_potential": None}, "reproductive_potential"),
    ],
)
def test_enrol_validation_errors_are_400_with_field_errors(
    client_for: ClientFor, clinician: User, overrides: dict[str, Any], field: str
) -> None:
    response = client_for(clinician).post(PATIENTS_URL, enrolment(**overrides), format="json")

    body = assert_problem(response, 400)
    assert field in field_errors(body)
    assert not Patient.objects.filter(mrn=enrolment(**overrides)["mrn"]).exists()


def test_enrol_missing_fields_are_all_reported(client_for: ClientFor, clinician: User) -> None:
    body = assert_problem(client_for(clinician).post(PATIENTS_URL, {}, format="json"), 400)

    assert {"email", "date_of_birth", "sex", "cle_subtype", "timezone", "mrn"} <= field_errors(body)


def test_enrol_duplicate_email_is_409(
    client_for: ClientFor, clinician: User, alice: Patient
) -> None:
    response = client_for(clinician).post(
        PATIENTS_URL, enrolment(email="ALICE@patient.test"), format="json"
    )

    body = assert_problem(response, 409)
    assert body["code"] == "email_taken"
    assert Patient.objects.count() == 1


def test_enrol_duplicate_mrn_in_the_same_clinic_is_409(
    client_for: ClientFor, clinician: User, alice: Patient
) -> None:
    response = client_for(clinician).post(PATIENTS_URL, enrolment(mrn="A001"), format="json")

    body = assert_problem(response, 409)
    assert body["code"] == "mrn_taken"
    assert not User.objects.filter(email="erin@patient.test").exists()


def test_the_same_mrn_at_another_clinic_is_allowed(
    client_for: ClientFor, other_clinician: User, alice: Patient
) -> None:
    response = client_for(other_clinician).post(PATIENTS_URL, enrolment(mrn="A001"), format="json")

    assert response.status_code == 201, response.content


# --- query count -----------------------------------------------------------------------------


def test_list_query_count_does_not_grow_with_the_number_of_patients(
    client_for: ClientFor,
    nurse: User,
    clinic: Clinic,
    django_assert_max_num_queries: Any,
) -> None:
    client = client_for(nurse)
    for i in range(3):
        make_patient(f"few{i}@patient.test", clinic, mrn=f"F{i:03}")
    with CaptureQueriesContext(connection) as few:
        assert len(listed_ids(client.get(PATIENTS_URL))) == 3

    for i in range(27):
        make_patient(f"many{i}@patient.test", clinic, mrn=f"M{i:03}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(listed_ids(client.get(PATIENTS_URL))) == 30
