from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from tracker.adherence import AdherenceSummary, DayAdherence, LoggedDose, adherence
from tracker.schedules import ExpectedDay, Step, expand

D = Decimal
START = date(2026, 3, 2)  # a Monday


def day(n: int) -> date:
    return START + timedelta(days=n)


def daily(n_days: int, dose: str = "5") -> list[ExpectedDay]:
    steps = [Step(starts_on=START, dose_mg=D(dose), pattern="daily")]
    return expand(steps, START, day(n_days - 1), "Europe/Madrid")


def alternate(n_days: int, dose: str = "5") -> list[ExpectedDay]:
    steps = [Step(starts_on=START, dose_mg=D(dose), pattern="alternate_days")]
    return expand(steps, START, day(n_days - 1), "Europe/Madrid")


def taken(n: int, mg: str | None = "5") -> LoggedDose:
    return LoggedDose(day=day(n), status="taken", dose_mg=None if mg is None else D(mg))


def missed(n: int) -> LoggedDose:
    return LoggedDose(day=day(n), status="missed", dose_mg=None)


def skipped(n: int) -> LoggedDose:
    return LoggedDose(day=day(n), status="skipped", dose_mg=None)


def states(days: list[DayAdherence]) -> list[str]:
    return [d.state for d in days]


def test_all_taken() -> None:
    days, summary = adherence(daily(7), [taken(n) for n in range(7)])
    assert states(days) == ["taken"] * 7
    assert summary == AdherenceSummary(
        expected_doses=7,
        taken=7,
        missed=0,
        skipped=0,
        not_logged=0,
        extra_doses=0,
        above_prescribed=0,
        share_taken=D("1.000"),
        longest_missed_streak=0,
        current_missed_streak=0,
    )


def test_each_state_on_dose_days() -> None:
    days, summary = adherence(daily(4), [taken(0), missed(1), skipped(2)])
    assert states(days) == ["taken", "missed", "skipped", "not_logged"]
    assert (summary.taken, summary.missed, summary.skipped, summary.not_logged) == (1, 1, 1, 1)
    assert summary.expected_doses == 4
    assert summary.share_taken == D("0.250")


def test_off_days_extra_and_no_dose() -> None:
    # Alternate days: dose on 0, 2, 4; off on 1, 3, 5.
    logs = [taken(0), taken(1), missed(3), skipped(5), taken(2), taken(4)]
    days, summary = adherence(alternate(6), logs)
    assert states(days) == ["taken", "extra", "taken", "no_dose", "taken", "no_dose"]
    assert summary.extra_doses == 1
    assert summary.expected_doses == 3
    assert summary.share_taken == D("1.000")
    assert days[1].is_dose_day is False
    assert days[1].expected_mg == 0
    assert days[1].logged_mg == D("5")
    assert days[1].above_prescribed is False


def test_above_prescribed() -> None:
    logs = [taken(0, "10"), taken(1, "5"), taken(2, "2.5"), taken(3, None)]
    days, summary = adherence(daily(4), logs)
    assert [d.above_prescribed for d in days] == [True, False, False, False]
    assert summary.above_prescribed == 1
    assert summary.taken == 4
    assert days[3].logged_mg is None


def test_latest_log_for_a_day_wins() -> None:
    days, _ = adherence(daily(2), [missed(0), taken(0), taken(1), skipped(1)])
    assert states(days) == ["taken", "skipped"]


def test_logs_outside_range_are_ignored() -> None:
    days, summary = adherence(daily(2), [taken(-1), taken(0), taken(1), taken(5)])
    assert states(days) == ["taken", "taken"]
    assert summary.extra_doses == 0


def test_upcoming_days_are_excluded() -> None:
    days, summary = adherence(daily(7), [taken(0), missed(1), taken(5)], today=day(2))
    assert states(days) == ["taken", "missed", "not_logged"] + ["upcoming"] * 4
    assert summary.expected_doses == 3
    assert summary.share_taken == D("0.333")
    assert summary.taken == 1
    assert days[5].logged_mg == D("5")  # shown, not counted
    assert summary.current_missed_streak == 2


def test_today_before_range_makes_everything_upcoming() -> None:
    days, summary = adherence(daily(3), [], today=day(-1))
    assert states(days) == ["upcoming"] * 3
    assert summary.expected_doses == 0
    assert summary.share_taken is None
    assert summary.current_missed_streak == 0


def test_no_expected_doses() -> None:
    steps = [Step(starts_on=START, dose_mg=D("0"), pattern="hold")]
    days, summary = adherence(expand(steps, START, day(6), "UTC"), [taken(2)])
    assert states(days) == [
        "no_dose",
        "no_dose",
        "extra",
        "no_dose",
        "no_dose",
        "no_dose",
        "no_dose",
    ]
    assert summary.share_taken is None
    assert summary.extra_doses == 1
    _, empty = adherence([], [])
    assert empty.expected_doses == 0
    assert empty.share_taken is None


@pytest.mark.parametrize(
    ("n_taken", "n_days", "share"),
    [(1, 3, "0.333"), (2, 3, "0.667"), (11, 14, "0.786"), (12, 15, "0.800"), (0, 5, "0.000")],
)
def test_share_precision(n_taken: int, n_days: int, share: str) -> None:
    _, summary = adherence(daily(n_days), [taken(n) for n in range(n_taken)])
    assert summary.share_taken == D(share)
    assert summary.share_taken is not None
    assert summary.share_taken.as_tuple().exponent == -3


def test_rounding_is_half_up() -> None:
    # 1/16 = 0.0625: half-up gives 0.063 where banker's rounding would give 0.062.
    _, summary = adherence(daily(16), [taken(0)])
    assert summary.share_taken == D("0.063")


# --------------------------------------------------------------------------- streaks


def test_streak_counts_missed_not_logged_and_skipped() -> None:
    # T M - S T M M
    logs = [taken(0), missed(1), skipped(3), taken(4), missed(5), missed(6)]
    days, summary = adherence(daily(7), logs)
    assert states(days) == ["taken", "missed", "not_logged", "skipped", "taken", "missed", "missed"]
    assert summary.longest_missed_streak == 3
    assert summary.current_missed_streak == 2


def test_taken_breaks_streak() -> None:
    logs = [missed(0), missed(1), taken(2), missed(3)]
    _, summary = adherence(daily(4), logs)
    assert summary.longest_missed_streak == 2
    assert summary.current_missed_streak == 1


def test_streak_ends_with_taken_dose_gives_zero_current() -> None:
    _, summary = adherence(daily(4), [missed(0), missed(1), missed(2), taken(3)])
    assert summary.longest_missed_streak == 3
    assert summary.current_missed_streak == 0


def test_off_days_do_not_break_streaks() -> None:
    # Alternate days: dose days 0, 2, 4, 6 all missed; off-days 1, 3, 5 in between.
    days, summary = adherence(alternate(7), [missed(0), missed(4)])
    assert states(days) == [
        "missed",
        "no_dose",
        "not_logged",
        "no_dose",
        "missed",
        "no_dose",
        "not_logged",
    ]
    assert summary.longest_missed_streak == 4
    assert summary.current_missed_streak == 4


def test_extra_dose_on_off_day_does_not_break_streak() -> None:
    _, summary = adherence(alternate(5), [missed(0), taken(1), missed(2), missed(4)])
    assert summary.longest_missed_streak == 3
    assert summary.extra_doses == 1


def test_current_streak_ignores_trailing_off_days_and_upcoming() -> None:
    # Dose days 0, 2, 4, 6; today is day 5, an off-day, so day 6 is upcoming.
    _, summary = adherence(alternate(7), [taken(0), missed(2)], today=day(5))
    assert summary.current_missed_streak == 2  # day 2 missed, day 4 not logged
    assert summary.longest_missed_streak == 2


def test_three_consecutive_missed_doses_threshold() -> None:
    for n_missed, expected in [(2, 2), (3, 3)]:
        logs = [taken(0)] + [missed(1 + k) for k in range(n_missed)]
        _, summary = adherence(daily(1 + n_missed), logs)
        assert summary.current_missed_streak == expected


def test_streak_across_taper_steps() -> None:
    steps = [
        Step(starts_on=START, dose_mg=D("10"), pattern="daily"),
        Step(starts_on=day(3), dose_mg=D("5"), pattern="alternate_days", reason="taper"),
    ]
    expected = expand(steps, START, day(8), "America/New_York")  # crosses 2026-03-08 DST
    logs = [taken(0, "10"), taken(1, "10"), missed(2), taken(4, "5"), taken(3, "10")]
    days, summary = adherence(expected, logs)
    assert states(days) == [
        "taken",
        "taken",
        "missed",
        "taken",  # 10 mg on the first day of the 5 mg step
        "extra",
        "not_logged",
        "no_dose",
        "not_logged",
        "no_dose",
    ]
    assert days[3].above_prescribed is True
    assert summary.above_prescribed == 1
    assert summary.extra_doses == 1
    assert summary.expected_doses == 6
    assert summary.current_missed_streak == 2
    assert summary.longest_missed_streak == 2


# --------------------------------------------------------------------------- inputs


def test_expected_order_does_not_matter() -> None:
    expected = daily(3)
    forward, s1 = adherence(expected, [taken(0)])
    backward, s2 = adherence(list(reversed(expected)), [taken(0)])
    assert forward == backward
    assert s1 == s2


def test_duplicate_expected_day_rejected() -> None:
    expected = daily(2)
    with pytest.raises(ValueError, match="Two expected"):
        adherence([*expected, expected[0]], [])


def test_unknown_log_status_rejected() -> None:
    with pytest.raises(ValueError, match="status"):
        adherence(daily(1), [LoggedDose(day=START, status="late", dose_mg=None)])


def test_results_are_frozen() -> None:
    days, summary = adherence(daily(1), [])
    with pytest.raises(AttributeError):
        days[0].state = "taken"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        summary.taken = 1  # type: ignore[misc]
