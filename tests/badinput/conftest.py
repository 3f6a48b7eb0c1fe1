"""A populated world for the bad-input tests: two clinics, every persona, one object of every
kind per patient, and a real JWT access token per persona.

The tests here call the WSGI application in-process (Schemathesis) or through Django's test
client, inside the test's transaction (rolled back after each test: a flush per test would
cost more than the requests). Photos go to a temporary directory per test.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.core import signals
from django.db import close_old_connections, connection
from rest_framework_simplejwt.tokens import RefreshToken

from notifications.models import SEVERITY_RANK, Alert, Device
from tests.conftest import make_patient, make_staff
from tests.fixtures_images import jpeg_bytes
from tests.records.factories import RECORD_FACTORIES, days_ago, step
from tracker.models import Clinic, LesionPhoto, Patient, User
from tracker.services.photos import photo_process, photo_upload

PROBLEM = "application/problem+json"
PATIENTS = ("alice", "bob", "carol", "dave")
ROLES = ("patient", "nurse", "clinician", "clinic_admin", "other_nurse", "anonymous")
"""Who calls: Alice (patient), her clinic's staff, the other clinic's nurse, nobody."""

KINDS = (
    "patients",
    "dose-logs",
    "check-ins",
    "lab-results",
    "clasi-assessments",
    "prescriptions",
    "photos",
    "alerts",
)


@dataclass
class World:
    clinics: dict[str, Clinic]
    users: dict[str, User]
    patients: dict[str, Patient]
    ids: dict[str, dict[str, str]]
    """kind -> owner (alice, bob, carol) -> public id."""
    devices: dict[str, str] = field(default_factory=dict)
    """user key (role, or patient name) -> the public id of that user's own device."""
    tokens: dict[str, str] = field(default_factory=dict)

    def user(self, role: str) -> User | None:
        return None if role == "anonymous" else self.users[role]

    def header(self, role: str) -> dict[str, str]:
        token = self.tokens.get(role)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def public_ids_of(self, owner: str) -> set[str]:
        """Every public id that belongs to `owner` (a patient), for leak scans."""
        found = {ids[owner] for ids in self.ids.values() if owner in ids}
        found.add(str(self.patients[owner].user.public_id))
        found.add(self.devices[owner])
        return found

    def clinic_ids(self, clinic: str) -> set[str]:
        """The public ids of a clinic, its staff, their devices and all its patients' rows."""
        found = {str(self.clinics[clinic].public_id)}
        for key, user in self.users.items():
            membership = getattr(user, "staff_membership", None)
            if membership is not None and membership.clinic_id == self.clinics[clinic].pk:
                found |= {str(user.public_id), self.devices[key]}
        for name, patient in self.patients.items():
            if patient.clinic_id == self.clinics[clinic].pk:
                found |= self.public_ids_of(name)
        return found


def access_token(user: User) -> str:
    return str(RefreshToken.for_user(user).access_token)


def small_jpeg(seed: int) -> bytes:
    """A distinct small JPEG per seed (the photo service de-duplicates by bytes)."""
    return jpeg_bytes((48 + seed % 16, 32 + seed % 8))


def make_photo(patient: Patient, seed: int, **overrides: Any) -> LesionPhoto:
    fields: dict[str, Any] = {
        "client_id": uuid4(),
        "body_area": "face",
        "taken_at": datetime.now(UTC) - timedelta(hours=2),
    }
    fields.update(overrides)
    result = photo_upload(
        patient=patient, uploaded_by=patient.user, stream=io.BytesIO(small_jpeg(seed)), **fields
    )
    photo_process(result.obj.pk)  # what the worker does: thumbnail, status ready
    result.obj.refresh_from_db()
    return result.obj


def make_alert(patient: Patient, rule: str = "relapse_suspected") -> Alert:
    return Alert.objects.create(
        patient=patient,
        clinic=patient.clinic,
        rule=rule,
        episode_key=f"{rule}:{patient.public_id}",
        severity="warning",
        severity_rank=SEVERITY_RANK["warning"],
        summary="Bad-input test alert",
        evidence={"source": "badinput"},
    )


def build_world() -> World:
    clinics = {
        "first": Clinic.objects.create(name="First Clinic", timezone="Europe/Madrid"),
        "other": Clinic.objects.create(name="Other Clinic", timezone="America/New_York"),
    }
    users: dict[str, User] = {
        "nurse": make_staff("nora@first.test", clinics["first"], "nurse"),
        "clinician": make_staff("clara@first.test", clinics["first"], "clinician"),
        "clinic_admin": make_staff("adam@first.test", clinics["first"], "clinic_admin"),
        "other_nurse": make_staff("olga@other.test", clinics["other"], "nurse"),
        "other_clinician": make_staff("oscar@other.test", clinics["other"], "clinician"),
    }
    patients = {
        "alice": make_patient(
            "alice@patient.test", clinics["first"], mrn="A001", reproductive_potential=True
        ),
        "bob": make_patient("bob@patient.test", clinics["first"], mrn="B002", sex="male"),
        "carol": make_patient("carol@patient.test", clinics["other"], mrn="C003"),
        "dave": make_patient("dave@patient.test", clinics["other"], mrn="D004", sex="male"),
    }
    users["patient"] = patients["alice"].user
    users["bob"] = patients["bob"].user
    users["carol"] = patients["carol"].user
    users["dave"] = patients["dave"].user
    ids: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
    for seed, (name, patient) in enumerate(patients.items()):
        step(patient, days_ago(30))
        ids["patients"][name] = str(patient.public_id)
        for kind, make in RECORD_FACTORIES.items():
            ids[kind][name] = str(make(patient).public_id)
        ids["photos"][name] = str(make_photo(patient, seed).public_id)
        ids["alerts"][name] = str(make_alert(patient).public_id)
    world = World(clinics=clinics, users=users, patients=patients, ids=ids)
    for n, (role, user) in enumerate(users.items()):
        device = Device.objects.create(user=user, platform="android", token=f"device-token-{n}")
        world.devices[role] = str(device.public_id)
        world.tokens[role] = access_token(user)
    world.devices["alice"] = world.devices["patient"]
    return world


@pytest.fixture
def photo_root(tmp_path: Path, settings: Any) -> Path:
    """A private, empty photo storage per test."""
    root = tmp_path / "photos"
    settings.STORAGES = {
        **settings.STORAGES,
        "photos": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root


@pytest.fixture
def world(db: None, photo_root: Path) -> Iterator[World]:
    """The world, inside the test's transaction (rolled back after the test).

    Django's WSGI handler closes "obsolete" connections when a request starts and ends, and a
    connection inside a transaction counts as one. Django's test client switches that off;
    Schemathesis calls the WSGI application directly, so the fixture does it too.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield build_world()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def stored_files(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def row_counts() -> dict[str, int]:
    """Rows per table (exact counts; the test database is small)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        tables = sorted(r[0] for r in cursor.fetchall())
        counts = {}
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - catalogue names
            counts[table] = cursor.fetchone()[0]
    return counts


# Tables a refused request may still write to: the audit trail, sessions, lock-out records.
BOOKKEEPING = {
    "tracker_auditevent",
    "django_session",
    "axes_accessattempt",
    "axes_accessfailurelog",
    "axes_accesslog",
    "api_idempotencyrecord",
}


def written_tables(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {
        t: (before.get(t, 0), n)
        for t, n in after.items()
        if n != before.get(t, 0) and t not in BOOKKEEPING
    }


def is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True
