"""Regimen steps -> expected lenalidomide doses per local date.

A regimen is a list of versioned steps (start, escalation, taper, hold, withdrawal). The step in
force on a date is the last one whose ``starts_on`` is on or before that date, so a taper is
recorded by adding a step, never by editing history.

Invariants:
- Every function here is pure: no database, no clock, no Django. "Today" is always an argument.
- Dates are the patient's *local* dates. A dose belongs to the local date it was due on, and the
  due time is a wall-clock time in the patient's IANA zone, so a daylight-saving change moves the
  UTC instant of the dose, never its local time or its date.
- Doses are ``Decimal`` milligrams; weekly totals are quantized to 0.01 mg.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "CAPSULE_STRENGTHS_MG",
    "DOSING_PATTERNS",
    "MAX_CYCLE_LENGTH",
    "MAX_EXPAND_DAYS",
    "PATTERNS",
    "REASONS",
    "ExpectedDay",
    "Step",
    "dose_on",
    "expand",
    "is_reduction",
    "local_date",
    "reductions",
    "validate_step",
    "weekly_dose_mg",
]

CAPSULE_STRENGTHS_MG: tuple[Decimal, ...] = (
    Decimal("2.5"),
    Decimal("5"),
    Decimal("10"),
    Decimal("15"),
    Decimal("20"),
    Decimal("25"),
)
PATTERNS: tuple[str, ...] = ("daily", "alternate_days", "weekdays", "cycle", "hold", "stopped")
DOSING_PATTERNS: frozenset[str] = frozenset({"daily", "alternate_days", "weekdays", "cycle"})
REASONS: tuple[str, ...] = ("start", "escalation", "taper", "hold_toxicity", "withdrawal")
MAX_CYCLE_LENGTH = 56
MAX_EXPAND_DAYS = 366

_ZERO = Decimal("0")
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Step:
    """One version of the regimen, in force from ``starts_on`` until the next step starts.

    ``weekdays`` uses 0=Monday .. 6=Sunday (``date.weekday()``). ``cycle_days_on`` and
    ``cycle_length`` are set only for the "cycle" pattern (e.g. 21 of 28 days). ``dose_mg`` is the
    dose taken on each dose day; for "hold" and "stopped" no dose is expected whatever it says.
    """

    starts_on: date
    dose_mg: Decimal
    pattern: str
    weekdays: tuple[int, ...] = ()
    cycle_days_on: int | None = None
    cycle_length: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ExpectedDay:
    """What the regimen expects on one local date.

    ``dose_mg`` is 0 and ``due_at`` is None exactly when ``is_dose_day`` is False. ``step_index``
    is the index, in the caller's list, of the step in force (None before the first step).
    """

    day: date
    dose_mg: Decimal
    is_dose_day: bool
    step_index: int | None
    pattern: str | None
    due_at: datetime | None


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int subclass; True must not pass as weekday 1 or a cycle of 1 day.
    return isinstance(value, int) and not isinstance(value, bool)


def _as_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    return None


def validate_step(step: Step) -> dict[str, str]:
    """Return ``{field: message}`` for everything wrong with ``step``; empty when valid.

    Rules: a known pattern; a dosing pattern needs a capsule strength (2.5-25 mg) because a dose
    that cannot be dispensed cannot be taken; "hold" and "stopped" accept 0 or a capsule strength
    (the last dose may be kept for the record) and expect nothing. "weekdays" needs a non-empty
    set of unique days 0..6, other patterns none. "cycle" needs
    1 <= cycle_days_on < cycle_length <= 56, other patterns leave both None. ``reason`` is empty
    or one of REASONS.
    """
    errors: dict[str, str] = {}
    if step.pattern not in PATTERNS:
        errors["pattern"] = (
            f"Unknown pattern {step.pattern!r}; expected one of {', '.join(PATTERNS)}."
        )

    dose = _as_decimal(step.dose_mg)
    strengths = ", ".join(str(s) for s in CAPSULE_STRENGTHS_MG)
    if dose is None:
        errors["dose_mg"] = "Dose must be a decimal number of milligrams."
    elif step.pattern in DOSING_PATTERNS and dose not in CAPSULE_STRENGTHS_MG:
        errors["dose_mg"] = f"Dose must be a capsule strength ({strengths} mg)."
    elif step.pattern in ("hold", "stopped") and dose != _ZERO and dose not in CAPSULE_STRENGTHS_MG:
        errors["dose_mg"] = f"Dose must be 0 or a capsule strength ({strengths} mg)."

    weekdays = step.weekdays
    if step.pattern == "weekdays":
        if not isinstance(weekdays, tuple | list) or not weekdays:
            errors["weekdays"] = "Choose at least one weekday (0=Monday .. 6=Sunday)."
        elif not all(_is_int(d) and 0 <= d <= 6 for d in weekdays):
            errors["weekdays"] = "Weekdays must be integers 0 (Monday) to 6 (Sunday)."
        elif len(set(weekdays)) != len(weekdays):
            errors["weekdays"] = "Weekdays must not repeat."
    elif weekdays:
        errors["weekdays"] = "Weekdays apply only to the 'weekdays' pattern."

    on, length = step.cycle_days_on, step.cycle_length
    if step.pattern == "cycle":
        if not (_is_int(length) and 2 <= length <= MAX_CYCLE_LENGTH):
            errors["cycle_length"] = f"Cycle length must be an integer 2..{MAX_CYCLE_LENGTH} days."
        if not (_is_int(on) and on >= 1):
            errors["cycle_days_on"] = "Days on must be an integer >= 1."
        elif _is_int(length) and on >= length:
            errors["cycle_days_on"] = "Days on must be fewer than the cycle length."
    else:
        if on is not None:
            errors["cycle_days_on"] = "Days on apply only to the 'cycle' pattern."
        if length is not None:
            errors["cycle_length"] = "Cycle length applies only to the 'cycle' pattern."

    if step.reason and step.reason not in REASONS:
        errors["reason"] = f"Unknown reason {step.reason!r}; expected one of {', '.join(REASONS)}."
    return errors


def _dose(step: Step) -> Decimal:
    dose = _as_decimal(step.dose_mg)
    if dose is None:
        raise ValueError(f"dose_mg must be a Decimal, got {step.dose_mg!r}")
    return dose


def weekly_dose_mg(step: Step) -> Decimal:
    """Average milligrams per week under ``step``, quantized to 0.01 mg.

    daily 7 doses, alternate days 3.5, weekdays one per chosen day, cycle 7 * on / length;
    hold and stopped 0. This is the number a taper is judged by, because patterns differ
    (10 mg alternate days equals 5 mg daily).
    """
    pattern = step.pattern
    if pattern in ("hold", "stopped"):
        return _ZERO.quantize(_CENT)
    dose = _dose(step)
    if pattern == "daily":
        weekly = dose * 7
    elif pattern == "alternate_days":
        weekly = dose * 7 / 2
    elif pattern == "weekdays":
        weekly = dose * len(set(step.weekdays))
    elif pattern == "cycle":
        if not step.cycle_length or step.cycle_days_on is None:
            raise ValueError("A cycle step needs cycle_days_on and cycle_length.")
        weekly = dose * 7 * step.cycle_days_on / step.cycle_length
    else:
        raise ValueError(f"Unknown pattern {pattern!r}")
    return weekly.quantize(_CENT, rounding=ROUND_HALF_UP)


def _ordered(steps: Sequence[Step]) -> list[tuple[int, Step]]:
    # A stable sort keeps the caller's order for two steps on the same date: the later wins.
    return sorted(enumerate(steps), key=lambda pair: pair[1].starts_on)


def _in_force(ordered: list[tuple[int, Step]], day: date) -> tuple[int, Step] | None:
    current: tuple[int, Step] | None = None
    for pair in ordered:
        if pair[1].starts_on > day:
            break
        current = pair
    return current


def _step_dose(step: Step, day: date) -> Decimal:
    """Dose expected on ``day`` under ``step`` (which must be in force on that day)."""
    offset = (day - step.starts_on).days
    pattern = step.pattern
    if pattern in ("hold", "stopped"):
        return _ZERO
    if pattern == "daily":
        is_dose_day = True
    elif pattern == "alternate_days":
        is_dose_day = offset % 2 == 0
    elif pattern == "weekdays":
        is_dose_day = day.weekday() in step.weekdays
    elif pattern == "cycle":
        if not step.cycle_length or step.cycle_days_on is None:
            raise ValueError("A cycle step needs cycle_days_on and cycle_length.")
        is_dose_day = offset % step.cycle_length < step.cycle_days_on
    else:
        raise ValueError(f"Unknown pattern {pattern!r}")
    return _dose(step) if is_dose_day else _ZERO


def dose_on(steps: Sequence[Step], day: date) -> Decimal:
    """Expected dose on a local date: 0 before the first step, on off-days, holds and stops.

    Alternate days and cycles count from the step's own ``starts_on`` (day 0 is a dose day), so a
    new step restarts the rhythm, as a new prescription does.
    """
    current = _in_force(_ordered(steps), day)
    if current is None:
        return _ZERO
    return _step_dose(current[1], day)


def doses_between(steps: Sequence[Step], start: date, end: date) -> list[Decimal]:
    """The expected dose of every date from ``start`` to ``end`` inclusive, as ``dose_on``
    gives it, with the steps sorted once instead of once per day."""
    ordered = _ordered(steps)
    result: list[Decimal] = []
    index = -1
    day = start
    while day <= end:
        while index + 1 < len(ordered) and ordered[index + 1][1].starts_on <= day:
            index += 1
        result.append(_step_dose(ordered[index][1], day) if index >= 0 else _ZERO)
        day += timedelta(days=1)
    return result


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Unknown time zone {tz!r}") from exc


def _wall_clock(day: date, at: time, zone: ZoneInfo) -> datetime:
    """Aware datetime for a local wall-clock time.

    A time that does not exist (inside a spring-forward gap) is moved forward by the gap, as
    phone alarms do; an ambiguous one (fall-back) takes its first occurrence (fold=0).
    """
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    local = naive.replace(tzinfo=zone)
    return local.astimezone(UTC).astimezone(zone)


def expand(
    steps: Sequence[Step],
    start: date,
    end: date,
    tz: str,
    dose_time: time = time(9, 0),
) -> list[ExpectedDay]:
    """One ExpectedDay per local date from ``start`` to ``end`` inclusive, in date order.

    ``due_at`` is ``dose_time`` on that date in zone ``tz`` whatever its UTC offset that day.
    Raises ValueError if end < start, if the range is longer than 366 days (a leap year; longer
    ranges belong to paginated callers), or if ``tz`` is not an IANA zone.
    """
    if end < start:
        raise ValueError("end must not be before start")
    days = (end - start).days + 1
    if days > MAX_EXPAND_DAYS:
        raise ValueError(f"range of {days} days exceeds {MAX_EXPAND_DAYS} days")
    if dose_time.tzinfo is not None:
        raise ValueError("dose_time is a local wall-clock time and must be naive")
    zone = _zone(tz)
    ordered = _ordered(steps)
    result: list[ExpectedDay] = []
    for n in range(days):
        day = start + timedelta(days=n)
        current = _in_force(ordered, day)
        if current is None:
            result.append(ExpectedDay(day, _ZERO, False, None, None, None))
            continue
        index, step = current
        dose = _step_dose(step, day)
        is_dose_day = dose > 0
        due_at = _wall_clock(day, dose_time, zone) if is_dose_day else None
        result.append(ExpectedDay(day, dose, is_dose_day, index, step.pattern, due_at))
    return result


def is_reduction(prev: Step, step: Step) -> bool:
    """True when ``step`` lowers exposure after ``prev``: a taper or a withdrawal.

    A taper is a lower weekly dose than ``prev`` (so 5 mg daily -> 5 mg alternate days counts,
    10 mg alternate days -> 5 mg daily does not). A withdrawal is "stopped" after a dosing step.
    A "hold" is never a reduction: it is a temporary interruption for toxicity (e.g. neutropenia)
    that the clinician intends to reverse, not a step down of disease control, and counting it
    would open a relapse watch window for every toxicity pause and drown the taper signal the
    trial describes (relapse 2-8 weeks after a dose reduction or withdrawal).
    """
    if step.pattern == "hold":
        return False
    if step.pattern == "stopped":
        return prev.pattern in DOSING_PATTERNS
    if prev.pattern not in DOSING_PATTERNS:
        return False
    return weekly_dose_mg(step) < weekly_dose_mg(prev)


def reductions(steps: Sequence[Step]) -> list[Step]:
    """The steps that are reductions, in date order.

    Each step is compared with the latest earlier step that is not a hold, so a hold is
    transparent: 10 mg daily -> hold -> 5 mg daily is a taper (restarted lower), and
    10 mg daily -> hold -> stopped is a withdrawal.
    """
    found: list[Step] = []
    reference: Step | None = None
    for _, step in _ordered(steps):
        if reference is not None and is_reduction(reference, step):
            found.append(step)
        if step.pattern != "hold":
            reference = step
    return found


def local_date(moment: datetime, tz: str) -> date:
    """The date of an aware ``moment`` on the wall calendar of zone ``tz``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("moment must be timezone-aware")
    return moment.astimezone(_zone(tz)).date()
