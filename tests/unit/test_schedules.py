from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from tracker.schedules import (
    CAPSULE_STRENGTHS_MG,
    PATTERNS,
    ExpectedDay,
    Step,
    dose_on,
    expand,
    is_reduction,
    local_date,
    reductions,
    validate_step,
    weekly_dose_mg,
)

D = Decimal
START = date(2026, 1, 5)  # a Monday


def step(pattern: str = "daily", dose: str = "5", **kw: object) -> Step:
    starts_on = kw.pop("starts_on", START)
    return Step(starts_on=starts_on, dose_mg=D(dose), pattern=pattern, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- constants


def test_constants_match_the_label_and_design() -> None:
    assert tuple(str(s) for s in CAPSULE_STRENGTHS_MG) == ("2.5", "5", "10", "15", "20", "25")
    assert PATTERNS == ("daily", "alternate_days", "weekdays", "cycle", "hold", "stopped")


def test_step_is_frozen() -> None:
    s = step()
    with pytest.raises(AttributeError):
        s.dose_mg = D("10")  # type: ignore[misc]


# --------------------------------------------------------------------------- validate_step


@pytest.mark.parametrize(
    "s",
    [
        step("daily", "5"),
        step("daily", "2.5"),
        step("daily", "25"),
        step("daily", "5.00"),
        step("alternate_days", "5"),
        step("weekdays", "5", weekdays=(0, 2, 4)),
        step("weekdays", "10", weekdays=(6,)),
        step("weekdays", "10", weekdays=(0, 1, 2, 3, 4, 5, 6)),
        step("cycle", "10", cycle_days_on=21, cycle_length=28),
        step("cycle", "10", cycle_days_on=1, cycle_length=2),
        step("cycle", "10", cycle_days_on=55, cycle_length=56),
        step("hold", "0"),
        step("hold", "10"),
        step("stopped", "0"),
        step("daily", "5", reason="start"),
        step("stopped", "0", reason="withdrawal"),
    ],
)
def test_valid_steps(s: Step) -> None:
    assert validate_step(s) == {}


@pytest.mark.parametrize(
    ("s", "field"),
    [
        (step("weekly"), "pattern"),
        (step("daily", "0"), "dose_mg"),
        (step("daily", "7.5"), "dose_mg"),
        (step("daily", "30"), "dose_mg"),
        (step("daily", "-5"), "dose_mg"),
        (step("alternate_days", "0"), "dose_mg"),
        (step("cycle", "3", cycle_days_on=21, cycle_length=28), "dose_mg"),
        (step("hold", "7"), "dose_mg"),
        (step("stopped", "-1"), "dose_mg"),
        (step("weekdays", "5"), "weekdays"),
        (step("weekdays", "5", weekdays=(7,)), "weekdays"),
        (step("weekdays", "5", weekdays=(-1,)), "weekdays"),
        (step("weekdays", "5", weekdays=(1, 1)), "weekdays"),
        (step("weekdays", "5", weekdays=(True,)), "weekdays"),
        (step("daily", "5", weekdays=(1,)), "weekdays"),
        (step("hold", "0", weekdays=(1,)), "weekdays"),
        (step("cycle", "10"), "cycle_length"),
        (step("cycle", "10"), "cycle_days_on"),
        (step("cycle", "10", cycle_days_on=0, cycle_length=28), "cycle_days_on"),
        (step("cycle", "10", cycle_days_on=28, cycle_length=28), "cycle_days_on"),
        (step("cycle", "10", cycle_days_on=29, cycle_length=28), "cycle_days_on"),
        (step("cycle", "10", cycle_days_on=21, cycle_length=57), "cycle_length"),
        (step("cycle", "10", cycle_days_on=1, cycle_length=1), "cycle_length"),
        (step("daily", "5", cycle_days_on=21), "cycle_days_on"),
        (step("daily", "5", cycle_length=28), "cycle_length"),
        (step("daily", "5", reason="because"), "reason"),
    ],
)
def test_invalid_steps_name_the_field(s: Step, field: str) -> None:
    errors = validate_step(s)
    assert field in errors
    assert errors[field]


def test_float_dose_is_rejected() -> None:
    s = Step(starts_on=START, dose_mg=5.0, pattern="daily")  # type: ignore[arg-type]
    assert "dose_mg" in validate_step(s)


def test_several_errors_reported_together() -> None:
    s = step("cycle", "7", weekdays=(1,), cycle_days_on=30, cycle_length=28)
    assert set(validate_step(s)) == {"dose_mg", "weekdays", "cycle_days_on"}


# --------------------------------------------------------------------------- weekly_dose_mg


@pytest.mark.parametrize(
    ("s", "weekly"),
    [
        (step("daily", "5"), "35.00"),
        (step("daily", "10"), "70.00"),
        (step("daily", "2.5"), "17.50"),
        (step("alternate_days", "5"), "17.50"),
        (step("alternate_days", "2.5"), "8.75"),
        (step("alternate_days", "10"), "35.00"),
        (step("weekdays", "5", weekdays=(0, 2, 4)), "15.00"),
        (step("weekdays", "2.5", weekdays=(0,)), "2.50"),
        (step("cycle", "10", cycle_days_on=21, cycle_length=28), "52.50"),
        (step("cycle", "5", cycle_days_on=1, cycle_length=3), "11.67"),
        (step("cycle", "2.5", cycle_days_on=2, cycle_length=3), "11.67"),
        (step("hold", "10"), "0.00"),
        (step("stopped", "0"), "0.00"),
    ],
)
def test_weekly_dose(s: Step, weekly: str) -> None:
    result = weekly_dose_mg(s)
    assert result == D(weekly)
    assert result.as_tuple().exponent == -2


# --------------------------------------------------------------------------- dose_on


def test_dose_on_before_first_step_is_zero() -> None:
    assert dose_on([step()], START - timedelta(days=1)) == 0
    assert dose_on([], START) == 0


def test_daily_every_day() -> None:
    steps = [step("daily", "5")]
    assert [dose_on(steps, START + timedelta(days=n)) for n in range(4)] == [D("5")] * 4


def test_alternate_days_counts_from_step_start() -> None:
    steps = [step("alternate_days", "5", starts_on=date(2026, 1, 6))]
    got = [dose_on(steps, date(2026, 1, 6) + timedelta(days=n)) for n in range(6)]
    assert got == [D("5"), 0, D("5"), 0, D("5"), 0]


def test_alternate_days_rhythm_restarts_with_new_step() -> None:
    steps = [
        step("alternate_days", "10", starts_on=date(2026, 1, 1)),
        step("alternate_days", "5", starts_on=date(2026, 1, 4)),  # day 3 of the old rhythm
    ]
    assert dose_on(steps, date(2026, 1, 3)) == D("10")
    assert dose_on(steps, date(2026, 1, 4)) == D("5")  # day 0 of the new step is a dose day
    assert dose_on(steps, date(2026, 1, 5)) == 0


def test_weekdays_pattern() -> None:
    steps = [step("weekdays", "5", weekdays=(0, 2, 4))]  # Mon, Wed, Fri
    got = [dose_on(steps, START + timedelta(days=n)) for n in range(7)]
    assert got == [D("5"), 0, D("5"), 0, D("5"), 0, 0]


def test_cycle_21_of_28_boundaries() -> None:
    steps = [step("cycle", "10", cycle_days_on=21, cycle_length=28)]
    assert dose_on(steps, START) == D("10")  # index 0
    assert dose_on(steps, START + timedelta(days=20)) == D("10")  # index 20: last day on
    assert dose_on(steps, START + timedelta(days=21)) == 0  # index 21: first day off
    assert dose_on(steps, START + timedelta(days=27)) == 0  # index 27: last day off
    assert dose_on(steps, START + timedelta(days=28)) == D("10")  # next cycle


@pytest.mark.parametrize("pattern", ["hold", "stopped"])
def test_hold_and_stopped_expect_nothing(pattern: str) -> None:
    steps = [step("daily", "10"), step(pattern, "10", starts_on=START + timedelta(days=3))]
    assert dose_on(steps, START + timedelta(days=2)) == D("10")
    assert dose_on(steps, START + timedelta(days=3)) == 0
    assert dose_on(steps, START + timedelta(days=30)) == 0


def test_step_in_force_is_last_started_whatever_input_order() -> None:
    taper = step("daily", "5", starts_on=date(2026, 2, 1))
    start = step("daily", "10", starts_on=date(2026, 1, 1))
    for steps in ([start, taper], [taper, start]):
        assert dose_on(steps, date(2026, 1, 31)) == D("10")
        assert dose_on(steps, date(2026, 2, 1)) == D("5")


def test_same_day_steps_last_given_wins() -> None:
    a = step("daily", "10", starts_on=START)
    b = step("daily", "5", starts_on=START)
    assert dose_on([a, b], START) == D("5")
    assert dose_on([b, a], START) == D("10")


# --------------------------------------------------------------------------- expand


def test_expand_one_entry_per_date_inclusive() -> None:
    days = expand([step()], START, START + timedelta(days=9), "UTC")
    assert [d.day for d in days] == [START + timedelta(days=n) for n in range(10)]


def test_expand_single_day() -> None:
    (only,) = expand([step()], START, START, "Europe/Madrid")
    assert only == ExpectedDay(
        day=START,
        dose_mg=D("5"),
        is_dose_day=True,
        step_index=0,
        pattern="daily",
        due_at=datetime(2026, 1, 5, 9, 0, tzinfo=ZoneInfo("Europe/Madrid")),
    )


def test_expand_before_first_step() -> None:
    days = expand([step(starts_on=date(2026, 1, 7))], START, date(2026, 1, 7), "UTC")
    assert [(d.is_dose_day, d.step_index, d.pattern, d.due_at) for d in days[:2]] == [
        (False, None, None, None),
        (False, None, None, None),
    ]
    assert days[2].is_dose_day
    assert days[2].step_index == 0


def test_expand_step_index_refers_to_callers_list() -> None:
    later = step("daily", "5", starts_on=date(2026, 1, 10))
    earlier = step("daily", "10", starts_on=date(2026, 1, 1))
    days = expand([later, earlier], date(2026, 1, 9), date(2026, 1, 10), "UTC")
    assert [d.step_index for d in days] == [1, 0]


def test_expand_off_days_have_no_due_time() -> None:
    days = expand([step("alternate_days")], START, START + timedelta(days=1), "UTC")
    assert days[1].dose_mg == 0
    assert days[1].is_dose_day is False
    assert days[1].due_at is None
    assert days[1].pattern == "alternate_days"


def test_expand_custom_dose_time() -> None:
    (d,) = expand([step()], START, START, "Asia/Tokyo", dose_time=time(21, 30))
    assert d.due_at == datetime(2026, 1, 5, 12, 30, tzinfo=UTC)


def test_expand_range_limits() -> None:
    assert len(expand([step()], date(2028, 1, 1), date(2028, 12, 31), "UTC")) == 366
    with pytest.raises(ValueError, match="366"):
        expand([step()], date(2028, 1, 1), date(2029, 1, 1), "UTC")
    with pytest.raises(ValueError, match="before"):
        expand([step()], START, START - timedelta(days=1), "UTC")


def test_expand_rejects_unknown_zone_and_aware_dose_time() -> None:
    with pytest.raises(ValueError, match="zone"):
        expand([step()], START, START, "Mars/Olympus")
    with pytest.raises(ValueError, match="naive"):
        expand([step()], START, START, "UTC", dose_time=time(9, 0, tzinfo=UTC))


# Each pattern across a daylight-saving change. The Step for each pattern starts two days before
# the change, so the change day is index 2 and the dose days are known in advance.
DST_CASES = [
    # zone, change day, offset before, offset after
    ("America/New_York", date(2026, 3, 8), timedelta(hours=-5), timedelta(hours=-4)),
    ("Europe/Madrid", date(2026, 10, 25), timedelta(hours=2), timedelta(hours=1)),
]

PATTERN_CASES: list[tuple[str, dict[str, object], list[bool]]] = [
    # pattern, extra fields, dose day for indexes 0..5 (starts_on = change - 2 = a Friday)
    ("daily", {}, [True] * 6),
    ("alternate_days", {}, [True, False, True, False, True, False]),
    ("weekdays", {"weekdays": (4, 6, 0)}, [True, False, True, True, False, False]),
    ("cycle", {"cycle_days_on": 3, "cycle_length": 4}, [True, True, True, False, True, True]),
    ("hold", {}, [False] * 6),
    ("stopped", {}, [False] * 6),
]


@pytest.mark.parametrize(("tz", "change", "before", "after"), DST_CASES)
@pytest.mark.parametrize(("pattern", "extra", "dose_days"), PATTERN_CASES)
def test_expand_each_pattern_across_dst(
    tz: str,
    change: date,
    before: timedelta,
    after: timedelta,
    pattern: str,
    extra: dict[str, object],
    dose_days: list[bool],
) -> None:
    first = change - timedelta(days=2)
    dose = "0" if pattern in ("hold", "stopped") else "10"
    s = Step(starts_on=first, dose_mg=D(dose), pattern=pattern, **extra)  # type: ignore[arg-type]
    assert validate_step(s) == {}
    days = expand([s], first, first + timedelta(days=5), tz)

    assert [d.day for d in days] == [first + timedelta(days=n) for n in range(6)]
    assert [d.is_dose_day for d in days] == dose_days
    for d in days:
        assert d.pattern == pattern
        assert d.step_index == 0
        if not d.is_dose_day:
            assert d.due_at is None
            assert d.dose_mg == 0
            continue
        assert d.dose_mg == D("10")
        assert d.due_at is not None
        assert d.due_at.tzinfo is not None
        assert d.due_at.date() == d.day
        assert (d.due_at.hour, d.due_at.minute) == (9, 0)
        offset = before if d.day < change else after
        assert d.due_at.utcoffset() == offset
        # The UTC instant moves with the offset; the wall clock stays at 09:00.
        assert d.due_at == datetime.combine(d.day, time(9, 0), tzinfo=UTC) - offset


def utc(d: ExpectedDay) -> datetime:
    assert d.due_at is not None
    # Subtracting two datetimes of the same zone ignores their offsets; compare in UTC.
    return d.due_at.astimezone(UTC)


def test_dst_daily_due_times_are_23_and_25_hours_apart_on_change_days() -> None:
    ny = expand(
        [step(starts_on=date(2026, 3, 1))], date(2026, 3, 7), date(2026, 3, 9), "America/New_York"
    )
    gaps = [utc(b) - utc(a) for a, b in pairwise(ny)]
    assert gaps == [timedelta(hours=23), timedelta(hours=24)]
    md = expand(
        [step(starts_on=date(2026, 10, 1))], date(2026, 10, 24), date(2026, 10, 26), "Europe/Madrid"
    )
    gaps = [utc(b) - utc(a) for a, b in pairwise(md)]
    assert gaps == [timedelta(hours=25), timedelta(hours=24)]


def test_dose_time_in_spring_forward_gap_moves_forward() -> None:
    (d,) = expand([step()], date(2026, 3, 8), date(2026, 3, 8), "America/New_York", time(2, 30))
    assert d.due_at is not None
    assert (d.due_at.hour, d.due_at.minute) == (3, 30)
    assert d.due_at.utcoffset() == timedelta(hours=-4)
    assert d.due_at.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_ambiguous_dose_time_takes_first_occurrence() -> None:
    (d,) = expand([step()], date(2026, 10, 25), date(2026, 10, 25), "Europe/Madrid", time(2, 30))
    assert d.due_at is not None
    assert d.due_at.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


# --------------------------------------------------------------------------- reductions


def at(days: int, pattern: str = "daily", dose: str = "10", **kw: object) -> Step:
    return step(pattern, dose, starts_on=START + timedelta(days=days), **kw)


@pytest.mark.parametrize(
    ("prev", "new", "expected"),
    [
        (at(0, dose="10"), at(28, dose="5"), True),  # taper
        (at(0, dose="5"), at(28, dose="10"), False),  # escalation
        (at(0, dose="5"), at(28, dose="5"), False),  # same
        (at(0, dose="5"), at(28, "alternate_days", "5"), True),  # 35 -> 17.5
        (at(0, "alternate_days", "10"), at(28, dose="5"), False),  # 35 -> 35
        (at(0, "alternate_days", "5"), at(28, "weekdays", "5", weekdays=(0, 2, 4)), True),
        (at(0, "weekdays", "5", weekdays=(0, 2, 4)), at(28, "alternate_days", "5"), False),
        (at(0, dose="10"), at(28, "cycle", "10", cycle_days_on=21, cycle_length=28), True),
        (at(0, dose="5"), at(28, "stopped", "0"), True),  # withdrawal
        (at(0, "alternate_days", "2.5"), at(28, "stopped", "0"), True),
        (at(0, dose="10"), at(28, "hold", "0"), False),  # toxicity hold
        (at(0, "hold", "0"), at(28, dose="5"), False),  # restart
        (at(0, "hold", "0"), at(28, "stopped", "0"), False),
        (at(0, "stopped", "0"), at(28, "stopped", "0"), False),
        (at(0, "stopped", "0"), at(28, dose="5"), False),
    ],
)
def test_is_reduction(prev: Step, new: Step, expected: bool) -> None:
    assert is_reduction(prev, new) is expected


def test_reductions_in_date_order_and_holds_are_transparent() -> None:
    start = at(0, dose="5", reason="start")
    up = at(28, dose="10", reason="escalation")
    hold = at(50, "hold", "0", reason="hold_toxicity")
    restart_lower = at(60, dose="5", reason="taper")
    taper = at(90, "alternate_days", "5", reason="taper")
    hold2 = at(100, "hold", "0", reason="hold_toxicity")
    stop = at(120, "stopped", "0", reason="withdrawal")
    restart = at(200, dose="5", reason="start")
    steps = [stop, taper, start, hold2, up, restart, hold, restart_lower]
    assert reductions(steps) == [restart_lower, taper, stop]


def test_reductions_empty_and_single() -> None:
    assert reductions([]) == []
    assert reductions([at(0)]) == []


# --------------------------------------------------------------------------- local_date


@pytest.mark.parametrize(
    ("moment", "tz", "expected"),
    [
        (datetime(2026, 3, 8, 3, 30, tzinfo=UTC), "America/New_York", date(2026, 3, 7)),
        (datetime(2026, 3, 8, 5, 0, tzinfo=UTC), "America/New_York", date(2026, 3, 8)),
        (datetime(2026, 10, 24, 22, 30, tzinfo=UTC), "Europe/Madrid", date(2026, 10, 25)),
        (datetime(2026, 10, 24, 21, 59, tzinfo=UTC), "Europe/Madrid", date(2026, 10, 24)),
        (datetime(2026, 1, 1, 23, 0, tzinfo=UTC), "Pacific/Kiritimati", date(2026, 1, 2)),
    ],
)
def test_local_date(moment: datetime, tz: str, expected: date) -> None:
    assert local_date(moment, tz) == expected


def test_local_date_requires_aware_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        local_date(datetime(2026, 1, 1, 12, 0), "UTC")


def test_doses_between_matches_dose_on_for_every_day() -> None:
    from datetime import date as _date
    from datetime import timedelta as _td
    from decimal import Decimal as _D

    from tracker.schedules import Step as _Step
    from tracker.schedules import dose_on as _dose_on
    from tracker.schedules import doses_between as _doses_between

    steps = [
        _Step(_date(2026, 1, 1), _D("10"), "daily"),
        _Step(_date(2026, 1, 20), _D("5"), "alternate_days"),
        _Step(_date(2026, 2, 3), _D("5"), "weekdays", weekdays=(0, 2, 4)),
        _Step(_date(2026, 2, 20), _D("10"), "cycle", cycle_days_on=21, cycle_length=28),
        _Step(_date(2026, 3, 30), _D("0"), "hold"),
        _Step(_date(2026, 4, 5), _D("0"), "stopped"),
    ]
    start, end = _date(2025, 12, 25), _date(2026, 4, 10)
    days = [start + _td(days=n) for n in range((end - start).days + 1)]
    assert _doses_between(steps, start, end) == [_dose_on(steps, d) for d in days]
