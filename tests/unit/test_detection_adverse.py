"""gi_intolerance, cytopenia, thrombosis_red_flag, insomnia, systemic_flare."""

from __future__ import annotations

from typing import Any

import pytest

from tracker.detection.adverse import (
    cytopenia,
    gi_intolerance,
    insomnia,
    systemic_flare,
    thrombosis_red_flag,
)
from tracker.detection.findings import Finding
from tracker.detection.thresholds import Thresholds

from .test_detection_timeline import DEFAULTS, TL, assert_json, day, only


def base() -> TL:
    return TL().step(0, "5")


# --------------------------------------------------------------------------- gi_intolerance


def gi(tl: TL, today: int) -> list[Finding]:
    return gi_intolerance(tl.build(), day(today), DEFAULTS)


def nausea(frequency: int, severity: int, grade: int | None = None) -> dict[str, Any]:
    return {"nausea": {"frequency": frequency, "severity": severity, "composite_grade": grade}}


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"nausea": {"frequency": 3, "severity": 1, "composite_grade": 1}}, "warning"),
        ({"vomiting": {"frequency": 1, "severity": 3, "composite_grade": 2}}, "warning"),
        ({"diarrhea": {"frequency": 3, "composite_grade": 2}}, "warning"),
        ({"abdominal_pain": {"frequency": 1, "severity": 1, "interference": 3}}, "warning"),
        ({"nausea": {"frequency": 2, "severity": 2, "composite_grade": 2}}, None),
        ({"diarrhea": {"frequency": 4, "composite_grade": 3}}, "urgent"),
        ({"nausea": {"frequency": 3, "severity": 3, "composite_grade": 3}}, "urgent"),
    ],
)
def test_gi_level_on_the_latest_check_in(answers: dict[str, Any], expected: str | None) -> None:
    findings = gi(base().check_in(7, answers), 7)
    assert (findings[0].severity if findings else None) == expected


def test_gi_composite_grade_is_computed_when_missing() -> None:
    f = only(gi(base().check_in(7, {"nausea": {"frequency": 3, "severity": 3}}), 7))
    assert f.severity == "urgent"
    assert f.evidence["urgent_reasons"] == ["composite_grade:nausea"]
    assert f.evidence["symptoms"][0]["composite_grade"] == 3


@pytest.mark.parametrize(("before", "after", "fires"), [(0, 2, True), (1, 2, False), (0, 1, False)])
def test_gi_rise_vs_previous_check_in(before: int, after: int, fires: bool) -> None:
    tl = base().check_in(7, nausea(before, 0)).check_in(14, nausea(after, 0))
    findings = gi(tl, 14)
    assert bool(findings) is fires
    if fires:
        f = only(findings)
        assert f.severity == "warning"
        assert f.evidence["rises"] == [
            {"term": "nausea", "attribute": "frequency", "previous": before, "value": after}
        ]
        assert f.summary == "Stomach or bowel side effects: nausea occasionally (was never)"


def test_gi_rise_needs_a_previous_check_in() -> None:
    assert gi(base().check_in(7, nausea(2, 2, 2)), 7) == []


def test_gi_level_on_two_consecutive_check_ins_is_urgent() -> None:
    tl = base().check_in(7, nausea(3, 1, 1)).check_in(14, nausea(3, 1, 1))
    f = only(gi(tl, 14))
    assert f.severity == "urgent"
    assert f.evidence["urgent_reasons"] == ["consecutive_check_ins"]
    assert f.episode_key == f"gi:{day(7)}"
    assert_json(f)


def test_gi_episode_key_follows_the_run() -> None:
    tl = base().check_in(7, nausea(3, 1, 1))
    assert only(gi(tl, 7)).episode_key == f"gi:{day(7)}"
    tl.check_in(14, nausea(4, 1, 1))
    assert only(gi(tl, 14)).episode_key == f"gi:{day(7)}"
    tl.lab(15, "anc", "2.0")
    assert only(gi(tl, 16)).episode_key == f"gi:{day(7)}"
    tl.check_in(21, nausea(1, 1, 1))
    assert gi(tl, 21) == []
    tl.check_in(28, nausea(3, 1, 1))
    assert only(gi(tl, 28)).episode_key == f"gi:{day(28)}"


def test_gi_threshold_override() -> None:
    tl = base().check_in(7, nausea(2, 1, 1))
    assert gi(tl, 7) == []
    overrides = Thresholds.from_overrides({"gi_attribute_level": 2})
    assert gi_intolerance(tl.build(), day(7), overrides)


# --------------------------------------------------------------------------- cytopenia


def cyto(tl: TL, today: int, thresholds: Thresholds = DEFAULTS) -> list[Finding]:
    return cytopenia(tl.build(), day(today), thresholds)


@pytest.mark.parametrize(
    ("test", "value", "expected"),
    [
        ("anc", "1.5", None),
        ("anc", "1.49", "warning"),
        ("anc", "1.0", "warning"),
        ("anc", "0.99", "urgent"),
        ("platelets", "75", None),
        ("platelets", "74", "warning"),
        ("platelets", "30", "warning"),
        ("platelets", "29", "urgent"),
    ],
)
def test_cytopenia_thresholds(test: str, value: str, expected: str | None) -> None:
    findings = cyto(base().lab(10, test, value), 10)
    assert (findings[0].severity if findings else None) == expected


def test_cytopenia_evidence_and_summary() -> None:
    f = only(cyto(base().lab(10, "anc", "1.2"), 12))
    assert f.episode_key == f"cytopenia:anc:{day(10)}"
    assert f.summary == "Low neutrophil count 1.2 x10^9/L (below 1.5) on 2024-01-11"
    assert f.evidence["value"] == "1.2"
    assert f.evidence["ctcae_grade"] == 2
    assert f.evidence["thresholds"] == {
        "anc_warning": "1.5",
        "anc_hold": "1.0",
        "febrile_window_days": 3,
    }
    assert_json(f)


def test_cytopenia_hold_summary() -> None:
    f = only(cyto(base().lab(10, "platelets", "20"), 10))
    assert f.summary.startswith("Low platelet count 20 x10^9/L, below 30 (level to hold")


def test_cytopenia_resolved_by_a_later_normal_count() -> None:
    assert cyto(base().lab(10, "anc", "1.2").lab(17, "anc", "2.0"), 17) == []


def test_cytopenia_run_key_survives_escalation_and_resets_after_recovery() -> None:
    tl = base().lab(10, "anc", "1.2").lab(17, "anc", "1.3")
    assert only(cyto(tl, 17)).episode_key == f"cytopenia:anc:{day(10)}"
    tl.lab(24, "anc", "0.8")
    f = only(cyto(tl, 24))
    assert (f.severity, f.episode_key) == ("urgent", f"cytopenia:anc:{day(10)}")
    assert len(f.evidence["run_lab_ids"]) == 3
    tl.lab(31, "anc", "1.8").lab(38, "anc", "1.4")
    assert only(cyto(tl, 38)).episode_key == f"cytopenia:anc:{day(38)}"


@pytest.mark.parametrize(
    ("fever_day", "febrile"), [(17, True), (23, True), (24, False), (16, False)]
)
def test_febrile_neutropenia_window(fever_day: int, febrile: bool) -> None:
    tl = base().lab(20, "anc", "0.8").check_in(fever_day, fever=True)
    f = only(cyto(tl, 24))
    assert f.severity == "urgent"
    assert bool(f.evidence["fever_check_in_ids"]) is febrile
    assert f.summary.startswith("Possible febrile neutropenia") is febrile


def test_fever_with_grade_2_neutropenia_stays_warning() -> None:
    f = only(cyto(base().lab(20, "anc", "1.2").check_in(21, fever=True), 21))
    assert f.severity == "warning"
    assert f.evidence["fever_check_in_ids"] == []


def test_both_counts_low_give_two_findings_and_wbc_is_ignored() -> None:
    tl = base().lab(10, "anc", "1.2").lab(10, "platelets", "60").lab(10, "wbc", "1.0")
    assert sorted(f.episode_key for f in cyto(tl, 10)) == [
        f"cytopenia:anc:{day(10)}",
        f"cytopenia:platelets:{day(10)}",
    ]


def test_cytopenia_threshold_override() -> None:
    tl = base().lab(10, "anc", "1.8")
    assert cyto(tl, 10) == []
    assert cyto(tl, 10, Thresholds.from_overrides({"anc_warning": "2.0"}))


# --------------------------------------------------------------------------- thrombosis


def clot(tl: TL, today: int) -> list[Finding]:
    return thrombosis_red_flag(tl.build(), day(today), DEFAULTS)


@pytest.mark.parametrize(("severity", "fires"), [(1, False), (2, True), (3, True)])
def test_swelling_severity(severity: int, fires: bool) -> None:
    tl = base().check_in(7, {"swelling": {"frequency": 1, "severity": severity, "interference": 0}})
    findings = clot(tl, 7)
    assert bool(findings) is fires
    if fires:
        f = only(findings)
        assert f.severity == "urgent"
        assert f.evidence["flags"][0]["flag"] == "swelling"


@pytest.mark.parametrize(
    ("before", "after", "fires"),
    [(None, 3, True), (2, 3, True), (0, 4, True), (3, 3, False), (4, 3, False), (0, 2, False)],
)
def test_new_shortness_of_breath(before: int | None, after: int, fires: bool) -> None:
    tl = base()
    if before is not None:
        tl.check_in(0, {"shortness_of_breath": {"severity": before, "interference": 0}})
    tl.check_in(7, {"shortness_of_breath": {"severity": after, "interference": 0}})
    findings = [f for f in clot(tl, 7) if f.evidence["date"] == str(day(7))]
    assert bool(findings) is fires


@pytest.mark.parametrize(
    ("sign", "text"),
    [("chest_pain", "chest pain"), ("neuro_symptoms", "sudden neurological symptoms")],
)
def test_chest_pain_and_neuro_symptoms(sign: str, text: str) -> None:
    tl = base().check_in(7, **{sign: True})
    f = only(clot(tl, 7))
    assert f.severity == "urgent"
    assert f.episode_key == f"thrombosis:{tl.last_id()}"
    assert f.summary == f"Possible blood clot warning signs on 2024-01-08: {text}"
    assert_json(f)


def test_every_recent_check_in_is_read_so_synced_reports_are_not_lost() -> None:
    tl = base().check_in(5, chest_pain=True)
    first_id = tl.last_id()
    tl.check_in(6)
    findings = clot(tl, 6)
    assert [f.episode_key for f in findings] == [f"thrombosis:{first_id}"]


@pytest.mark.parametrize(("today", "fires"), [(12, True), (13, False)])
def test_red_flag_lookback_edge(today: int, fires: bool) -> None:
    assert bool(clot(base().check_in(5, chest_pain=True), today)) is fires


# --------------------------------------------------------------------------- insomnia


def sleep(tl: TL, today: int) -> list[Finding]:
    return insomnia(tl.build(), day(today), DEFAULTS)


@pytest.mark.parametrize(
    ("severity", "interference", "fires"),
    [(3, 0, True), (2, 2, False), (2, 3, True), (4, 4, True), (0, 0, False)],
)
def test_insomnia_levels(severity: int, interference: int, fires: bool) -> None:
    tl = base().check_in(7, {"insomnia": {"severity": severity, "interference": interference}})
    findings = sleep(tl, 7)
    assert bool(findings) is fires
    if fires:
        assert findings[0].severity == "info"


def test_insomnia_run_key_and_resolution() -> None:
    bad = {"insomnia": {"severity": 3, "interference": 3}}
    tl = base().check_in(7, bad).check_in(14, bad)
    f = only(sleep(tl, 14))
    assert f.episode_key == f"insomnia:{day(7)}"
    assert f.summary == (
        "Trouble sleeping: severe, interfering quite a bit with daily life (since 2024-01-08)"
    )
    tl.check_in(21, {"insomnia": {"severity": 1, "interference": 0}})
    assert sleep(tl, 21) == []


# --------------------------------------------------------------------------- systemic_flare


def flare(tl: TL, today: int) -> list[Finding]:
    return systemic_flare(tl.build(), day(today), DEFAULTS)


@pytest.mark.parametrize("sign", ["joint_pain", "foamy_urine", "fever", "chest_pain"])
def test_each_systemic_sign_is_a_warning(sign: str) -> None:
    tl = base().check_in(7, **{sign: True})
    f = only(flare(tl, 7))
    assert f.severity == "warning"
    assert f.evidence["signs"] == [sign]
    assert f.episode_key == f"systemic:{tl.last_id()}"


def test_no_systemic_sign_no_finding() -> None:
    assert flare(base().check_in(7, new_lesions=True, hair_loss=True), 7) == []


def test_systemic_run_keeps_the_first_check_in_id() -> None:
    tl = base().check_in(7, joint_pain=True)
    first = tl.last_id()
    tl.check_in(14, joint_pain=True, fever=True)
    f = only(flare(tl, 14))
    assert f.episode_key == f"systemic:{first}"
    assert f.summary == "Possible lupus flare beyond the skin: joint pain; fever"
    tl.check_in(21)
    assert flare(tl, 21) == []


def test_chest_pain_raises_both_thrombosis_and_systemic_findings() -> None:
    tl = base().check_in(7, chest_pain=True)
    assert clot(tl, 7)[0].severity == "urgent"
    assert flare(tl, 7)[0].severity == "warning"
