"""Rows and API helpers for the clinical-records tests.

Rows are made through the ORM so that each test exercises exactly one API call; the shapes
follow what the services would store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from rest_framework.test import APIClient

from tracker.models import (
    CheckIn,
    ClasiAssessment,
    DoseLog,
    LabResult,
    Patient,
    Prescription,
    RegimenStep,
    User,
)

API = "/api/v1/"
PROBLEM = "application/problem+json"

ClientFor = Callable[[User | None], APIClient]


def real_today() -> date:
    return datetime.now(UTC).date()


def days_ago(n: int) -> date:
    return real_today() - timedelta(days=n)


def url(*parts: object) -> str:
    return API + "".join(f"{p}/" for p in parts)


def step(
    patient: Patient,
    starts_on: date,
    dose_mg: str = "5",
    pattern: str = "daily",
    *,
    reason: str = "start",
    weekdays: list[int] | None = None,
    cycle_days_on: int | None = None,
    cycle_length: int | None = None,
) -> RegimenStep:
    return RegimenStep.objects.create(
        patient=patient,
        starts_on=starts_on,
        dose_mg=Decimal(dose_mg),
        pattern=pattern,
        weekdays=weekdays or [],
        cycle_days_on=cycle_days_on,
        cycle_length=cycle_length,
        reason=reason,
        created_by=patient.user,
    )


def dose_log(
    patient: Patient, day: date, status: str = "taken", dose_mg: str | None = "5", note: str = ""
) -> DoseLog:
    return DoseLog.objects.create(
        patient=patient,
        client_id=uuid.uuid4(),
        fingerprint="factory",
        scheduled_date=day,
        status=status,
        dose_mg=Decimal(dose_mg) if status == "taken" and dose_mg else None,
        expected_dose_mg=Decimal(5),
        note=note,
        recorded_by=patient.user,
    )


def check_in(patient: Patient, answered_at: datetime | None = None, **extra: Any) -> CheckIn:
    moment = answered_at or datetime.now(UTC) - timedelta(days=1)
    return CheckIn.objects.create(
        patient=patient,
        client_id=uuid.uuid4(),
        fingerprint="factory",
        answered_at=moment,
        local_date=moment.date(),
        symptoms=[{"term": "nausea", "frequency": 1, "severity": 1, "composite_grade": 1}],
        itch=2,
        **extra,
    )


def lab(
    patient: Patient, test: str = "anc", value: str = "2.5", by: User | None = None
) -> LabResult:
    return LabResult.objects.create(
        patient=patient,
        test=test,
        value=Decimal(value),
        unit="10^9/L",
        collected_at=datetime.now(UTC) - timedelta(days=1),
        ctcae_grade=0,
        ctcae_version="5.0",
        entered_by=by or patient.user,
    )


def clasi(
    patient: Patient, by: User | None = None, assessed_on: date | None = None
) -> ClasiAssessment:
    return ClasiAssessment.objects.create(
        patient=patient,
        assessed_on=assessed_on or days_ago(1),
        areas={"face": {"erythema": 1}},
        activity_score=1,
        damage_score=0,
        activity_band="mild",
        assessed_by=by or patient.user,
    )


def prescription(patient: Patient, by: User | None = None) -> Prescription:
    return Prescription.objects.create(
        patient=patient,
        issued_on=days_ago(1),
        dose_mg=Decimal(5),
        quantity=28,
        days_supply=28,
        authorization_number="AUTH-0001",
        risk_category="female_not_reproductive",
        prescribed_by=by or patient.user,
    )


RECORD_FACTORIES: dict[str, Callable[[Patient], Any]] = {
    "dose-logs": lambda p: dose_log(p, days_ago(1)),
    "check-ins": check_in,
    "lab-results": lab,
    "clasi-assessments": clasi,
    "prescriptions": prescription,
}


# --- request bodies --------------------------------------------------------------------------


def dose_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": str(uuid.uuid4()),
        "scheduled_date": str(days_ago(2)),
        "status": "missed",
    }
    body.update(overrides)
    return body


def check_in_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": str(uuid.uuid4()),
        "answered_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
        "symptoms": [{"term": "nausea", "frequency": 2, "severity": 1}],
        "itch": 3,
        "pain": 1,
        "global_activity": 2,
    }
    body.update(overrides)
    return body


def lab_body(patient: Patient, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient": str(patient.public_id),
        "test": "anc",
        "value": "2.1",
        "collected_at": (datetime.now(UTC) - timedelta(hours=5)).isoformat(),
    }
    body.update(overrides)
    return body


def clasi_body(patient: Patient, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient": str(patient.public_id),
        "assessed_on": str(days_ago(1)),
        "areas": {"face": {"erythema": 2, "scale": 1}},
    }
    body.update(overrides)
    return body


def prescription_body(patient: Patient, **overrides: Any) -> dict[str, Any]:
    risk = {
        ("female", True): "female_reproductive",
        ("female", False): "female_not_reproductive",
    }.get((patient.sex, patient.reproductive_potential), "male")
    body: dict[str, Any] = {
        "patient": str(patient.public_id),
        "issued_on": str(days_ago(1)),
        "dose_mg": "5",
        "quantity": 28,
        "days_supply": 28,
        "authorization_number": "AUTH-1234",
        "risk_category": risk,
    }
    body.update(overrides)
    return body


def step_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "starts_on": str(real_today() + timedelta(days=3)),
        "dose_mg": "5",
        "pattern": "daily",
        "reason": "start",
    }
    body.update(overrides)
    return body


def enrolment_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
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
    body.update(overrides)
    return body


# --- responses -------------------------------------------------------------------------------


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status (and code, when given)."""
    assert response.status_code == status, response.content[:800]
    assert response["Content-Type"].startswith(PROBLEM), response["Content-Type"]
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["errors"], list)
    if code is not None:
        assert body["code"] == code, body
    return body


def error_attrs(body: dict[str, Any]) -> set[str]:
    return {e["attr"] for e in body["errors"] if e.get("attr")}


def listed_ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.content[:800]
    return {row["id"] for row in response.json()["results"]}
