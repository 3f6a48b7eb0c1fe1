"""Clinical history for the dashboard tests, made directly through the ORM.

One patient on lenalidomide since ~150 days ago: 5 mg daily, escalated to 10 mg, complete
response, tapered to 5 mg daily and then to 5 mg on alternate days (inside the taper watch
window today), with dose logs, weekly check-ins, ANC and platelet counts, CLASI with a complete
response and a relapse, and an urgent possible-relapse alert whose evidence is shaped like the
rule's. Independent of seed_demo on purpose: the tests pin these numbers.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from dashboard.clinical import patient_today
from notifications.models import SEVERITY_RANK, Alert, AlertEvent
from tracker import schedules
from tracker.grading import ctcae_grade
from tracker.models import (
    CheckIn,
    ClasiAssessment,
    DoseLog,
    LabResult,
    Patient,
    RegimenStep,
    User,
)
from tracker.services.records import as_schedule_steps

# (days before today, dose, pattern, reason)
REGIMEN = (
    (150, "5", "daily", "start"),
    (122, "10", "daily", "escalation"),
    (60, "5", "daily", "taper"),
    (20, "5", "alternate_days", "taper"),
)
# (days before today, CLASI activity): CR at day -100, relapse at day -8.
CLASI = ((150, 12), (136, 6), (120, 2), (100, 0), (70, 0), (40, 0), (8, 5))
ANC = ((140, "2.6"), (112, "2.1"), (84, "1.3"), (56, "1.7"), (28, "1.9"), (3, "2.2"))
PLATELETS = ((140, "230"), (112, "190"), (84, "140"), (56, "70"), (28, "160"), (3, "180"))


def at_noon(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


def make_alert(
    patient: Patient,
    *,
    rule: str = "possible_relapse",
    severity: str = "urgent",
    status: str = Alert.Status.OPEN,
    age: timedelta = timedelta(hours=3),
    summary: str = "",
    evidence: dict[str, Any] | None = None,
    episode: str | None = None,
    assigned_to: User | None = None,
) -> Alert:
    alert = Alert.objects.create(
        patient=patient,
        clinic_id=patient.clinic_id,
        rule=rule,
        episode_key=episode or f"{rule}:{uuid.uuid4()}",
        severity=severity,
        severity_rank=SEVERITY_RANK[severity],
        status=status,
        summary=summary or f"{rule} for {patient.mrn}",
        evidence=evidence or {},
        assigned_to=assigned_to,
    )
    # auto_now_add ignores a value given to create(): set the age afterwards.
    Alert.objects.filter(pk=alert.pk).update(created_at=datetime.now(UTC) - age)
    alert.refresh_from_db()
    AlertEvent.objects.create(alert=alert, kind=AlertEvent.Kind.CREATED)
    return alert


def relapse_evidence(today: date) -> dict[str, Any]:
    taper_on = today - timedelta(days=20)
    return {
        "anchor": {"kind": "reduction", "date": taper_on.isoformat(), "clasi_id": None},
        "complete_response": {"clasi_id": 1, "assessed_on": (today - timedelta(100)).isoformat()},
        "trigger_date": (today - timedelta(days=1)).isoformat(),
        "triggers": [
            {
                "criterion": "itch_rise",
                "date": (today - timedelta(days=1)).isoformat(),
                "measure": "itch",
                "values": [4, 5],
                "nadir": 1,
                "nadir_date": (today - timedelta(days=70)).isoformat(),
            },
            {
                "criterion": "new_lesions",
                "date": (today - timedelta(days=1)).isoformat(),
                "lesion_areas": ["face", "arms"],
            },
        ],
        "reduction": {
            "step_id": 4,
            "starts_on": taper_on.isoformat(),
            "dose_mg": "5",
            "pattern": "alternate_days",
            "weekdays": [],
            "cycle_days_on": None,
            "cycle_length": None,
            "weekly_dose_mg": "17.5",
            "reason": "taper",
            "previous_step_id": 3,
            "previous_dose_mg": "5",
            "previous_pattern": "daily",
            "previous_weekly_dose_mg": "35",
        },
        "days_since_reduction": 19,
        "in_taper_watch_window": True,
        "thresholds": {"taper_watch_days": 56, "relapse_score_rise": 2},
        "mystery_key": "kept in the fallback table",
    }


def build_history(patient: Patient, *, clinician: User, nurse: User) -> dict[str, Any]:
    """Fill `patient` with ~5 months of history; returns the urgent alert and today."""
    today = patient_today(patient.timezone)
    steps = [
        RegimenStep.objects.create(
            patient=patient,
            starts_on=today - timedelta(days=ago),
            dose_mg=Decimal(dose),
            pattern=pattern,
            reason=reason,
            created_by=clinician,
        )
        for ago, dose, pattern, reason in REGIMEN
    ]
    expected = schedules.expand(
        as_schedule_steps(steps), today - timedelta(days=150), today - timedelta(days=1), "UTC"
    )
    doses = []
    for i, e in enumerate(expected):
        if e.is_dose_day:
            if i % 17 == 5:
                continue  # not logged
            status = "missed" if i % 11 == 3 else "taken"
        elif i % 23 == 7:
            status = "taken"  # an extra dose on an off-day
        else:
            continue
        doses.append(
            DoseLog(
                patient=patient,
                client_id=uuid.uuid4(),
                fingerprint="dashboard-test",
                scheduled_date=e.day,
                status=status,
                dose_mg=(e.dose_mg or Decimal(5)) if status == "taken" else None,
                expected_dose_mg=e.dose_mg,
                recorded_by=patient.user,
            )
        )
    DoseLog.objects.bulk_create(doses)

    check_ins = []
    for week in range(20, 0, -1):
        day = today - timedelta(weeks=week) + timedelta(days=1)
        nausea = 1 if week % 3 == 0 else 0
        insomnia = 2 if week in (6, 5) else (1 if week % 4 == 0 else 0)
        check_ins.append(
            CheckIn(
                patient=patient,
                client_id=uuid.uuid4(),
                fingerprint="dashboard-test",
                answered_at=at_noon(day),
                local_date=day,
                symptoms=[
                    {
                        "term": "nausea",
                        "frequency": nausea,
                        "severity": nausea,
                        "composite_grade": nausea,
                    },
                    {
                        "term": "insomnia",
                        "severity": insomnia,
                        "interference": insomnia,
                        "composite_grade": insomnia,
                    },
                    {"term": "fatigue", "severity": 0, "interference": 0, "composite_grade": 0},
                ],
                itch=5 if week <= 2 else (1 if week < 15 else 4),
                pain=1,
                global_activity=4 if week <= 2 else 2,
                new_lesions=week == 1,
                lesion_areas=["face", "arms"] if week == 1 else [],
            )
        )
    CheckIn.objects.bulk_create(check_ins)

    labs = []
    for test, series in (("anc", ANC), ("platelets", PLATELETS)):
        for ago, value in series:
            labs.append(
                LabResult(
                    patient=patient,
                    test=test,
                    value=Decimal(value),
                    unit="10^9/L",
                    collected_at=at_noon(today - timedelta(days=ago)),
                    ctcae_grade=ctcae_grade(test, Decimal(value)),
                    ctcae_version="5.0",
                    entered_by=nurse,
                )
            )
    LabResult.objects.bulk_create(labs)

    ClasiAssessment.objects.bulk_create(
        ClasiAssessment(
            patient=patient,
            assessed_on=today - timedelta(days=ago),
            areas={"face": {"erythema": min(score, 3)}},
            activity_score=score,
            damage_score=1,
            activity_band="mild" if score < 10 else "moderate",
            assessed_by=clinician,
        )
        for ago, score in CLASI
    )
    alert = make_alert(
        patient,
        rule="possible_relapse",
        severity="urgent",
        age=timedelta(hours=2),
        summary="Possible relapse 19 days after taper to 5 mg alternate days: itch 5/10 "
        "(lowest 1) on 2 check-ins in a row; new lesions on face, arms",
        evidence=relapse_evidence(today),
        episode=f"relapse:{(today - timedelta(days=20)).isoformat()}",
    )
    return {"alert": alert, "today": today, "steps": steps}
