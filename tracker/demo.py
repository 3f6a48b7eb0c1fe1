"""Demo and synthetic data. Idempotent: rows are looked up by natural keys before creation."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial

from django.contrib.auth.hashers import make_password
from django.db import transaction

from tracker.models import Clinic, Patient, StaffMembership, User

CLINICS = [
    ("Demo Dermatology Clinic", "demo.example", "Europe/Madrid"),
    ("Second Rheumatology Clinic", "second.example", "America/New_York"),
]

# (first, last, subtype, sex, reproductive potential) for the demo clinic's patients.
DEMO_PATIENTS = [
    ("Ana", "Serra", "dle", "female", True),
    ("Marta", "Vidal", "scle", "female", False),
    ("Joan", "Puig", "dle", "male", False),
    ("Laia", "Font", "lupus_profundus", "female", True),
    ("Pere", "Roca", "scle", "male", False),
    ("Nuria", "Soler", "dle", "female", False),
    ("Carme", "Mas", "scle", "female", True),
    ("Jordi", "Costa", "dle", "male", False),
    ("Rosa", "Pujol", "lupus_profundus", "female", False),
    ("Elena", "Ribas", "tumid", "female", True),
    ("Sergi", "Camps", "chilblain", "male", False),
    ("Montse", "Ferrer", "scle", "female", False),
]


Hasher = Callable[[], str]


def _hasher(password: str) -> Hasher:
    """The password's hash, computed once and only if a login is missing (PBKDF2 is slow)."""
    return cache(partial(make_password, password))


def _user(email: str, hashed: Hasher, first: str, last: str) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create(
            email=email.lower(), password=hashed(), first_name=first, last_name=last
        )
    return user


@transaction.atomic
def seed_staff(password: str, hashed: Hasher | None = None) -> list[tuple[str, str, str]]:
    hashed = hashed or _hasher(password)
    logins: list[tuple[str, str, str]] = []
    for name, domain, tz in CLINICS:
        clinic, _ = Clinic.objects.get_or_create(name=name, defaults={"timezone": tz})
        for role, first in (("nurse", "Nora"), ("clinician", "Clara"), ("clinic_admin", "Adam")):
            local = "admin" if role == "clinic_admin" else role
            email = f"{local}@{domain}"
            user = _user(email, hashed, first, domain.split(".")[0].title())
            if role == "clinic_admin" and not user.is_staff:
                user.is_staff = True
                user.save(update_fields=["is_staff"])
            StaffMembership.objects.get_or_create(
                user=user,
                defaults={"clinic": clinic, "role": role, "on_call": role == "clinician"},
            )
            logins.append((email, role, name))
    return logins


def seed_demo(*, password: str) -> list[tuple[str, str, str]]:
    from tracker import demo_history

    hashed = _hasher(password)
    logins = seed_staff(password, hashed)
    demo_clinic = Clinic.objects.get(name=CLINICS[0][0])
    second_clinic = Clinic.objects.get(name=CLINICS[1][0])
    clinician = User.objects.get(email="clinician@demo.example")
    for i, (first, last, subtype, sex, potential) in enumerate(DEMO_PATIENTS, start=1):
        email = f"patient{i}@demo.example"
        patient = _patient(
            email, hashed, demo_clinic, clinician, first, last, subtype, sex, potential, i
        )
        demo_history.seed_patient_history(patient, index=i)
        logins.append((email, "patient", demo_clinic.name))
    other = _patient(
        "patient1@second.example",
        hashed,
        second_clinic,
        User.objects.get(email="clinician@second.example"),
        "Grace",
        "Miller",
        "scle",
        "female",
        False,
        101,
    )
    demo_history.seed_patient_history(other, index=2)
    logins.append(("patient1@second.example", "patient", second_clinic.name))
    return logins


@transaction.atomic
def _patient(
    email: str,
    hashed: Hasher,
    clinic: Clinic,
    clinician: User,
    first: str,
    last: str,
    subtype: str,
    sex: str,
    potential: bool,
    index: int,
) -> Patient:
    from datetime import date

    from tracker.models import CareTeamAssignment

    existing = Patient.objects.filter(user__email=email).first()
    if existing is not None:
        return existing
    user = _user(email, hashed, first, last)
    patient = Patient.objects.create(
        user=user,
        clinic=clinic,
        mrn=f"MRN{index:05d}",
        first_name=first,
        last_name=last,
        date_of_birth=date(1960 + index % 30, 1 + index % 12, 1 + index % 27),
        sex=sex,
        reproductive_potential=potential,
        cle_subtype=subtype,
        timezone=clinic.timezone,
        status=Patient.Status.ACTIVE,
        enrolled_by=clinician,
    )
    team = User.objects.filter(
        staff_membership__clinic=clinic, staff_membership__role__in=["nurse", "clinician"]
    )
    CareTeamAssignment.objects.bulk_create(
        [CareTeamAssignment(patient=patient, user=u) for u in team], ignore_conflicts=True
    )
    return patient


def seed_cohort(*, n: int, days: int, password: str, progress: bool) -> int:
    from tracker import demo_history

    return demo_history.seed_cohort(n=n, days=days, password=password, progress=progress)
