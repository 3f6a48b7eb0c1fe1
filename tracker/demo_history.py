"""Study-like history for demo patients (filled in with the clinical records)."""

from __future__ import annotations

from tracker.models import Patient


def seed_patient_history(patient: Patient, *, index: int) -> None:
    return None


def seed_cohort(*, n: int, days: int, password: str, progress: bool) -> int:
    return 0
