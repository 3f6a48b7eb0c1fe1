"""Adherence: expected doses (from schedules.expand) against what the patient logged.

Invariants:
- Pure function of its arguments; no database, no clock ("today" is passed in).
- One DayAdherence per expected local date, in date order. Logs for dates outside the expected
  range are ignored. When several logs name the same date the last one in the list wins, so
  callers pass current (non-superseded) logs in the order they were recorded.
- Days after ``today`` are "upcoming" and excluded from every count, even if something was
  logged for them (a phone in the wrong zone must not inflate adherence). ``today`` itself is
  judged like any past day.
- Streaks count consecutive expected dose days that were not taken: missed, not logged or
  skipped. Off-days neither break nor extend a streak, so 3 missed doses of an alternate-day
  regimen are a streak of 3 spread over 5 days. A skipped dose counts because for a drug whose
  withdrawal precedes relapse a deliberate skip leaves the skin as unprotected as a forgotten
  dose; whether it was justified is for the nurse, who sees the state of every day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from tracker.schedules import ExpectedDay

__all__ = [
    "LOG_STATUSES",
    "NOT_TAKEN_STATES",
    "STATES",
    "AdherenceSummary",
    "DayAdherence",
    "LoggedDose",
    "adherence",
]

LOG_STATUSES: Final = ("taken", "missed", "skipped")
STATES: Final = ("taken", "missed", "skipped", "not_logged", "extra", "no_dose", "upcoming")
NOT_TAKEN_STATES: Final = frozenset({"missed", "skipped", "not_logged"})

_SHARE_PRECISION = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class LoggedDose:
    """A current dose log: the local date it belongs to, its status and the milligrams taken."""

    day: date
    status: str  # taken | missed | skipped
    dose_mg: Decimal | None


@dataclass(frozen=True, slots=True)
class DayAdherence:
    """The verdict on one local date.

    ``state`` is one of STATES. ``above_prescribed`` is True only for a "taken" dose day whose
    logged milligrams exceed the expected dose; a dose on an off-day is "extra" instead.
    """

    day: date
    expected_mg: Decimal
    is_dose_day: bool
    state: str
    logged_mg: Decimal | None = None
    above_prescribed: bool = False


@dataclass(frozen=True, slots=True)
class AdherenceSummary:
    """Counts over the non-upcoming days.

    expected_doses = taken + missed + skipped + not_logged. ``share_taken`` is taken /
    expected_doses rounded half-up to 0.001, None when nothing was expected.
    ``current_missed_streak`` is the streak that includes the latest expected dose day.
    """

    expected_doses: int
    taken: int
    missed: int
    skipped: int
    not_logged: int
    extra_doses: int
    above_prescribed: int
    share_taken: Decimal | None
    longest_missed_streak: int
    current_missed_streak: int


def _judge(expected: ExpectedDay, log: LoggedDose | None, today: date | None) -> DayAdherence:
    logged_mg = log.dose_mg if log is not None and log.status == "taken" else None
    if today is not None and expected.day > today:
        state = "upcoming"
    elif not expected.is_dose_day:
        state = "extra" if log is not None and log.status == "taken" else "no_dose"
    elif log is None:
        state = "not_logged"
    else:
        state = log.status
    above = state == "taken" and logged_mg is not None and logged_mg > expected.dose_mg
    return DayAdherence(
        day=expected.day,
        expected_mg=expected.dose_mg,
        is_dose_day=expected.is_dose_day,
        state=state,
        logged_mg=logged_mg,
        above_prescribed=above,
    )


def adherence(
    expected: Sequence[ExpectedDay],
    logs: Sequence[LoggedDose],
    *,
    today: date | None = None,
) -> tuple[list[DayAdherence], AdherenceSummary]:
    """Judge each expected day against the logs and summarise.

    ``today`` None treats every day as past. Raises ValueError for a log status outside
    LOG_STATUSES or two expected entries for the same date.
    """
    latest: dict[date, LoggedDose] = {}
    for log in logs:
        if log.status not in LOG_STATUSES:
            raise ValueError(f"Unknown dose log status {log.status!r}")
        latest[log.day] = log

    ordered = sorted(expected, key=lambda e: e.day)
    for earlier, later in pairwise(ordered):
        if earlier.day == later.day:
            raise ValueError(f"Two expected entries for {later.day.isoformat()}")

    days = [_judge(e, latest.get(e.day), today) for e in ordered]

    counts = dict.fromkeys(STATES, 0)
    above = 0
    longest = current = 0
    for d in days:
        counts[d.state] += 1
        above += d.above_prescribed
        if d.state == "taken":
            current = 0
        elif d.state in NOT_TAKEN_STATES:
            current += 1
            longest = max(longest, current)

    expected_doses = counts["taken"] + counts["missed"] + counts["skipped"] + counts["not_logged"]
    share = (
        None
        if expected_doses == 0
        else (Decimal(counts["taken"]) / Decimal(expected_doses)).quantize(
            _SHARE_PRECISION, rounding=ROUND_HALF_UP
        )
    )
    summary = AdherenceSummary(
        expected_doses=expected_doses,
        taken=counts["taken"],
        missed=counts["missed"],
        skipped=counts["skipped"],
        not_logged=counts["not_logged"],
        extra_doses=counts["extra"],
        above_prescribed=above,
        share_taken=share,
        longest_missed_streak=longest,
        current_missed_streak=current,
    )
    return days, summary
