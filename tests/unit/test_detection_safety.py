"""pregnancy_risk and monitoring_due."""

from __future__ import annotations

import pytest

from tracker.detection.findings import Finding
from tracker.detection.safety import monitoring_due, pregnancy_risk
from tracker.detection.thresholds import Thresholds

from .test_detection_timeline import DEFAULTS, TL, assert_json, day, only


def fcrp(**kw: bool) -> TL:
    """A female patient of reproductive potential on 5 mg daily from day 0."""
    return TL(reproductive_potential=True, **kw).step(0, "5")


def preg(tl: TL, today: int, thresholds: Thresholds = DEFAULTS) -> list[Finding]:
    return pregnancy_risk(tl.build(), day(today), thresholds)


def kinds(findings: list[Finding]) -> list[str]:
    return [f.evidence["kind"] for f in findings]


# --------------------------------------------------------------------------- pregnancy_risk


@pytest.mark.parametrize(("sex", "potential"), [("male", False), ("male", True), ("female", False)])
def test_pregnancy_rule_only_for_females_of_reproductive_potential(
    sex: str, potential: bool
) -> None:
    tl = TL(sex=sex, reproductive_potential=potential).step(0, "5")
    tl.lab(3, "pregnancy_hcg", result="positive").check_in(3, missed_period=True)
    assert preg(tl, 60) == []


def test_positive_test_is_urgent_and_keyed_by_lab() -> None:
    tl = (
        fcrp().lab(0, "pregnancy_hcg", result="negative").lab(5, "pregnancy_hcg", result="positive")
    )
    f = only(preg(tl, 5))
    assert f.severity == "urgent"
    assert f.episode_key == f"pregnancy:positive:{tl.last_id()}"
    assert f.summary.startswith("Positive pregnancy test on 2024-01-06")
    assert_json(f)


def test_positive_followed_by_negative_no_longer_fires() -> None:
    tl = (
        fcrp().lab(5, "pregnancy_hcg", result="positive").lab(6, "pregnancy_hcg", result="negative")
    )
    assert preg(tl, 6) == []


def test_missed_period_is_urgent_until_a_test_on_or_after_it() -> None:
    tl = fcrp().lab(0, "pregnancy_hcg", result="negative").check_in(5, missed_period=True)
    report_id = tl.last_id()
    f = only(preg(tl, 5))
    assert (f.severity, f.episode_key) == ("urgent", f"pregnancy:missed_period:{report_id}")
    assert f.evidence["last_test"]["date"] == str(day(0))
    tl.lab(5, "pregnancy_hcg", result="negative")
    assert preg(tl, 5) == []


def test_missed_period_key_is_stable_over_days() -> None:
    tl = fcrp().lab(0, "pregnancy_hcg", result="negative").check_in(5, missed_period=True)
    keys5 = [f.episode_key for f in preg(tl, 5)]
    tl.check_in(6)
    assert [f.episode_key for f in preg(tl, 6)] == keys5


@pytest.mark.parametrize(
    ("tests", "irregular", "due"),
    [
        ((0, 7), False, 14),  # weekly in the first 4 weeks
        ((27,), False, 34),  # day 27 is still in the first 4 weeks
        ((28,), False, 56),  # then every 28 days
        ((28,), True, 42),  # or every 14 with irregular cycles
        ((-3,), False, 4),  # a test before the first dose counts
        ((), False, 0),  # no test at all: due at the start
    ],
)
def test_pregnancy_test_overdue_edge(tests: tuple[int, ...], irregular: bool, due: int) -> None:
    tl = fcrp(irregular_cycles=irregular)
    for n in tests:
        tl.lab(n, "pregnancy_hcg", result="negative")
    assert preg(tl, due) == []
    f = only(preg(tl, due + 1))
    assert f.severity == "warning"
    assert f.episode_key == f"pregnancy:overdue:{day(due)}"
    assert f.evidence["days_overdue"] == 1
    assert f.evidence["due_on"] == str(day(due))
    assert only(preg(tl, due + 9)).episode_key == f.episode_key
    assert_json(f)


def test_overdue_is_not_reported_over_a_positive_test() -> None:
    tl = fcrp().lab(28, "pregnancy_hcg", result="positive")
    assert kinds(preg(tl, 80)) == ["positive_test"]


def test_no_overdue_before_treatment_or_long_after_stopping() -> None:
    assert preg(TL(reproductive_potential=True, start=None), 100) == []
    tl = fcrp().lab(90, "pregnancy_hcg", result="negative").step(100, "0", "stopped")
    assert kinds(preg(tl, 128)) == ["overdue"]  # due day 118, still inside 28 days of the stop
    assert preg(tl, 129) == []


def test_pregnancy_test_pending_result_is_ignored() -> None:
    tl = fcrp().lab(28, "pregnancy_hcg", result="negative").lab(40, "pregnancy_hcg")
    assert only(preg(tl, 57)).evidence["last_test"]["date"] == str(day(28))


# --------------------------------------------------------------------------- monitoring_due


def due(tl: TL, today: int, thresholds: Thresholds = DEFAULTS) -> dict[str, Finding]:
    return {f.evidence["kind"]: f for f in monitoring_due(tl.build(), day(today), thresholds)}


def with_check_ins(tl: TL, last: int) -> TL:
    for n in range(0, last + 1, 7):
        tl.check_in(n)
    return tl


@pytest.mark.parametrize(
    ("last_count", "today", "overdue"),
    [
        (14, 21, False),  # 7 days in the first 8 weeks: on time
        (14, 22, True),
        (60, 95, False),  # after week 8: 35 days
        (60, 96, True),
        (None, 7, False),  # none at all: due 7 days after the start
        (None, 8, True),
    ],
)
def test_blood_count_due(last_count: int | None, today: int, overdue: bool) -> None:
    tl = with_check_ins(TL().step(0, "5"), today)
    if last_count is not None:
        tl.lab(last_count, "anc", "2.0")
    found = due(tl, today)
    assert ("cbc" in found) is overdue
    if overdue:
        f = found["cbc"]
        assert f.severity == "info"
        assert f.evidence["days_overdue"] == 1
        assert f.episode_key == f"monitoring:cbc:{day(today - 1)}"
        assert_json(f)


def test_wbc_and_platelets_count_as_blood_counts_but_hemoglobin_does_not() -> None:
    tl = with_check_ins(TL().step(0, "5"), 20)
    assert "cbc" not in due(tl.lab(15, "wbc", "5.0"), 20)
    tl2 = with_check_ins(TL().step(0, "5"), 20).lab(15, "hemoglobin", "13")
    assert "cbc" in due(tl2, 20)
    tl3 = with_check_ins(TL().step(0, "5"), 20).lab(15, "platelets", "200")
    assert "cbc" not in due(tl3, 20)


def test_blood_count_key_is_stable_while_overdue() -> None:
    tl = with_check_ins(TL().step(0, "5"), 100).lab(60, "anc", "2.0")
    assert due(tl, 96)["cbc"].episode_key == due(tl, 100)["cbc"].episode_key


def test_no_blood_count_reminder_after_withdrawal() -> None:
    tl = with_check_ins(TL().step(0, "5").step(50, "0", "stopped", reason="withdrawal"), 100)
    assert "cbc" not in due(tl, 100)


@pytest.mark.parametrize(("today", "overdue"), [(40, False), (41, True)])
def test_check_in_gap(today: int, overdue: bool) -> None:
    tl = TL().step(0, "5").lab(today, "anc", "2").check_in(30)
    found = due(tl, today)
    assert ("checkin" in found) is overdue
    if overdue:
        assert found["checkin"].episode_key == f"monitoring:checkin:{day(40)}"
        assert found["checkin"].evidence["interval_days"] == 10


@pytest.mark.parametrize(("today", "overdue"), [(37, False), (38, True)])
def test_check_in_gap_is_shorter_inside_the_taper_watch_window(today: int, overdue: bool) -> None:
    tl = TL().step(0, "10").step(25, "5", reason="taper").lab(today, "anc", "2").check_in(30)
    found = due(tl, today)
    assert ("checkin" in found) is overdue
    if overdue:
        assert found["checkin"].evidence["in_taper_watch_window"] is True
        assert "after a dose reduction" in found["checkin"].summary


def test_nothing_is_due_before_treatment_starts() -> None:
    assert due(TL(start=None), 50) == {}
