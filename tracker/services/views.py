"""Derived read models of one patient: schedule, adherence, timeline (pure over queries)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tracker import adherence, schedules
from tracker.models import CheckIn, ClasiAssessment, DoseLog, LabResult, Patient, RegimenStep
from tracker.services.records import as_schedule_steps


def patient_schedule(patient: Patient, start: date, end: date) -> list[schedules.ExpectedDay]:
    steps = as_schedule_steps(
        list(RegimenStep.objects.filter(patient=patient, superseded_at__isnull=True))
    )
    return schedules.expand(steps, start, end, patient.timezone)


def patient_adherence(
    patient: Patient, start: date, end: date, today: date
) -> tuple[list[adherence.DayAdherence], adherence.AdherenceSummary]:
    expected = patient_schedule(patient, start, end)
    logs = [
        adherence.LoggedDose(day=d, status=s, dose_mg=m)
        for d, s, m in DoseLog.objects.filter(
            patient=patient,
            superseded_at__isnull=True,
            scheduled_date__gte=start,
            scheduled_date__lte=end,
        )
        .order_by("scheduled_date", "created_at", "id")
        .values_list("scheduled_date", "status", "dose_mg")
    ]
    return adherence.adherence(expected, logs, today=today)


def patient_timeline(patient: Patient, *, since: date, limit: int = 500) -> list[dict[str, Any]]:
    """Everything that happened to the patient since a date, newest first, one query per kind."""
    events: list[dict[str, Any]] = []
    for s in RegimenStep.objects.filter(
        patient=patient, superseded_at__isnull=True, starts_on__gte=since
    ):
        events.append(
            {
                "kind": "regimen_step",
                "date": s.starts_on,
                "id": s.public_id,
                "summary": f"{s.dose_mg} mg {s.pattern} ({s.reason})",
            }
        )
    for d in DoseLog.objects.filter(
        patient=patient, superseded_at__isnull=True, scheduled_date__gte=since
    ).order_by("-scheduled_date")[:limit]:
        events.append(
            {
                "kind": "dose_log",
                "date": d.scheduled_date,
                "id": d.public_id,
                "summary": f"{d.status}" + (f" {d.dose_mg} mg" if d.dose_mg else ""),
            }
        )
    for c in CheckIn.objects.filter(patient=patient, local_date__gte=since):
        worst = max((s.get("composite_grade") or 0 for s in c.symptoms), default=0)
        events.append(
            {
                "kind": "check_in",
                "date": c.local_date,
                "id": c.public_id,
                "summary": f"check-in: global activity {c.global_activity}, "
                f"worst symptom grade {worst}",
            }
        )
    for lab in LabResult.objects.filter(patient=patient, collected_at__date__gte=since):
        value = lab.result or f"{lab.value} {lab.unit}"
        grade = f" (grade {lab.ctcae_grade})" if lab.ctcae_grade else ""
        events.append(
            {
                "kind": "lab_result",
                "date": lab.collected_at.date(),
                "id": lab.public_id,
                "summary": f"{lab.test}: {value}{grade}",
            }
        )
    for a in ClasiAssessment.objects.filter(patient=patient, assessed_on__gte=since):
        events.append(
            {
                "kind": "clasi",
                "date": a.assessed_on,
                "id": a.public_id,
                "summary": f"CLASI activity {a.activity_score} ({a.activity_band}), "
                f"damage {a.damage_score}",
            }
        )
    events.sort(key=lambda e: (e["date"], e["kind"]), reverse=True)
    return events[:limit]


def default_since(today: date, days: int = 120) -> date:
    return today - timedelta(days=days)
