"""Build detection timelines from the database: a fixed number of queries per batch.

`timelines_load(patients)` reads every collection for all the given patients with one query
each (six in all), whatever the batch size, so the sweep's query count grows with the number
of batches, not of patients.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tracker.detection import timeline as tl
from tracker.models import CheckIn, ClasiAssessment, DoseLog, LabResult, Patient, RegimenStep
from tracker.schedules import local_date


def _symptoms(items: list[dict[str, Any]]) -> tuple[tl.SymptomAnswer, ...]:
    return tuple(
        tl.SymptomAnswer(
            term=i.get("term", ""),
            frequency=i.get("frequency"),
            severity=i.get("severity"),
            interference=i.get("interference", i.get("amount")),
            present=i.get("present"),
            composite_grade=i.get("composite_grade"),
        )
        for i in items
    )


_CHECK_IN_FIELDS = (
    "patient_id",
    "id",
    "answered_at",
    "local_date",
    "itch",
    "pain",
    "global_activity",
    "new_lesions",
    "lesion_areas",
    "mouth_ulcers",
    "hair_loss",
    "chest_pain",
    "neuro_symptoms",
    "fever",
    "joint_pain",
    "foamy_urine",
    "missed_period",
)


def timelines_load(
    patients: Sequence[Patient], *, without_symptoms: frozenset[int] = frozenset()
) -> dict[int, tl.Timeline]:
    """Timelines keyed by patient pk, with all current data since treatment start (the
    rules need the whole treatment: nadirs, complete response, every reduction, streaks).

    Patients in `without_symptoms` get check-ins without their PRO-CTCAE answers (the
    time-based rules never read them, and decoding them is most of the loading cost).
    """
    ids = [p.pk for p in patients]
    zones = {p.pk: p.timezone for p in patients}
    steps: dict[int, list[tl.RegimenStep]] = defaultdict(list)
    for row in RegimenStep.objects.filter(
        patient_id__in=ids, superseded_at__isnull=True
    ).values_list(
        "patient_id",
        "id",
        "starts_on",
        "dose_mg",
        "pattern",
        "weekdays",
        "cycle_days_on",
        "cycle_length",
        "reason",
    ):
        pid, sid, starts, dose, pattern, weekdays, on, length, reason = row
        steps[pid].append(
            tl.RegimenStep(
                starts, Decimal(dose), pattern, tuple(weekdays or ()), on, length, reason, sid
            )
        )
    check_ins: dict[int, list[tl.CheckIn]] = defaultdict(list)
    full = [pid for pid in ids if pid not in without_symptoms]
    lean = [pid for pid in ids if pid in without_symptoms]
    for subset, fields in ((full, (*_CHECK_IN_FIELDS, "symptoms")), (lean, _CHECK_IN_FIELDS)):
        if not subset:
            continue
        for c in CheckIn.objects.filter(patient_id__in=subset).values(*fields):
            pid = c.pop("patient_id")
            c["symptoms"] = _symptoms(c.get("symptoms") or [])
            c["lesion_areas"] = tuple(c["lesion_areas"] or ())
            check_ins[pid].append(tl.CheckIn(**c))
    labs: dict[int, list[tl.LabResult]] = defaultdict(list)
    for pid, lid, test, value, result, collected in LabResult.objects.filter(
        patient_id__in=ids
    ).values_list("patient_id", "id", "test", "value", "result", "collected_at"):
        labs[pid].append(
            tl.LabResult(
                lid, test, value, result or None, collected, local_date(collected, zones[pid])
            )
        )
    clasi: dict[int, list[tl.ClasiScore]] = defaultdict(list)
    for pid, cid, day, activity, damage in ClasiAssessment.objects.filter(
        patient_id__in=ids
    ).values_list("patient_id", "id", "assessed_on", "activity_score", "damage_score"):
        clasi[pid].append(tl.ClasiScore(cid, day, activity, damage))
    doses: dict[int, list[tl.DoseLog]] = defaultdict(list)
    for pid, did, day, status, dose in DoseLog.objects.filter(
        patient_id__in=ids, superseded_at__isnull=True
    ).values_list("patient_id", "id", "scheduled_date", "status", "dose_mg"):
        doses[pid].append(tl.DoseLog(did, day, status, dose))
    result: dict[int, tl.Timeline] = {}
    for p in patients:
        p_steps = sorted(steps[p.pk], key=lambda s: s.starts_on)
        facts = tl.PatientFacts(
            patient_id=p.pk,
            sex=p.sex,
            reproductive_potential=p.reproductive_potential,
            cle_subtype=p.cle_subtype,
            timezone=p.timezone,
            treatment_started_on=p_steps[0].starts_on if p_steps else None,
            irregular_cycles=p.irregular_cycles,
        )
        result[p.pk] = tl.Timeline(
            patient=facts,
            steps=tuple(p_steps),
            check_ins=tuple(check_ins[p.pk]),
            labs=tuple(labs[p.pk]),
            clasi=tuple(clasi[p.pk]),
            doses=tuple(doses[p.pk]),
        )
    return result
