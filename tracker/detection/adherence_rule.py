"""adherence: doses not taken, or taken when not prescribed.

Three findings, each with its own episode:
- ``low_share`` (info): fewer than ``adherence_share`` of the expected doses of the last
  ``adherence_window_days`` days logged "taken". Only "taken" counts: missed, skipped and
  not-logged doses all lower the share. Today's dose counts only once it is logged.
- ``missed_streak`` (info): the last ``missed_streak`` expected doses were all not taken
  (missed, skipped or not logged).
- ``extra`` (warning): a dose logged taken on a day without a dose (off-day of alternate days,
  weekdays or cycles, hold, stopped) or above the prescribed dose (several "taken" logs on one
  day add up). DESIGN.md says "during taper"; we flag extra doses at any time, because holds,
  cycles and toxicity reductions create off-days and lower doses outside a taper too, and an
  extra dose is equally unsafe then.

Invariants: days before treatment start are ignored. Episode keys are the first day of the
current run (days whose share is low; the streak; extra-dose days no more than a window apart),
computed over the whole treatment, so they do not move as the window slides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tracker.detection.findings import Finding, dec, plural
from tracker.detection.thresholds import Thresholds
from tracker.detection.timeline import DoseLog, Timeline
from tracker.schedules import doses_between

__all__ = ["DayState", "adherence", "day_states"]

_NOT_TAKEN = frozenset({"missed", "skipped", "not_logged"})


@dataclass(frozen=True, slots=True)
class DayState:
    """One local day: what was expected and what was logged.

    ``state`` is taken/missed/skipped/not_logged/upcoming on a dose day, extra/no_dose otherwise;
    "upcoming" is only ever today. ``taken_mg`` sums the "taken" logs (a log without a dose counts
    as the prescribed dose); ``above_prescribed`` is True when it exceeds ``expected_mg``.
    """

    day: date
    expected_mg: Decimal
    state: str
    taken_mg: Decimal
    log_ids: tuple[int, ...]

    @property
    def is_dose_day(self) -> bool:
        return self.expected_mg > 0

    @property
    def above_prescribed(self) -> bool:
        return self.is_dose_day and self.state == "taken" and self.taken_mg > self.expected_mg


def day_states(timeline: Timeline, today: date) -> list[DayState]:
    """One DayState per day from treatment start to ``today`` (empty before a start)."""
    tl = timeline.as_of(today)
    start = tl.treatment_start
    if start is None:
        return []
    steps = [s.to_step() for s in tl.steps]
    logs: dict[date, list[DoseLog]] = defaultdict(list)
    for log in tl.doses:
        logs[log.day].append(log)
    expected = doses_between(steps, start, today)
    return [
        _day_state(start + timedelta(days=n), dose, logs, today) for n, dose in enumerate(expected)
    ]


def _day_state(
    day: date, expected: Decimal, logs: dict[date, list[DoseLog]], today: date
) -> DayState:
    entries = logs.get(day, [])
    statuses = {log.status for log in entries}
    taken = [log for log in entries if log.status == "taken"]
    taken_mg = sum(
        (log.dose_mg if log.dose_mg is not None else expected for log in taken), Decimal(0)
    )
    if expected <= 0:
        state = "extra" if taken else "no_dose"
    elif taken:
        state = "taken"
    elif "missed" in statuses:
        state = "missed"
    elif "skipped" in statuses:
        state = "skipped"
    else:
        state = "upcoming" if day == today else "not_logged"
    return DayState(day, expected, state, taken_mg, tuple(log.id for log in entries))


def adherence(timeline: Timeline, today: date, thresholds: Thresholds) -> list[Finding]:
    """Low share of doses taken, a streak of doses not taken, extra doses."""
    days = day_states(timeline, today)
    found = (
        _low_share(days, thresholds),
        _missed_streak(days, thresholds),
        _extra_doses(days, today, thresholds),
    )
    return [f for f in found if f is not None]


def _window_share(days: Sequence[DayState], end: int, window: int) -> tuple[int, int]:
    """(taken, expected) dose days in the ``window`` days ending at index ``end``."""
    counted = [d for d in days[max(0, end - window + 1) : end + 1] if d.state != "upcoming"]
    expected = [d for d in counted if d.is_dose_day]
    return sum(d.state == "taken" for d in expected), len(expected)


def _low_share(days: Sequence[DayState], th: Thresholds) -> Finding | None:
    def low(end: int) -> bool:
        taken, expected = _window_share(days, end, th.adherence_window_days)
        return expected > 0 and Decimal(taken) < th.adherence_share * expected

    if not days or not low(len(days) - 1):
        return None
    first = len(days) - 1
    while first > 0 and low(first - 1):
        first -= 1
    taken, expected = _window_share(days, len(days) - 1, th.adherence_window_days)
    percent = round(100 * taken / expected)
    return Finding(
        rule="adherence",
        severity="info",
        episode_key=f"adherence:low_share:{days[first].day.isoformat()}",
        summary=f"Only {taken} of {expected} expected doses logged as taken in the last "
        f"{th.adherence_window_days} days ({percent}%)",
        evidence={
            "kind": "low_share",
            "taken": taken,
            "expected": expected,
            "share": f"{Decimal(taken) / expected:.2f}",
            "window_start": days[max(0, len(days) - th.adherence_window_days)].day,
            "window_end": days[-1].day,
            "low_since": days[first].day,
            "not_taken": _not_taken(days[-th.adherence_window_days :]),
            "thresholds": th.subset("adherence_share", "adherence_window_days"),
        },
    )


def _not_taken(days: Sequence[DayState]) -> list[dict[str, Any]]:
    return [
        {"day": d.day, "state": d.state, "expected_mg": d.expected_mg, "dose_log_ids": d.log_ids}
        for d in days
        if d.state in _NOT_TAKEN
    ]


def _missed_streak(days: Sequence[DayState], th: Thresholds) -> Finding | None:
    dose_days = [d for d in days if d.is_dose_day and d.state != "upcoming"]
    streak: list[DayState] = []
    for d in reversed(dose_days):
        if d.state not in _NOT_TAKEN:
            break
        streak.insert(0, d)
    if len(streak) < th.missed_streak:
        return None
    counts = {s: sum(d.state == s for d in streak) for s in ("missed", "skipped", "not_logged")}
    detail = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items() if n)
    return Finding(
        rule="adherence",
        severity="info",
        episode_key=f"adherence:missed_streak:{streak[0].day.isoformat()}",
        summary=f"{plural(len(streak), 'dose')} in a row not taken since {streak[0].day} "
        f"({detail})",
        evidence={
            "kind": "missed_streak",
            "streak_length": len(streak),
            "first_day": streak[0].day,
            "last_day": streak[-1].day,
            "days": _not_taken(streak),
            "thresholds": th.subset("missed_streak"),
        },
    )


def _extra_doses(days: Sequence[DayState], today: date, th: Thresholds) -> Finding | None:
    extra = [d for d in days if d.state == "extra" or d.above_prescribed]
    window = timedelta(days=th.adherence_window_days)
    if not extra or today - extra[-1].day >= window:
        return None
    first = len(extra) - 1
    while first > 0 and extra[first].day - extra[first - 1].day <= window:
        first -= 1
    cluster = extra[first:]
    recent = [d for d in cluster if today - d.day < window]
    last = cluster[-1]
    amount = f"{dec(last.taken_mg)} mg" if last.taken_mg > 0 else "a dose"
    if last.state == "extra":
        what = "on a day without a prescribed dose"
    else:
        what = f"above the prescribed {dec(last.expected_mg)} mg"
    summary = f"Extra lenalidomide: {amount} taken on {last.day} {what}"
    if len(recent) > 1:
        summary += f" ({len(recent)} extra doses in the last {th.adherence_window_days} days)"
    return Finding(
        rule="adherence",
        severity="warning",
        episode_key=f"adherence:extra:{cluster[0].day.isoformat()}",
        summary=summary,
        evidence={
            "kind": "extra",
            "first_day": cluster[0].day,
            "days": [
                {
                    "day": d.day,
                    "reason": "off_day" if d.state == "extra" else "above_prescribed",
                    "expected_mg": d.expected_mg,
                    "taken_mg": d.taken_mg if d.taken_mg > 0 else None,
                    "dose_log_ids": d.log_ids,
                }
                for d in recent
            ],
            "thresholds": th.subset("adherence_window_days"),
        },
    )
