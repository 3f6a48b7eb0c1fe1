"""possible_relapse: response gate, criteria at their thresholds, watch window, episode keys."""

from __future__ import annotations

import pytest

from tracker.detection.findings import Finding
from tracker.detection.relapse import possible_relapse
from tracker.detection.thresholds import Thresholds

from .test_detection_timeline import DEFAULTS, TL, assert_json, day, only

TAPER = 70  # 5 mg daily -> 5 mg alternate days


def responder() -> TL:
    """CR at week 6, taper at day 70; steady check-ins with itch 1 as the nadir."""
    tl = TL().step(0, "5").clasi(0, 12).clasi(42, 0)
    for n in (7, 14, 21, 28, 35, 42, 49, 56, 63):
        tl.check_in(n, itch=1 if n >= 42 else 5, pain=0, global_activity=1)
    return tl.step(TAPER, "5", "alternate_days", reason="taper")


def run(tl: TL, today: int, thresholds: Thresholds = DEFAULTS) -> list[Finding]:
    return possible_relapse(tl.build(), day(today), thresholds)


def test_new_lesions_inside_watch_window_are_urgent_and_name_the_taper() -> None:
    f = only(run(responder().check_in(91, new_lesions=True, lesion_areas=["arms"]), 91))
    assert f.severity == "urgent"
    assert f.episode_key == f"relapse:{day(TAPER)}"
    assert f.summary == (
        "Possible relapse 3 weeks after taper to 5 mg alternate days: new lesions on arms"
    )
    ev = f.evidence
    assert ev["days_since_reduction"] == 21
    assert ev["in_taper_watch_window"] is True
    assert ev["reduction"]["starts_on"] == "2024-03-11"
    assert ev["reduction"]["dose_mg"] == "5"
    assert ev["reduction"]["pattern"] == "alternate_days"
    assert ev["reduction"]["weekly_dose_mg"] == "17.5"
    assert ev["reduction"]["previous_weekly_dose_mg"] == "35"
    assert ev["reduction"]["reason"] == "taper"
    assert ev["anchor"] == {
        "kind": "reduction",
        "date": "2024-03-11",
        "clasi_id": None,
        "step_id": ev["reduction"]["step_id"],
    }
    assert ev["complete_response"]["assessed_on"] == str(day(42))
    assert ev["triggers"][0]["criterion"] == "new_lesions"
    assert ev["triggers"][0]["lesion_areas"] == ["arms"]
    assert ev["thresholds"]["taper_watch_days"] == 56
    assert_json(f)


@pytest.mark.parametrize(("offset", "severity"), [(1, "urgent"), (56, "urgent"), (57, "warning")])
def test_watch_window_edge(offset: int, severity: str) -> None:
    n = TAPER + offset
    f = only(run(responder().check_in(n, new_lesions=True), n))
    assert f.severity == severity
    assert f.evidence["days_since_reduction"] == offset
    assert f.evidence["in_taper_watch_window"] is (severity == "urgent")


def test_severity_follows_the_trigger_date_not_the_sweep_date() -> None:
    tl = responder().check_in(TAPER + 50, new_lesions=True)
    assert only(run(tl, TAPER + 80)).severity == "urgent"


def test_custom_watch_window() -> None:
    tl = responder().check_in(TAPER + 30, new_lesions=True)
    thresholds = Thresholds.from_overrides({"taper_watch_days": 28})
    assert only(run(tl, TAPER + 30, thresholds)).severity == "warning"


def test_silent_before_any_response() -> None:
    tl = TL().step(0, "5").clasi(0, 12).clasi(28, 6).check_in(30, new_lesions=True, itch=9)
    assert run(tl, 30) == []


def test_toxicity_reduction_before_response_does_not_open_the_gate() -> None:
    tl = TL().step(0, "10").clasi(0, 12).step(20, "5", reason="hold_toxicity")
    assert run(tl.check_in(30, new_lesions=True), 30) == []


def test_taper_without_recorded_cr_still_counts_as_response() -> None:
    tl = TL().step(0, "10").clasi(0, 12).clasi(40, 2).step(50, "5", reason="taper")
    f = only(run(tl.check_in(60, new_lesions=True), 60))
    assert f.severity == "urgent"
    assert f.evidence["complete_response"] is None
    assert f.episode_key == f"relapse:{day(50)}"


def test_after_cr_without_reduction_is_a_warning_keyed_by_cr() -> None:
    tl = TL().step(0, "5").clasi(0, 12).clasi(42, 0).check_in(50, new_lesions=True)
    f = only(run(tl, 50))
    assert f.severity == "warning"
    assert f.episode_key == f"relapse:{day(42)}"
    assert f.evidence["reduction"] is None
    assert f.evidence["days_since_reduction"] is None
    assert f.summary == "Possible relapse after complete response: new lesions"


def test_data_on_the_anchor_date_belongs_to_the_decision() -> None:
    assert run(responder().check_in(TAPER, new_lesions=True), TAPER) == []


def test_only_the_latest_check_in_counts() -> None:
    tl = responder().check_in(77, new_lesions=True).check_in(84)
    assert run(tl, 84) == []


def test_hold_is_not_a_reduction() -> None:
    tl = TL().step(0, "5").clasi(0, 12).clasi(42, 0).step(60, "5", "hold", reason="hold_toxicity")
    f = only(run(tl.check_in(70, new_lesions=True), 70))
    assert f.severity == "warning"
    assert f.episode_key == f"relapse:{day(42)}"


def test_withdrawal_is_urgent_and_named() -> None:
    tl = TL().step(0, "5").clasi(0, 12).clasi(42, 0).step(90, "0", "stopped", reason="withdrawal")
    f = only(run(tl.check_in(100, mouth_ulcers=True), 100))
    assert f.severity == "urgent"
    assert f.summary == "Possible relapse 10 days after stopping lenalidomide: new mouth ulcers"


# --------------------------------------------------------------------------- check-in scores


@pytest.mark.parametrize(
    ("first", "second", "fires"),
    [
        (3, 3, True),  # nadir 1 + rise 2, on both
        (4, 5, True),
        (2, 3, False),  # first is only nadir + 1
        (3, 2, False),
        (2, 2, False),
    ],
)
def test_score_rise_on_two_consecutive_check_ins(first: int, second: int, fires: bool) -> None:
    tl = responder().check_in(77, itch=first).check_in(84, itch=second)
    findings = run(tl, 84)
    assert bool(findings) is fires
    if fires:
        trigger = findings[0].evidence["triggers"][0]
        assert trigger["criterion"] == "itch_rise"
        assert trigger["nadir"] == 1
        assert trigger["values"] == [first, second]
        assert "itch" in findings[0].summary
        assert "2 check-ins in a row" in findings[0].summary


def test_score_rise_needs_both_check_ins_after_the_anchor() -> None:
    tl = responder().check_in(TAPER, itch=4).check_in(77, itch=4)
    assert run(tl, 77) == []
    assert only(run(tl.check_in(84, itch=4), 84)).severity == "urgent"


def test_score_rise_on_global_activity_and_pain() -> None:
    tl = responder().check_in(77, pain=2, global_activity=3).check_in(84, pain=2, global_activity=3)
    f = only(run(tl, 84))
    assert [t["criterion"] for t in f.evidence["triggers"]] == [
        "pain_rise",
        "global_activity_rise",
    ]


def test_score_rise_threshold_override() -> None:
    tl = responder().check_in(77, itch=2).check_in(84, itch=2)
    assert run(tl, 84) == []
    assert run(tl, 84, Thresholds.from_overrides({"relapse_score_rise": 1}))


# --------------------------------------------------------------------------- hair loss, ulcers


@pytest.mark.parametrize("sign", ["hair_loss", "mouth_ulcers"])
def test_new_hair_loss_or_mouth_ulcers(sign: str) -> None:
    assert (
        only(run(responder().check_in(77, **{sign: True}), 77)).evidence["triggers"][0]["criterion"]
        == f"new_{sign}"
    )


@pytest.mark.parametrize("sign", ["hair_loss", "mouth_ulcers"])
def test_persisting_hair_loss_or_mouth_ulcers_is_not_new(sign: str) -> None:
    tl = responder().check_in(TAPER, **{sign: True}).check_in(77, **{sign: True})
    assert run(tl, 77) == []


# --------------------------------------------------------------------------- CLASI


def test_clasi_above_zero_after_cr_is_loss_of_cr() -> None:
    f = only(run(responder().clasi(84, 1), 84))
    trigger = f.evidence["triggers"][0]
    assert trigger["criterion"] == "clasi_rise"
    assert trigger["loss_of_complete_response"] is True
    assert "CLASI activity 1 after complete response" in f.summary
    assert run(responder().clasi(84, 0), 84) == []


@pytest.mark.parametrize(
    ("nadir", "latest", "fires"),
    [
        (10, 12, True),  # exactly 20%
        (10, 11, False),  # 10%
        (30, 34, True),  # exactly 4 points (13%)
        (30, 33, False),  # 3 points, 10%
        (5, 6, True),  # 1 point is 20% of a low nadir
        (5, 5, False),
    ],
)
def test_clasi_rise_above_nadir(nadir: int, latest: int, fires: bool) -> None:
    tl = TL().step(0, "10").clasi(0, 40).clasi(40, nadir).step(50, "5", reason="taper")
    findings = run(tl.clasi(60, latest), 60)
    assert bool(findings) is fires
    if fires:
        trigger = findings[0].evidence["triggers"][0]
        assert trigger["nadir"] == nadir
        assert trigger["rise"] == latest - nadir


# --------------------------------------------------------------------------- episode keys


def test_key_is_stable_across_evaluations_and_unrelated_data() -> None:
    tl = responder().check_in(77, new_lesions=True)
    first = run(tl, 77)
    assert run(tl, 77) == first
    tl.lab(80, "anc", "2.5").dose(80)
    later = run(tl, 82)
    assert [f.episode_key for f in later] == [first[0].episode_key]


def test_more_evidence_in_the_same_episode_keeps_the_key() -> None:
    tl = responder().check_in(77, new_lesions=True).check_in(84, new_lesions=True).clasi(85, 3)
    f = only(run(tl, 85))
    assert f.episode_key == f"relapse:{day(TAPER)}"
    assert [t["criterion"] for t in f.evidence["triggers"]] == ["new_lesions", "clasi_rise"]


def test_a_further_taper_opens_a_new_episode() -> None:
    tl = responder().step(100, "5", "weekdays", reason="taper", weekdays=(0, 2, 4))
    f = only(run(tl.check_in(110, new_lesions=True), 110))
    assert f.episode_key == f"relapse:{day(100)}"
    assert "taper to 5 mg on Mon, Wed, Fri" in f.summary


def test_a_new_cr_after_relapse_opens_a_new_episode() -> None:
    tl = responder().clasi(84, 4).step(85, "5", reason="escalation").clasi(120, 0).clasi(150, 2)
    f = only(run(tl, 150))
    assert f.episode_key == f"relapse:{day(120)}"
    assert f.evidence["anchor"]["kind"] == "complete_response"
    assert f.severity == "warning"  # the last reduction was 80 days before
