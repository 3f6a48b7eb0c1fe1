"""Persona fixtures (Healthchecks style) and API clients.

Two clinics; in the first, nurse Nora and clinician Clara look after patients Alice and
Bob; the second clinic has its own nurse, clinician and patient Carol.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tracker.models import CareTeamAssignment, Clinic, Patient, StaffMembership, User

PASSWORD = "correct-horse-battery-staple"


def make_staff(email: str, clinic: Clinic, role: str) -> User:
    user = User.objects.create_user(email, PASSWORD, first_name=role.title(), last_name="Staff")
    StaffMembership.objects.create(user=user, clinic=clinic, role=role, on_call=role == "clinician")
    return user


def make_patient(email: str, clinic: Clinic, *, mrn: str, **extra: object) -> Patient:
    user = User.objects.create_user(email, PASSWORD, first_name="Pat", last_name=mrn)
    fields: dict[str, object] = {
        "first_name": email.split("@")[0].title(),
        "last_name": "Tester",
        "date_of_birth": date(1980, 5, 17),
        "sex": "female",
        "reproductive_potential": False,
        "cle_subtype": "scle",
        "timezone": "Europe/Madrid",
        "status": Patient.Status.ACTIVE,
    }
    fields.update(extra)
    patient = Patient.objects.create(user=user, clinic=clinic, mrn=mrn, **fields)
    for member in User.objects.filter(staff_membership__clinic=clinic):
        CareTeamAssignment.objects.create(patient=patient, user=member)
    return patient


@pytest.fixture
def clinic(db: None) -> Clinic:
    return Clinic.objects.create(name="First Clinic", timezone="Europe/Madrid")


@pytest.fixture
def other_clinic(db: None) -> Clinic:
    return Clinic.objects.create(name="Other Clinic", timezone="America/New_York")


@pytest.fixture
def nurse(clinic: Clinic) -> User:
    return make_staff("nora@first.test", clinic, "nurse")


@pytest.fixture
def clinician(clinic: Clinic) -> User:
    return make_staff("clara@first.test", clinic, "clinician")


@pytest.fixture
def clinic_admin(clinic: Clinic) -> User:
    return make_staff("adam@first.test", clinic, "clinic_admin")


@pytest.fixture
def other_nurse(other_clinic: Clinic) -> User:
    return make_staff("olga@other.test", other_clinic, "nurse")


@pytest.fixture
def other_clinician(other_clinic: Clinic) -> User:
    return make_staff("oscar@other.test", other_clinic, "clinician")


@pytest.fixture
def alice(clinic: Clinic, nurse: User, clinician: User) -> Patient:
    return make_patient("alice@patient.test", clinic, mrn="A001", reproductive_potential=True)


@pytest.fixture
def bob(clinic: Clinic, nurse: User, clinician: User) -> Patient:
    return make_patient("bob@patient.test", clinic, mrn="B002", sex="male")


@pytest.fixture
def carol(other_clinic: Clinic, other_nurse: User, other_clinician: User) -> Patient:
    return make_patient("carol@patient.test", other_clinic, mrn="C003")


@pytest.fixture
def client_for() -> Callable[[User | None], APIClient]:
    """An API client signed in with a real JWT access token (or anonymous for None)."""

    def build(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            token = RefreshToken.for_user(user).access_token
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return build


@pytest.fixture
def api() -> APIClient:
    return APIClient()
