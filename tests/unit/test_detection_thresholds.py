"""Thresholds: DESIGN.md defaults, overrides with validation, JSON round trip."""

from __future__ import annotations

import json
from dataclasses import fields
from decimal import Decimal

import pytest

from tracker.detection.thresholds import _BOUNDS, ThresholdError, Thresholds


def test_defaults_are_the_design_numbers() -> None:
    t = Thresholds()
    assert (t.taper_watch_days, t.relapse_score_rise, t.clasi_rise_points) == (56, 2, 4)
    assert t.clasi_rise_fraction == Decimal("0.20")
    assert (t.gi_attribute_level, t.gi_rise) == (3, 2)
    assert (t.anc_warning, t.anc_hold) == (Decimal("1.5"), Decimal("1.0"))
    assert (t.platelets_warning, t.platelets_hold) == (Decimal("75"), Decimal("30"))
    assert (t.swelling_severity, t.dyspnea_severity, t.insomnia_level) == (2, 3, 3)
    assert (t.adherence_share, t.adherence_window_days, t.missed_streak) == (
        Decimal("0.80"),
        14,
        3,
    )
    assert (t.cbc_interval_early_days, t.early_phase_weeks, t.cbc_interval_days) == (7, 8, 35)
    assert (t.checkin_gap_days, t.checkin_gap_watch_days) == (10, 7)
    assert (
        t.pregnancy_interval_early_days,
        t.pregnancy_early_weeks,
        t.pregnancy_interval_days,
        t.pregnancy_interval_irregular_days,
    ) == (7, 4, 28, 14)
    assert (t.non_response_weeks_default, t.non_response_weeks_profundus) == (12, 32)


def test_every_field_has_bounds() -> None:
    assert set(_BOUNDS) == {f.name for f in fields(Thresholds)}


def test_overrides_apply_a_subset_and_coerce_types() -> None:
    t = Thresholds.from_overrides(
        {
            "taper_watch_days": "63",
            "adherence_share": 0.75,
            "anc_warning": "2",
            "missed_streak": 4.0,
        }
    )
    assert t.taper_watch_days == 63
    assert t.missed_streak == 4
    assert t.adherence_share == Decimal("0.75")
    assert t.anc_warning == Decimal("2")
    assert t.gi_rise == 2  # untouched


def test_as_dict_is_json_and_round_trips() -> None:
    data = Thresholds(taper_watch_days=60).as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["anc_warning"] == "1.5"
    assert Thresholds.from_overrides(json.loads(json.dumps(data))) == Thresholds(
        taper_watch_days=60
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"taper_watch_dayz": 56}, "taper_watch_dayz"),
        ({"taper_watch_days": 0}, "taper_watch_days"),
        ({"taper_watch_days": -5}, "taper_watch_days"),
        ({"taper_watch_days": True}, "taper_watch_days"),
        ({"taper_watch_days": "eight weeks"}, "taper_watch_days"),
        ({"taper_watch_days": 7.5}, "taper_watch_days"),
        ({"taper_watch_days": None}, "taper_watch_days"),
        ({"adherence_share": "1.5"}, "adherence_share"),
        ({"adherence_share": 0}, "adherence_share"),
        ({"adherence_share": "NaN"}, "adherence_share"),
        ({"gi_attribute_level": 5}, "gi_attribute_level"),
        ({"anc_hold": "1.5"}, "anc_hold"),  # not below the warning level
        ({"platelets_hold": 80}, "platelets_hold"),
        ({"checkin_gap_watch_days": 12}, "checkin_gap_watch_days"),
    ],
)
def test_invalid_overrides_are_rejected(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ThresholdError) as caught:
        Thresholds.from_overrides(overrides)
    assert field in caught.value.errors
    assert isinstance(caught.value, ValueError)


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(ThresholdError) as caught:
        Thresholds.from_overrides({"nope": 1, "missed_streak": "x"})
    assert set(caught.value.errors) == {"nope", "missed_streak"}


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ThresholdError):
        Thresholds(anc_warning=1.5)  # type: ignore[arg-type]
    with pytest.raises(ThresholdError):
        Thresholds(missed_streak=0)
