"""Fixtures shared by the clinical-records tests: one row of every kind per patient."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.records.factories import RECORD_FACTORIES, days_ago, step
from tracker.models import Patient, User


@dataclass
class World:
    """Alice and Bob (first clinic) and Carol (other clinic), each with one row per kind."""

    patients: dict[str, Patient]
    rows: dict[str, dict[str, Any]]  # kind -> patient name -> row

    def row_id(self, kind: str, who: str) -> str:
        if kind == "patients":
            return str(self.patients[who].public_id)
        return str(self.rows[kind][who].public_id)


@pytest.fixture
def world(
    alice: Patient,
    bob: Patient,
    carol: Patient,
    nurse: User,
    clinician: User,
    clinic_admin: User,
    other_nurse: User,
    other_clinician: User,
) -> World:
    patients = {"alice": alice, "bob": bob, "carol": carol}
    for patient in patients.values():
        step(patient, days_ago(30))
    rows = {
        kind: {name: make(patient) for name, patient in patients.items()}
        for kind, make in RECORD_FACTORIES.items()
    }
    return World(patients=patients, rows=rows)


@pytest.fixture
def actors(
    alice: Patient,
    bob: Patient,
    nurse: User,
    clinician: User,
    clinic_admin: User,
    other_nurse: User,
    other_clinician: User,
) -> dict[str, User | None]:
    """Actors as seen from Alice's records."""
    return {
        "self": alice.user,
        "other_patient": bob.user,
        "nurse": nurse,
        "clinician": clinician,
        "clinic_admin": clinic_admin,
        "other_nurse": other_nurse,
        "other_clinician": other_clinician,
        "anonymous": None,
    }
