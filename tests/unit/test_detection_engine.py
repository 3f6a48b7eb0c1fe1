"""engine.evaluate: registry, ordering, determinism, JSON evidence, rule isolation."""

from __future__ import annotations

from datetime import date

import pytest

from tracker.detection import (
    RULES,
    SEVERITIES,
    TIME_BASED_RULES,
    EvaluationError,
    Finding,
    Thresholds,
    Timeline,
    evaluate,
)

from .test_detection_timeline import TL, assert_json, day

CODES = {
    "possible_relapse",
    "gi_intolerance",
    "cytopenia",
    "thrombosis_red_flag",
    "pregnancy_risk",
    "adherence",
    "insomnia",
    "systemic_flare",
    "monitoring_due",
    "non_response",
}


def busy_patient() -> TL:
    """A woman of reproductive potential in taper, with something for most rules."""
    tl = TL(reproductive_potential=True).step(0, "5").clasi(0, 14).clasi(42, 0)
    tl.lab(0, "pregnancy_hcg", result="negative").lab(0, "anc", "3.0")
    for n in range(0, 70):
        tl.dose(n)
    tl.step(70, "5", "alternate_days", reason="taper")
    tl.dose(71)  # an off-day
    tl.check_in(70, itch=1, pain=0, global_activity=1)
    tl.lab(82, "anc", "0.9")
    tl.check_in(
        84,
        {
            "nausea": {"frequency": 3, "severity": 3},
            "insomnia": {"severity": 3, "interference": 2},
            "swelling": {"frequency": 2, "severity": 2, "interference": 1},
        },
        new_lesions=True,
        lesion_areas=["face", "arms"],
        fever=True,
        missed_period=True,
    )
    return tl


def test_registry_has_exactly_the_rule_codes() -> None:
    assert set(RULES) == CODES
    assert TIME_BASED_RULES <= CODES
    assert {"monitoring_due", "non_response", "pregnancy_risk", "adherence"} == TIME_BASED_RULES


def test_busy_patient_findings_are_sorted_and_serialisable() -> None:
    findings = evaluate(busy_patient().build(), day(84))
    assert {f.rule for f in findings} == CODES - {"non_response", "monitoring_due"}
    ranks = [SEVERITIES.index(f.severity) for f in findings]
    assert ranks == sorted(ranks, reverse=True)
    assert findings == sorted(
        findings, key=lambda f: (-SEVERITIES.index(f.severity), f.rule, f.episode_key)
    )
    for f in findings:
        assert f.summary
        assert "\n" not in f.summary
        assert f.episode_key
        assert_json(f)
    by_rule = {f.rule: f for f in findings if f.rule != "adherence"}
    assert by_rule["possible_relapse"].severity == "urgent"
    assert by_rule["cytopenia"].summary.startswith("Possible febrile neutropenia")
    assert by_rule["thrombosis_red_flag"].severity == "urgent"
    assert by_rule["gi_intolerance"].severity == "urgent"
    later = {f.rule for f in evaluate(busy_patient().build(), day(95))}
    assert "monitoring_due" in later  # no check-in for 11 days inside the watch window


def test_evaluation_is_deterministic_and_keys_survive_unrelated_later_data() -> None:
    tl = busy_patient()
    first = evaluate(tl.build(), day(84))
    assert evaluate(tl.build(), day(84)) == first
    tl.lab(84, "platelets", "250").lab(84, "wbc", "6.0")
    later = {(f.rule, f.episode_key) for f in evaluate(tl.build(), day(84))}
    assert {(f.rule, f.episode_key) for f in first if f.rule != "monitoring_due"} <= later


def test_data_after_today_is_ignored() -> None:
    tl = busy_patient()
    assert evaluate(tl.build(), day(83)) == evaluate(
        tl.check_in(90, chest_pain=True).build(), day(83)
    )


def test_thresholds_reach_every_rule() -> None:
    tl = TL().step(0, "5").lab(10, "anc", "1.8").check_in(10).doses_taken(0, 10)
    assert not [f for f in evaluate(tl.build(), day(10)) if f.rule == "cytopenia"]
    custom = Thresholds.from_overrides({"anc_warning": "2.0"})
    assert [f.rule for f in evaluate(tl.build(), day(10), custom)] == ["cytopenia"]


def test_a_broken_rule_does_not_hide_the_others() -> None:
    def broken(timeline: Timeline, today: date, thresholds: Thresholds) -> list[Finding]:
        raise RuntimeError("bug")

    rules = {**RULES, "adherence": broken}
    with pytest.raises(EvaluationError) as caught:
        evaluate(busy_patient().build(), day(84), rules=rules)
    assert set(caught.value.errors) == {"adherence"}
    assert "thrombosis_red_flag" in {f.rule for f in caught.value.findings}


def test_quiet_patient_has_no_findings() -> None:
    tl = TL(sex="male").step(0, "5").clasi(0, 10).clasi(35, 0).lab(0, "anc", "3")
    for n in range(0, 50):
        tl.dose(n)
    for n in range(0, 50, 7):
        tl.check_in(n, itch=1, pain=0, global_activity=1)
    tl.lab(45, "anc", "2.5")
    assert evaluate(tl.build(), day(49)) == []
