"""Read models for the dashboard pages: regimen status, adherence calendar, chart series.

Pure functions over rows already loaded by the views, so the number of queries a page runs
is fixed by the view, not by how many patients, doses or check-ins there are.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from tracker import schedules
from tracker.adherence import DayAdherence
from tracker.detection.thresholds import ThresholdError, Thresholds
from tracker.models import ClinicRuleSettings, RegimenStep
from tracker.services.records import as_schedule_steps

CALENDAR_WEEKS = 12
# Counts in 10^9/L; CTCAE v5.0 lower bounds of grades 2, 3 and 4 (DESIGN.md section 4).
ANC_GRADE_LINES = (("Grade 2 (< 1.5)", 1.5), ("Grade 3 (< 1.0)", 1.0), ("Grade 4 (< 0.5)", 0.5))
PLATELET_GRADE_LINES = (("Grade 2 (< 75)", 75), ("Grade 3 (< 50)", 50), ("Grade 4 (< 25)", 25))

# Symbol + words for each adherence state: the calendar never relies on colour alone.
DAY_STATES: dict[str, tuple[str, str]] = {
    "taken": ("✓", "Taken"),
    "above": ("↑", "Taken, above the prescribed dose"),
    "missed": ("✗", "Missed"),
    "skipped": ("–", "Skipped"),
    "not_logged": ("?", "Not logged"),
    "extra": ("+", "Extra dose on an off-day"),
    "no_dose": ("·", "No dose due"),
    "upcoming": ("", "Upcoming"),
}


def patient_today(tz: str) -> date:
    return schedules.local_date(timezone.now(), tz)


def clinic_thresholds(clinic_id: int | None) -> Thresholds:
    """The clinic's rule thresholds (one query); defaults when none or invalid."""
    overrides = (
        ClinicRuleSettings.objects.filter(clinic_id=clinic_id).values_list("overrides", flat=True)
        if clinic_id is not None
        else []
    )
    for data in overrides:
        try:
            return Thresholds.from_overrides(data or {})
        except ThresholdError:
            break
    return Thresholds()


def current_steps_by_patient(patient_ids: Iterable[int]) -> dict[int, list[schedules.Step]]:
    """Current (not superseded) regimen steps of many patients in one query."""
    rows: dict[int, list[RegimenStep]] = defaultdict(list)
    for step in RegimenStep.objects.filter(
        patient_id__in=list(patient_ids), superseded_at__isnull=True
    ).order_by("patient_id", "starts_on", "id"):
        rows[step.patient_id].append(step)
    return {pid: as_schedule_steps(steps) for pid, steps in rows.items()}


@dataclass(frozen=True)
class RegimenStatus:
    state: str  # on_treatment | on_hold | stopped | not_started
    label: str
    current: schedules.Step | None
    reduction: schedules.Step | None  # the latest reduction on or before today
    days_since_reduction: int | None
    in_watch_window: bool
    watch_days: int


def regimen_status(steps: Sequence[schedules.Step], today: date, watch_days: int) -> RegimenStatus:
    """Where the patient stands today: the step in force and the taper watch window.

    The window is `watch_days` (56 by default: the trial's relapses came 2-8 weeks after a
    reduction) after any reduction of weekly dose or a withdrawal (schedules.is_reduction).
    """
    past = [s for s in steps if s.starts_on <= today]
    current = past[-1] if past else None
    if current is None:
        state, label = "not_started", "Not started"
    elif current.pattern in schedules.DOSING_PATTERNS:
        state, label = "on_treatment", "On treatment"
    elif current.pattern == "hold":
        state, label = "on_hold", "On hold"
    else:
        state, label = "stopped", "Stopped"
    reductions = schedules.reductions(past)
    reduction = reductions[-1] if reductions else None
    days = (today - reduction.starts_on).days if reduction is not None else None
    return RegimenStatus(
        state=state,
        label=label,
        current=current,
        reduction=reduction,
        days_since_reduction=days,
        in_watch_window=days is not None and days <= watch_days,
        watch_days=watch_days,
    )


def step_words(step: schedules.Step | None) -> str:
    if step is None:
        return "No regimen"
    dose = f"{num(step.dose_mg)} mg"
    if step.pattern == "daily":
        return f"{dose} daily"
    if step.pattern == "alternate_days":
        return f"{dose} on alternate days"
    if step.pattern == "weekdays":
        names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        return f"{dose} on {', '.join(names[d] for d in sorted(step.weekdays))}"
    if step.pattern == "cycle":
        return f"{dose} {step.cycle_days_on} of {step.cycle_length} days"
    return "On hold" if step.pattern == "hold" else "Stopped"


def num(value: Decimal | float | int | None) -> str:
    if value is None:
        return ""
    text = format(Decimal(str(value)).normalize(), "f")
    return "0" if text == "-0" else text


# --------------------------------------------------------------------------- adherence calendar


def calendar_range(today: date, weeks: int = CALENDAR_WEEKS) -> tuple[date, date]:
    """Monday `weeks - 1` weeks before this week, to this week's Sunday."""
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(weeks=weeks - 1), monday + timedelta(days=6)


def day_state(d: DayAdherence) -> str:
    return "above" if d.above_prescribed else d.state


def adherence_calendar(days: Sequence[DayAdherence]) -> list[list[dict[str, Any]]]:
    """Weeks (Monday first) of cells: date, state, symbol and a sentence for the tooltip."""
    cells = []
    for d in days:
        state = day_state(d)
        symbol, words = DAY_STATES[state]
        expected = f"{num(d.expected_mg)} mg expected" if d.is_dose_day else "no dose due"
        logged = f", {num(d.logged_mg)} mg logged" if d.logged_mg is not None else ""
        cells.append(
            {
                "day": d.day,
                "state": state,
                "symbol": symbol,
                "words": words,
                "title": f"{d.day.isoformat()}: {expected}{logged} - {words}",
            }
        )
    return [cells[i : i + 7] for i in range(0, len(cells), 7)]


def calendar_legend() -> list[dict[str, str]]:
    return [{"state": k, "symbol": s or " ", "words": w} for k, (s, w) in DAY_STATES.items()]


# --------------------------------------------------------------------------- chart series
# Every series is a list of [ISO date, y] pairs; charts.js maps dates to a linear time axis.


def _dataset(label: str, style: str, points: list[list[Any]], **extra: Any) -> dict[str, Any]:
    return {"label": label, "style": style, "points": points, **extra}


def chart(title: str, datasets: list[dict[str, Any]], *, y_title: str, **y: Any) -> dict[str, Any]:
    """A chart spec for charts.js; `points` counts the data points (threshold lines excluded)."""
    points = sum(len(d["points"]) for d in datasets if d["style"] != "threshold")
    return {"title": title, "datasets": datasets, "y": {"title": y_title, **y}, "points": points}


def taper_chart(
    steps: Sequence[schedules.Step],
    expected: Sequence[schedules.ExpectedDay],
    doses: Sequence[Any],
) -> dict[str, Any]:
    """The prescription as step lines, with what the patient logged as points over them.

    Two lines, because a taper often keeps the capsule and thins the days (5 mg daily ->
    5 mg on alternate days): the dose per dose day alone would hide that step, the weekly
    average alone would put every logged capsule above the line.
    """
    ordered = list(steps)  # step_index indexes the list given to schedules.expand
    per_dose_day: list[list[Any]] = []
    average: list[list[Any]] = []
    for e in expected:
        step = ordered[e.step_index] if e.step_index is not None else None
        dosing = step is not None and step.pattern in schedules.DOSING_PATTERNS
        per_dose_day.append([e.day.isoformat(), float(step.dose_mg) if dosing else 0.0])
        weekly = schedules.weekly_dose_mg(step) if step is not None else Decimal(0)
        average.append([e.day.isoformat(), round(float(weekly) / 7, 2)])
    taken = [
        [d.scheduled_date.isoformat(), float(d.dose_mg)]
        for d in doses
        if d.status == "taken" and d.dose_mg is not None
    ]
    not_taken = [[d.scheduled_date.isoformat(), 0.0] for d in doses if d.status != "taken"]
    datasets = [
        _dataset("Prescribed dose on dose days (mg)", "step", per_dose_day),
        _dataset("Average per day (weekly dose / 7)", "step_average", average),
        _dataset("Logged: taken (mg)", "points", taken),
        _dataset("Logged: missed or skipped", "missed", not_taken),
    ]
    top = max([p[1] for p in per_dose_day + taken] or [10.0])
    return chart("Taper", datasets, y_title="mg", min=0, max=float(top) + 2)


def clasi_chart(assessments: Sequence[Any]) -> dict[str, Any]:
    """CLASI activity over time; complete response (0) and relapse (> 0 after a CR) marked.

    A relapse point is the first non-zero score after a CR: later scores of the same flare are
    part of it, and the next CR opens the way to a new relapse.
    """
    line, cr, relapse = [], [], []
    in_cr = False
    for a in assessments:
        point = [a.assessed_on.isoformat(), a.activity_score]
        line.append(point)
        if a.activity_score == 0:
            cr.append(point)
            in_cr = True
        elif in_cr:
            relapse.append(point)
            in_cr = False
    datasets = [
        _dataset("CLASI activity", "line", line),
        _dataset("Complete response (activity 0)", "cr", cr),
        _dataset("Relapse (activity > 0 after CR)", "relapse", relapse),
    ]
    top = max([p[1] for p in line] or [10])
    return chart("CLASI activity", datasets, y_title="CLASI-A (0-70)", min=0, max=max(top + 2, 10))


def clasi_events(assessments: Sequence[Any]) -> list[dict[str, Any]]:
    """The same CR/relapse marks as text, for the table under the chart."""
    events, in_cr = [], False
    for a in assessments:
        if a.activity_score == 0 and not in_cr:
            events.append({"day": a.assessed_on, "kind": "Complete response", "score": 0})
            in_cr = True
        elif a.activity_score > 0 and in_cr:
            events.append({"day": a.assessed_on, "kind": "Relapse", "score": a.activity_score})
            in_cr = False
    return events


def symptom_chart(check_ins: Sequence[Any], labels: dict[str, str]) -> dict[str, Any]:
    """Composite grade (0-3) per check-in, one line per symptom term that was ever above 0."""
    series: dict[str, list[list[Any]]] = defaultdict(list)
    ever: set[str] = set()
    for c in check_ins:
        for s in c.symptoms or []:
            term, grade = s.get("term"), s.get("composite_grade")
            if term is None or grade is None:
                continue
            series[term].append([c.local_date.isoformat(), grade])
            if grade > 0:
                ever.add(term)
    datasets = [
        _dataset(labels.get(term, term), "line", series[term], palette=i)
        for i, term in enumerate(sorted(ever))
    ]
    return chart("Symptoms", datasets, y_title="Composite grade (0-3)", min=0, max=3, step=1)


def lab_chart(
    title: str, labs: Sequence[Any], lines: Sequence[tuple[str, float]], *, unit: str
) -> dict[str, Any]:
    points = [[lab.collected_at.date().isoformat(), float(lab.value)] for lab in labs]
    datasets = [_dataset(title, "line", points)]
    if points:
        first, last = points[0][0], points[-1][0]
        for i, (label, level) in enumerate(lines):
            datasets.append(
                _dataset(label, "threshold", [[first, level], [last, level]], grade=i + 2)
            )
    top = max([p[1] for p in points] + [lines[0][1] * 1.5])
    return chart(title, datasets, y_title=unit, min=0, max=nice_ceiling(top * 1.1))


def nice_ceiling(value: float) -> float:
    """The next round number above `value` for an axis top: 3.19 -> 3.5, 278 -> 300."""
    if value <= 0:
        return 1.0
    half = 10 ** math.floor(math.log10(value)) / 2
    return float(round(math.ceil(value / half) * half, 6))
