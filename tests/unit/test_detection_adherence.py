"""adherence: low share taken, streak of doses not taken, extra doses."""

from __future__ import annotations

import pytest

from tracker.detection.adherence_rule import adherence, day_states
from tracker.detection.findings import Finding
from tracker.detection.thresholds import Thresholds

from .test_detection_timeline import DEFAULTS, TL, assert_json, day, only


def run(tl: TL, today: int, thresholds: Thresholds = DEFAULTS) -> dict[str, Finding]:
    return {f.evidence["kind"]: f for f in adherence(tl.build(), day(today), thresholds)}


def weekdays_patient() -> TL:
    """5 mg Monday to Friday: 10 dose days in the first 14 days (day 0 is a Monday)."""
    return TL().step(0, "5", "weekdays", weekdays=(0, 1, 2, 3, 4))


def test_day_states() -> None:
    tl = TL().step(0, "5", "alternate_days").dose(0).dose(1).dose(2, "missed").dose(6, "skipped")
    states = [d.state for d in day_states(tl.build(), day(8))]
    assert states == [
        "taken",
        "extra",
        "missed",
        "no_dose",
        "not_logged",
        "no_dose",
        "skipped",
        "no_dose",
        "upcoming",
    ]


@pytest.mark.parametrize(("taken", "fires"), [(10, False), (8, False), (7, True)])
def test_low_share_threshold(taken: int, fires: bool) -> None:
    tl = weekdays_patient()
    dose_days = [n for n in range(14) if day(n).weekday() < 5]
    for n in dose_days[:taken]:
        tl.dose(n)
    for n in dose_days[taken:]:
        tl.dose(n, "missed")
    found = run(tl, 13)
    assert ("low_share" in found) is fires
    if fires:
        f = found["low_share"]
        assert f.severity == "info"
        assert (f.evidence["taken"], f.evidence["expected"]) == (7, 10)
        assert f.summary == "Only 7 of 10 expected doses logged as taken in the last 14 days (70%)"
        assert_json(f)


def test_skipped_and_not_logged_doses_lower_the_share() -> None:
    tl = TL().step(0, "5").doses_taken(0, 9).dose(10, "skipped").dose(11, "skipped")
    tl.dose(12, "skipped")
    f = run(tl, 13)["low_share"]  # day 13 not logged yet: 10 of 13
    assert (f.evidence["taken"], f.evidence["expected"]) == (10, 13)


def test_todays_dose_counts_only_once_logged() -> None:
    tl = TL().step(0, "5").doses_taken(0, 12)
    assert run(tl, 13) == {}


def test_low_share_key_does_not_slide_with_the_window() -> None:
    tl = TL().step(0, "5").doses_taken(0, 19)
    for n in range(20, 24):
        tl.dose(n, "missed")
    keys = {run(tl, today)["low_share"].episode_key for today in (23, 24, 25, 26)}
    assert len(keys) == 1
    assert keys.pop().startswith("adherence:low_share:")


@pytest.mark.parametrize(("missed", "fires"), [(2, False), (3, True)])
def test_missed_streak(missed: int, fires: bool) -> None:
    tl = TL().step(0, "5").doses_taken(0, 19)
    for n in range(20, 20 + missed):
        tl.dose(n, "missed")
    found = run(tl, 20 + missed)  # today's dose not logged yet: not part of the streak
    assert ("missed_streak" in found) is fires
    if fires:
        f = found["missed_streak"]
        assert f.episode_key == f"adherence:missed_streak:{day(20)}"
        assert f.summary == "3 doses in a row not taken since 2024-01-21 (3 missed)"


def test_streak_counts_not_logged_and_skips_off_days() -> None:
    tl = TL().step(0, "5", "alternate_days").dose(0).dose(2, "missed").dose(6, "skipped")
    f = run(tl, 7)["missed_streak"]  # dose days 2 (missed), 4 (not logged), 6 (skipped)
    assert f.evidence["streak_length"] == 3
    assert [d["state"] for d in f.evidence["days"]] == ["missed", "not_logged", "skipped"]
    assert f.summary.endswith("(1 missed, 1 skipped, 1 not logged)")


def test_streak_ends_with_a_taken_dose_and_key_is_stable_while_it_grows() -> None:
    tl = TL().step(0, "5").dose(0).dose(1, "missed").dose(2, "missed").dose(3, "missed")
    key = run(tl, 4)["missed_streak"].episode_key
    tl.dose(4, "missed")
    assert run(tl, 5)["missed_streak"].episode_key == key
    tl.dose(5)
    assert "missed_streak" not in run(tl, 6)


def test_extra_dose_on_an_off_day_is_a_warning() -> None:
    tl = TL().step(0, "5", "alternate_days").dose(0).dose(1, dose_mg="5").dose(2)
    f = run(tl, 2)["extra"]
    assert f.severity == "warning"
    assert f.episode_key == f"adherence:extra:{day(1)}"
    assert f.summary == (
        "Extra lenalidomide: 5 mg taken on 2024-01-02 on a day without a prescribed dose"
    )
    assert f.evidence["days"][0]["reason"] == "off_day"
    assert_json(f)


@pytest.mark.parametrize(("dose_mg", "fires"), [("5", False), ("10", True), (None, False)])
def test_dose_above_prescribed(dose_mg: str | None, fires: bool) -> None:
    tl = TL().step(0, "10").step(30, "5", reason="taper").dose(31, dose_mg=dose_mg)
    assert ("extra" in run(tl, 31)) is fires


def test_two_taken_logs_on_one_day_add_up() -> None:
    tl = TL().step(0, "5").dose(3).dose(3)
    f = run(tl, 3)["extra"]
    assert f.evidence["days"][0] | {"dose_log_ids": []} == {
        "day": str(day(3)),
        "reason": "above_prescribed",
        "expected_mg": "5",
        "taken_mg": "10",
        "dose_log_ids": [],
    }


def test_dose_taken_during_a_hold_is_extra() -> None:
    tl = TL().step(0, "5").step(10, "5", "hold", reason="hold_toxicity").dose(12)
    assert "extra" in run(tl, 12)


def test_extra_doses_within_a_window_share_one_episode() -> None:
    tl = TL().step(0, "5", "alternate_days").dose(1).dose(9)
    f = run(tl, 10)["extra"]
    assert f.episode_key == f"adherence:extra:{day(1)}"
    assert "2 extra doses in the last 14 days" in f.summary
    assert run(tl, 22)["extra"].episode_key == f.episode_key  # day 1 left the window
    assert "extra" not in run(tl, 23)
    tl.dose(41)
    assert run(tl, 41)["extra"].episode_key == f"adherence:extra:{day(41)}"


def test_days_before_treatment_start_are_ignored() -> None:
    tl = TL(start=None)
    assert run(tl, 30) == {}
    tl2 = TL().step(0, "5").dose(-2).doses_taken(0, 5)
    assert run(tl2, 6) == {}


def test_missed_streak_override() -> None:
    tl = TL().step(0, "5").doses_taken(0, 9).dose(10, "missed").dose(11, "missed")
    assert "missed_streak" not in run(tl, 12)
    assert (
        only(
            [
                f
                for f in adherence(tl.build(), day(12), Thresholds(missed_streak=2))
                if f.evidence["kind"] == "missed_streak"
            ]
        ).evidence["streak_length"]
        == 2
    )
