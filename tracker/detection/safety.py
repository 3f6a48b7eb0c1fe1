"""Safety monitoring rules: pregnancy_risk and monitoring_due.

Sources: Revlimid label boxed warnings (embryo-fetal toxicity, REMS pregnancy testing: weekly
during the first 4 weeks, then every 4 weeks with regular cycles or every 2 weeks with irregular
cycles, continued for 4 weeks after stopping; haematological toxicity: blood counts weekly for
the first 8 weeks, then monthly) and DESIGN.md section 5.

Invariants:
- "Overdue" is judged from the latest result on or before ``today``; the episode key is the due
  date, which only a new test (or a phase change of the schedule) moves, so a sweep that runs
  every day upserts the same alert.
- A positive pregnancy test or a missed period is keyed by the lab or check-in id: each is an
  event that needs its own answer.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tracker.detection.findings import Finding, plural
from tracker.detection.thresholds import Thresholds
from tracker.detection.timeline import LabResult, Timeline

__all__ = ["BLOOD_COUNT_TESTS", "monitoring_due", "pregnancy_risk"]

BLOOD_COUNT_TESTS = frozenset({"anc", "wbc", "platelets"})
_RESULTS = frozenset({"positive", "negative"})


# --------------------------------------------------------------------------- pregnancy_risk


def pregnancy_risk(timeline: Timeline, today: date, thresholds: Thresholds) -> list[Finding]:
    """Positive test or missed period (urgent); pregnancy test overdue (warning).

    Only for a female patient of reproductive potential.
    """
    patient = timeline.patient
    if patient.sex != "female" or not patient.reproductive_potential:
        return []
    tl = timeline.as_of(today)
    tests = [
        lab
        for lab in tl.labs
        if lab.test == "pregnancy_hcg" and (lab.result or "").lower() in _RESULTS
    ]
    latest = tests[-1] if tests else None
    findings: list[Finding] = []
    if latest is not None and (latest.result or "").lower() == "positive":
        findings.append(
            Finding(
                rule="pregnancy_risk",
                severity="urgent",
                episode_key=f"pregnancy:positive:{latest.id}",
                summary=f"Positive pregnancy test on {latest.local_date}: lenalidomide must not "
                "be taken in pregnancy",
                evidence={"kind": "positive_test", "lab_id": latest.id, "date": latest.local_date},
            )
        )
    missed = _missed_period(tl, tests)
    if missed is not None:
        findings.append(missed)
    if latest is None or (latest.result or "").lower() == "negative":
        overdue = _pregnancy_overdue(tl, today, thresholds, latest)
        if overdue is not None:
            findings.append(overdue)
    return findings


def _missed_period(tl: Timeline, tests: list[LabResult]) -> Finding | None:
    """The latest missed period with no pregnancy test on or after its date."""
    reports = [c for c in tl.check_ins if c.missed_period]
    if not reports:
        return None
    report = reports[-1]
    if any(lab.local_date >= report.local_date for lab in tests):
        return None
    last_test = tests[-1] if tests else None
    return Finding(
        rule="pregnancy_risk",
        severity="urgent",
        episode_key=f"pregnancy:missed_period:{report.id}",
        summary=f"Missed period reported on {report.local_date} and no pregnancy test since",
        evidence={
            "kind": "missed_period",
            "check_in_id": report.id,
            "date": report.local_date,
            "last_test": _lab_evidence(last_test),
        },
    )


def _pregnancy_overdue(
    tl: Timeline, today: date, th: Thresholds, latest: LabResult | None
) -> Finding | None:
    start = tl.treatment_start
    if start is None or _stopped_long_ago(tl, today, th.pregnancy_after_stop_days):
        return None
    early_end = start + timedelta(weeks=th.pregnancy_early_weeks)
    if latest is None:
        interval, due = 0, start
    else:
        if latest.local_date < early_end:
            interval = th.pregnancy_interval_early_days
        elif tl.patient.irregular_cycles:
            interval = th.pregnancy_interval_irregular_days
        else:
            interval = th.pregnancy_interval_days
        due = latest.local_date + timedelta(days=interval)
    if today <= due:
        return None
    overdue = (today - due).days
    last = f"last test {latest.local_date}" if latest else "no test recorded"
    return Finding(
        rule="pregnancy_risk",
        severity="warning",
        episode_key=f"pregnancy:overdue:{due.isoformat()}",
        summary=f"Pregnancy test overdue by {plural(overdue, 'day')} ({last}, due {due})",
        evidence={
            "kind": "overdue",
            "last_test": _lab_evidence(latest),
            "due_on": due,
            "days_overdue": overdue,
            "interval_days": interval,
            "treatment_started_on": start,
            "irregular_cycles": tl.patient.irregular_cycles,
            "thresholds": th.subset(
                "pregnancy_interval_early_days",
                "pregnancy_early_weeks",
                "pregnancy_interval_days",
                "pregnancy_interval_irregular_days",
                "pregnancy_after_stop_days",
            ),
        },
    )


def _stopped_long_ago(tl: Timeline, today: date, days: int) -> bool:
    step = tl.step_on(today)
    return step is not None and step.pattern == "stopped" and (today - step.starts_on).days > days


def _lab_evidence(lab: LabResult | None) -> dict[str, Any] | None:
    if lab is None:
        return None
    return {"lab_id": lab.id, "test": lab.test, "date": lab.local_date, "result": lab.result}


# --------------------------------------------------------------------------- monitoring_due


def monitoring_due(timeline: Timeline, today: date, thresholds: Thresholds) -> list[Finding]:
    """Blood count or check-in overdue (info; the patient is reminded first)."""
    tl = timeline.as_of(today)
    if tl.treatment_start is None:
        return []
    return [
        f
        for f in (_blood_count_due(tl, today, thresholds), _check_in_due(tl, today, thresholds))
        if f
    ]


def _blood_count_due(tl: Timeline, today: date, th: Thresholds) -> Finding | None:
    start = tl.treatment_start
    if start is None or tl.is_stopped_on(today):
        return None
    counts = [lab for lab in tl.labs if lab.test in BLOOD_COUNT_TESTS and lab.value is not None]
    early = today < start + timedelta(weeks=th.early_phase_weeks)
    interval = th.cbc_interval_early_days if early else th.cbc_interval_days
    last = counts[-1] if counts else None
    due = (last.local_date if last else start) + timedelta(days=interval)
    if today <= due:
        return None
    phase = (
        f"weekly in the first {th.early_phase_weeks} weeks"
        if early
        else f"every {th.cbc_interval_days} days"
    )
    since = f"last on {last.local_date}" if last else "none since treatment start"
    return _due_finding(
        kind="cbc",
        summary=f"Blood count overdue ({since}; {phase})",
        due=due,
        today=today,
        evidence={
            "last": _lab_evidence(last),
            "interval_days": interval,
            "early_phase": early,
            "treatment_started_on": start,
            "thresholds": th.subset(
                "cbc_interval_early_days", "early_phase_weeks", "cbc_interval_days"
            ),
        },
    )


def _check_in_due(tl: Timeline, today: date, th: Thresholds) -> Finding | None:
    start = tl.treatment_start
    if start is None:
        return None
    last = tl.check_ins[-1] if tl.check_ins else None
    reduction = tl.last_reduction_on_or_before(today)
    in_window = (
        reduction is not None and (today - reduction[0].starts_on).days <= th.taper_watch_days
    )
    interval = th.checkin_gap_watch_days if in_window else th.checkin_gap_days
    due = (last.local_date if last else start) + timedelta(days=interval)
    if today <= due:
        return None
    since = f"last on {last.local_date}" if last else "none since treatment start"
    window = "; after a dose reduction" if in_window else ""
    return _due_finding(
        kind="checkin",
        summary=f"Weekly check-in overdue ({since}{window})",
        due=due,
        today=today,
        evidence={
            "last": {"check_in_id": last.id, "date": last.local_date} if last else None,
            "interval_days": interval,
            "in_taper_watch_window": in_window,
            "reduction_step_id": reduction[0].id if reduction else None,
            "reduction_starts_on": reduction[0].starts_on if reduction else None,
            "thresholds": th.subset(
                "checkin_gap_days", "checkin_gap_watch_days", "taper_watch_days"
            ),
        },
    )


def _due_finding(
    *, kind: str, summary: str, due: date, today: date, evidence: dict[str, Any]
) -> Finding:
    overdue = (today - due).days
    return Finding(
        rule="monitoring_due",
        severity="info",
        episode_key=f"monitoring:{kind}:{due.isoformat()}",
        summary=f"{summary}: due {due}, {plural(overdue, 'day')} overdue",
        evidence={"kind": kind, "due_on": due, "days_overdue": overdue, **evidence},
    )
