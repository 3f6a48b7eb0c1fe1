"""Writes of clinical records. Each is one transaction, audited by the API layer.

Phone writes are idempotent on (patient, client_id): a replay with the same fields returns
the stored row (created=False) and changes nothing; a replay with different fields is a
DomainConflict, because silently keeping either version would corrupt the record. The
database's unique constraint settles concurrent retries: the loser of the race reads the
winner's row. Every write that a rule reads enqueues the patient's evaluation after commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from tracker import clasi, grading, schedules
from tracker.jobs import patient_changed
from tracker.models import (
    CheckIn,
    ClasiAssessment,
    DoseLog,
    LabResult,
    Patient,
    Prescription,
    RegimenStep,
)
from tracker.services.errors import DomainConflict, DomainError

if TYPE_CHECKING:
    from tracker.models import User

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Recorded(Generic[M]):
    obj: M
    created: bool


@dataclass(frozen=True)
class Pending(Generic[M]):
    """A validated phone record, ready to be stored idempotently on (patient, client_id)."""

    model: type[M]
    client_id: UUID
    digest: str
    fields: dict[str, Any]


def fingerprint(data: dict[str, Any]) -> str:
    """A stable hash of submitted fields (Decimals and dates as text, keys sorted)."""
    canonical = json.dumps(data, sort_keys=True, default=_canonical, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _canonical(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date | UUID):
        return str(value)
    raise TypeError(type(value).__name__)


def _replay(existing: Any, digest: str) -> Recorded[Any] | DomainConflict:
    """The answer to a record whose client_id is stored already: a duplicate, or a conflict
    when the fields differ (silently keeping either version would corrupt the record)."""
    if existing.fingerprint != digest:
        return DomainConflict(
            "This client_id was already used for a different record.", code="client_id_reused"
        )
    return Recorded(existing, False)


def _idempotent_create(
    model: type[M], *, patient: Patient, client_id: UUID, digest: str, fields: dict[str, Any]
) -> Recorded[M]:
    existing = model.objects.filter(patient=patient, client_id=client_id).first()  # type: ignore[attr-defined]
    if existing is None:
        try:
            with transaction.atomic():
                obj = model.objects.create(  # type: ignore[attr-defined]
                    patient=patient, client_id=client_id, fingerprint=digest, **fields
                )
            return Recorded(obj, True)
        except IntegrityError:
            # A concurrent retry won the race on the unique (patient, client_id).
            existing = model.objects.filter(patient=patient, client_id=client_id).first()  # type: ignore[attr-defined]
            if existing is None:
                raise
    result = _replay(existing, digest)
    if isinstance(result, DomainConflict):
        raise result
    return result


@transaction.atomic
def records_record_many(
    *, patient: Patient, pending: list[Pending[Any]]
) -> list[Recorded[Any] | DomainConflict]:
    """Store a batch of prepared records of one patient (sync push), each idempotent on its
    client_id exactly as if posted alone and in order: a stored or earlier-in-the-batch
    client_id with the same fields is a duplicate, with other fields a DomainConflict
    (returned in its place, not raised: one bad record never fails the others).

    A fixed number of statements per model, not per record: one read of the client_ids
    already stored and one multi-row INSERT. If a concurrent request stores one of them in
    between, the INSERT is rolled back and those records are stored one at a time instead.
    Marks the patient changed once if anything was created.
    """
    results: list[Recorded[Any] | DomainConflict | None] = [None] * len(pending)
    by_model: dict[type[Model], list[int]] = {}
    for i, p in enumerate(pending):
        by_model.setdefault(p.model, []).append(i)
    for model, positions in by_model.items():
        ids = {pending[i].client_id for i in positions}
        stored: dict[UUID, Any] = {
            o.client_id: o
            for o in model.objects.filter(patient=patient, client_id__in=ids)  # type: ignore[attr-defined]
        }
        new: dict[UUID, Any] = {}  # first copy in the batch of each client_id not stored yet
        firsts: set[int] = set()  # the positions of those first copies
        unsaved: list[int] = []  # positions answered by a row of `new` (first copies, repeats)
        for i in positions:
            p = pending[i]
            if p.client_id in stored:
                results[i] = _replay(stored[p.client_id], p.digest)
                continue
            if p.client_id not in new:
                new[p.client_id] = model(
                    patient=patient, client_id=p.client_id, fingerprint=p.digest, **p.fields
                )
                firsts.add(i)
            unsaved.append(i)
        if not new:
            continue
        try:
            with transaction.atomic():
                model.objects.bulk_create(list(new.values()))  # type: ignore[attr-defined]
        except IntegrityError:
            # A concurrent request stored one of these client_ids after our read: the
            # savepoint is rolled back, and each record (repeats too, in order) takes the
            # one-at-a-time path, which reads the winner's row.
            for i in unsaved:
                p = pending[i]
                try:
                    results[i] = _idempotent_create(
                        model,
                        patient=patient,
                        client_id=p.client_id,
                        digest=p.digest,
                        fields=p.fields,
                    )
                except DomainConflict as exc:
                    results[i] = exc
            continue
        for i in unsaved:
            obj = new[pending[i].client_id]
            results[i] = Recorded(obj, True) if i in firsts else _replay(obj, pending[i].digest)
    done = [r for r in results if r is not None]  # every position was filled above
    if any(isinstance(r, Recorded) and r.created for r in done):
        patient_changed(patient.pk)
    return done


def current_steps(patient: Patient) -> list[RegimenStep]:
    return list(RegimenStep.objects.filter(patient=patient, superseded_at__isnull=True))


_regimen_snapshot: ContextVar[dict[int, list[schedules.Step]] | None] = ContextVar(
    "regimen_snapshot", default=None
)


@contextmanager
def regimen_snapshot() -> Iterator[None]:
    """Within the block, each patient's current regimen is read once, not once per write.

    For a batch of writes in one request (sync push): the batch then sees the regimen as it
    was when the batch began, as if it had arrived a moment earlier.
    """
    token = _regimen_snapshot.set({})
    try:
        yield
    finally:
        _regimen_snapshot.reset(token)


def _schedule_steps(patient: Patient) -> list[schedules.Step]:
    snapshot = _regimen_snapshot.get()
    if snapshot is None:
        return as_schedule_steps(current_steps(patient))
    if patient.pk not in snapshot:
        snapshot[patient.pk] = as_schedule_steps(current_steps(patient))
    return snapshot[patient.pk]


def as_schedule_steps(steps: list[RegimenStep]) -> list[schedules.Step]:
    return [
        schedules.Step(
            starts_on=s.starts_on,
            dose_mg=Decimal(s.dose_mg),
            pattern=s.pattern,
            weekdays=tuple(s.weekdays or ()),
            cycle_days_on=s.cycle_days_on,
            cycle_length=s.cycle_length,
            reason=s.reason,
        )
        for s in sorted(steps, key=lambda s: s.starts_on)
    ]


# --- Regimen and prescriptions --------------------------------------------------------------


@transaction.atomic
def regimen_step_add(*, actor: User, patient: Patient, **data: Any) -> RegimenStep:
    """Add a regimen step. A step on a date that already has one replaces it (the old
    one is kept, superseded), so a clinician can correct a step without losing history."""
    step = schedules.Step(
        starts_on=data["starts_on"],
        dose_mg=data["dose_mg"],
        pattern=data["pattern"],
        weekdays=tuple(data.get("weekdays") or ()),
        cycle_days_on=data.get("cycle_days_on"),
        cycle_length=data.get("cycle_length"),
        reason=data.get("reason", ""),
    )
    errors = schedules.validate_step(step)
    if errors:
        raise DomainError(
            "The regimen step is not valid.", field_errors={k: [v] for k, v in errors.items()}
        )
    Patient.objects.select_for_update().filter(pk=patient.pk).get()
    RegimenStep.objects.filter(
        patient=patient, starts_on=step.starts_on, superseded_at__isnull=True
    ).update(superseded_at=timezone.now())
    row = RegimenStep.objects.create(
        patient=patient,
        starts_on=step.starts_on,
        dose_mg=step.dose_mg,
        pattern=step.pattern,
        weekdays=list(step.weekdays),
        cycle_days_on=step.cycle_days_on,
        cycle_length=step.cycle_length,
        reason=step.reason,
        note=data.get("note", ""),
        created_by=actor,
    )
    patient_changed(patient.pk)
    return row


_RISK_FOR = {
    ("female", True): Prescription.RiskCategory.FEMALE_REPRODUCTIVE,
    ("female", False): Prescription.RiskCategory.FEMALE_NOT_REPRODUCTIVE,
    ("male", False): Prescription.RiskCategory.MALE,
}

REMS_MAX_DAYS = 28


@transaction.atomic
def prescription_issue(*, actor: User, patient: Patient, **data: Any) -> Prescription:
    """Issue a prescription under the REMS limits: at most a 28-day supply, an
    authorization number, and the risk category that matches the patient."""
    errors: dict[str, list[str]] = {}
    if data["days_supply"] > REMS_MAX_DAYS:
        errors["days_supply"] = [f"REMS limits a prescription to {REMS_MAX_DAYS} days."]
    if data["dose_mg"] not in schedules.CAPSULE_STRENGTHS_MG:
        errors["dose_mg"] = ["Not a lenalidomide capsule strength (2.5, 5, 10, 15, 20, 25)."]
    expected = _RISK_FOR.get((patient.sex, patient.reproductive_potential))
    if expected is not None and data["risk_category"] != expected:
        errors["risk_category"] = [f"This patient's REMS risk category is {expected.value}."]
    if errors:
        raise DomainError("The prescription breaks the REMS rules.", field_errors=errors)
    return Prescription.objects.create(patient=patient, prescribed_by=actor, **data)


# --- Dose logs ------------------------------------------------------------------------------


def _dose_fields(patient: Patient, data: dict[str, Any]) -> dict[str, Any]:
    steps = _schedule_steps(patient)
    expected = schedules.dose_on(steps, data["scheduled_date"]) if steps else Decimal(0)
    dose = data.get("dose_mg")
    if data["status"] == DoseLog.Status.TAKEN and dose is None:
        dose = expected if expected > 0 else None
        if dose is None:
            raise DomainError(
                "No dose is scheduled on this day: say which dose was taken.",
                field_errors={"dose_mg": ["Required when no dose is scheduled that day."]},
            )
    return {
        "scheduled_date": data["scheduled_date"],
        "status": data["status"],
        "dose_mg": dose if data["status"] == DoseLog.Status.TAKEN else None,
        "expected_dose_mg": expected,
        "taken_at": data.get("taken_at"),
        "note": data.get("note", ""),
    }


def _check_dose_date(patient: Patient, data: dict[str, Any]) -> None:
    today = schedules.local_date(timezone.now(), patient.timezone)
    if data["scheduled_date"] > today:
        raise DomainError(
            "A dose cannot be logged for a future day.",
            field_errors={"scheduled_date": ["Must not be after today in your time zone."]},
        )
    taken_at = data.get("taken_at")
    if taken_at is not None and taken_at > timezone.now() + timedelta(minutes=5):
        raise DomainError(
            "taken_at is in the future.", field_errors={"taken_at": ["Must not be in the future."]}
        )


def dose_log_prepare(
    *, patient: Patient, recorded_by: User, client_id: UUID, **data: Any
) -> Pending[DoseLog]:
    """Validate a dose log and work out what is stored (the expected dose of that day)."""
    _check_dose_date(patient, data)
    digest = fingerprint({"client_id": client_id, **data})
    fields = _dose_fields(patient, data)
    return Pending(DoseLog, client_id, digest, {**fields, "recorded_by": recorded_by})


def _record_one(patient: Patient, p: Pending[M]) -> Recorded[M]:
    result = _idempotent_create(
        p.model, patient=patient, client_id=p.client_id, digest=p.digest, fields=p.fields
    )
    if result.created:
        patient_changed(patient.pk)
    return result


@transaction.atomic
def dose_log_record(
    *, patient: Patient, recorded_by: User, client_id: UUID, **data: Any
) -> Recorded[DoseLog]:
    """Record what happened to a scheduled dose. Idempotent on (patient, client_id)."""
    pending = dose_log_prepare(
        patient=patient, recorded_by=recorded_by, client_id=client_id, **data
    )
    return _record_one(patient, pending)


@transaction.atomic
def dose_log_correct(
    *, original: DoseLog, recorded_by: User, client_id: UUID, **data: Any
) -> Recorded[DoseLog]:
    """Correct a dose log: the original is kept, superseded; the correction is a new row.

    Idempotent on the correction's client_id. Only the current version can be corrected.
    """
    patient = original.patient
    locked = DoseLog.objects.select_for_update().get(pk=original.pk)
    merged = {
        "scheduled_date": locked.scheduled_date,
        "status": locked.status,
        "dose_mg": locked.dose_mg,
        "taken_at": locked.taken_at,
        "note": locked.note,
        **data,
    }
    digest = fingerprint({"client_id": client_id, "corrects": locked.public_id, **merged})
    replay = DoseLog.objects.filter(patient=patient, client_id=client_id).first()
    if replay is not None:
        if replay.fingerprint != digest:
            raise DomainConflict("This client_id was already used.", code="client_id_reused")
        return Recorded(replay, False)
    if locked.superseded_at is not None:
        raise DomainConflict("Only the latest version can be corrected.", code="superseded")
    _check_dose_date(patient, merged)
    fields = _dose_fields(patient, merged)
    locked.superseded_at = timezone.now()
    locked.save(update_fields=["superseded_at", "updated_at"])
    new = DoseLog.objects.create(
        patient=patient,
        client_id=client_id,
        fingerprint=digest,
        recorded_by=recorded_by,
        supersedes=locked,
        **fields,
    )
    patient_changed(patient.pk)
    return Recorded(new, True)


EARLIEST_ANSWER = datetime(2000, 1, 1, tzinfo=UTC)

# --- Check-ins ------------------------------------------------------------------------------


def grade_symptoms(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validate each PRO-CTCAE item against its term's attributes and add its composite."""
    graded: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    for i, item in enumerate(items):
        term = item.get("term")
        answers = {k: v for k, v in item.items() if k != "term" and v is not None}
        if term in seen:
            errors[f"symptoms.{i}.term"] = ["Each term may appear once."]
            continue
        seen.add(str(term))
        try:
            grade = grading.composite_grade(str(term), answers)
        except ValueError as exc:
            errors[f"symptoms.{i}"] = [str(exc)]
            continue
        graded.append({"term": term, **answers, "composite_grade": grade})
    if errors:
        raise DomainError("Some symptom answers are not valid.", field_errors=errors)
    return graded


@transaction.atomic
def check_in_record(
    *, patient: Patient, recorded_by: User, client_id: UUID, **data: Any
) -> Recorded[CheckIn]:
    """Record a weekly check-in. Idempotent on (patient, client_id)."""
    pending = check_in_prepare(
        patient=patient, recorded_by=recorded_by, client_id=client_id, **data
    )
    return _record_one(patient, pending)


def check_in_prepare(
    *, patient: Patient, recorded_by: User, client_id: UUID, **data: Any
) -> Pending[CheckIn]:
    """Validate a check-in, grade its PRO-CTCAE items, and fix its local date."""
    if data["answered_at"] > timezone.now() + timedelta(minutes=5):
        raise DomainError(
            "answered_at is in the future.",
            field_errors={"answered_at": ["Must not be in the future."]},
        )
    if data["answered_at"] < EARLIEST_ANSWER:
        # Also keeps the local-date conversion in range (year 1 UTC is year 0 in New York).
        raise DomainError(
            "answered_at is too far in the past.",
            field_errors={"answered_at": ["Must not be before 2000-01-01."]},
        )
    digest = fingerprint({"client_id": client_id, **data})
    fields = dict(data)
    fields["symptoms"] = grade_symptoms(list(data.get("symptoms") or []))
    fields["lesion_areas"] = sorted(set(data.get("lesion_areas") or []))
    fields["local_date"] = schedules.local_date(data["answered_at"], patient.timezone)
    return Pending(CheckIn, client_id, digest, fields)


# --- Labs and CLASI -------------------------------------------------------------------------


@transaction.atomic
def lab_result_record(
    *, patient: Patient, entered_by: User, client_id: UUID | None = None, **data: Any
) -> Recorded[LabResult]:
    """Record a lab result with its CTCAE v5 grade (counts). Idempotent by client_id if given."""
    test = data["test"]
    errors: dict[str, list[str]] = {}
    if test == LabResult.Test.PREGNANCY_HCG:
        if data.get("result") not in {"positive", "negative"}:
            errors["result"] = ["A pregnancy test needs result positive or negative."]
        if data.get("value") is not None:
            errors["value"] = ["A pregnancy test has a result, not a value."]
        if patient.sex != Patient.Sex.FEMALE:
            errors["test"] = ["Pregnancy tests apply to female patients."]
    else:
        if data.get("value") is None:
            errors["value"] = ["This test needs a numeric value."]
        if data.get("result"):
            errors["result"] = ["Only pregnancy tests have a positive/negative result."]
    if data["collected_at"] > timezone.now() + timedelta(minutes=5):
        errors["collected_at"] = ["Must not be in the future."]
    if errors:
        raise DomainError("The lab result is not valid.", field_errors=errors)
    grade = (
        grading.ctcae_grade(
            test, data["value"], lln=settings.LAB_LOWER_LIMITS, uln=settings.LAB_UPPER_LIMITS
        )
        if data.get("value") is not None
        else None
    )
    fields = {
        **data,
        "result": data.get("result") or "",
        "unit": data.get("unit") or _DEFAULT_UNITS.get(test, ""),
        "ctcae_grade": grade,
        "ctcae_version": grading.CTCAE_VERSION if grade is not None else "",
        "entered_by": entered_by,
    }
    if client_id is None:
        obj = LabResult.objects.create(patient=patient, **fields)
        result: Recorded[LabResult] = Recorded(obj, True)
    else:
        digest = fingerprint({"client_id": client_id, **data})
        result = _idempotent_create(
            LabResult, patient=patient, client_id=client_id, digest=digest, fields=fields
        )
    if result.created:
        patient_changed(patient.pk)
    return result


_DEFAULT_UNITS = {
    "anc": "10^9/L",
    "platelets": "10^9/L",
    "wbc": "10^9/L",
    "hemoglobin": "g/dL",
    "creatinine": "mg/dL",
}


@transaction.atomic
def clasi_record(*, patient: Patient, assessed_by: User, **data: Any) -> ClasiAssessment:
    """Score and store a CLASI assessment; the totals are always the server's."""
    if data["assessed_on"] > schedules.local_date(timezone.now(), patient.timezone):
        raise DomainError(
            "The assessment date is in the future.",
            field_errors={"assessed_on": ["Must not be in the future."]},
        )
    globals_ = {
        k: data.get(k, 0)
        for k in ("mucous_membrane", "recent_hair_loss", "nonscarring_alopecia", "scalp_scarring")
    }
    lasting = bool(data.get("dyspigmentation_lasting", False))
    areas = data.get("areas") or {}
    errors = clasi.validate(areas, dyspigmentation_lasting=lasting, **globals_)
    if errors:
        raise DomainError(
            "The CLASI scores are out of range.", field_errors={k: [v] for k, v in errors.items()}
        )
    result = clasi.score(areas, dyspigmentation_lasting=lasting, **globals_)
    row = ClasiAssessment.objects.create(
        patient=patient,
        assessed_on=data["assessed_on"],
        areas=areas,
        dyspigmentation_lasting=lasting,
        activity_score=result.activity,
        damage_score=result.damage,
        activity_band=result.band,
        instrument=clasi.INSTRUMENT,
        instrument_version=clasi.VERSION,
        assessed_by=assessed_by,
        **globals_,
    )
    patient_changed(patient.pk)
    return row
