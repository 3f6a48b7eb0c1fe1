from __future__ import annotations

import pytest

from tracker.clasi import (
    AREAS,
    INSTRUMENT,
    VERSION,
    ClasiResult,
    band_for,
    meaningful_change,
    score,
    validate,
)

NON_SCALP = [a for a in AREAS if a != "scalp"]


def worst_everywhere() -> dict[str, dict[str, int]]:
    areas = {a: {"erythema": 3, "scale": 2, "dyspigmentation": 1, "scarring": 2} for a in AREAS}
    areas["scalp"]["scarring"] = 0
    return areas


def test_instrument_identity() -> None:
    assert INSTRUMENT == "CLASI"
    assert VERSION == "Albrecht 2005"
    assert AREAS == (
        "scalp",
        "ears",
        "nose",
        "face",
        "v_neck",
        "posterior_neck",
        "chest",
        "abdomen",
        "back",
        "arms",
        "hands",
        "legs",
        "feet",
    )


def test_empty_assessment_is_complete_response() -> None:
    assert score({}) == ClasiResult(activity=0, damage=0, band="mild")
    assert validate({}) == {}


def test_maximum_scores() -> None:
    result = score(
        worst_everywhere(),
        mucous_membrane=1,
        recent_hair_loss=1,
        nonscarring_alopecia=3,
        scalp_scarring=6,
        dyspigmentation_lasting=True,
    )
    # Activity: 13 x (3 + 2) + 1 + 1 + 3 = 70.
    # Damage: 13 dyspigmentation x 2 + 12 x 2 scarring + 6 scalp = 56.
    assert result == ClasiResult(activity=70, damage=56, band="severe")


def test_activity_sums_erythema_scale_and_once_items() -> None:
    areas = {"face": {"erythema": 2, "scale": 1}, "arms": {"erythema": 1}, "scalp": {"scale": 2}}
    result = score(areas, mucous_membrane=1, recent_hair_loss=1, nonscarring_alopecia=2)
    assert result.activity == 2 + 1 + 1 + 2 + 1 + 1 + 2
    assert result.damage == 0


def test_missing_keys_count_as_zero() -> None:
    assert score({"face": {}}).activity == 0
    assert score({"face": {"scale": 1}}).activity == 1


def test_damage_does_not_count_towards_activity() -> None:
    result = score({"face": {"dyspigmentation": 1, "scarring": 2}}, scalp_scarring=3)
    assert result.activity == 0
    assert result.damage == 1 + 2 + 3


@pytest.mark.parametrize(
    ("lasting", "damage"),
    [(False, 3 + 4), (True, 6 + 4)],
)
def test_dyspigmentation_doubles_when_lasting(lasting: bool, damage: int) -> None:
    areas = {
        "face": {"dyspigmentation": 1, "scarring": 2},
        "chest": {"dyspigmentation": 1},
        "scalp": {"dyspigmentation": 1},
        "arms": {"scarring": 2},
    }
    assert score(areas, dyspigmentation_lasting=lasting).damage == damage


def test_lasting_flag_doubles_only_dyspigmentation() -> None:
    areas = {"face": {"scarring": 2}}
    assert score(areas, scalp_scarring=4, dyspigmentation_lasting=True).damage == 6


@pytest.mark.parametrize(("value", "damage"), [(0, 0), (3, 3), (4, 4), (5, 5), (6, 6)])
def test_scalp_scarring_values(value: int, damage: int) -> None:
    assert score({}, scalp_scarring=value).damage == damage


@pytest.mark.parametrize("value", [1, 2, 7, -1])
def test_scalp_scarring_rejects_other_values(value: int) -> None:
    assert "scalp_scarring" in validate({}, scalp_scarring=value)


def test_scarring_on_scalp_area_is_rejected() -> None:
    errors = validate({"scalp": {"scarring": 1}})
    assert set(errors) == {"areas.scalp.scarring"}
    assert "scalp_scarring" in errors["areas.scalp.scarring"]
    assert validate({"scalp": {"scarring": 0}}) == {}


@pytest.mark.parametrize("area", NON_SCALP)
def test_scarring_allowed_on_every_other_area(area: str) -> None:
    assert score({area: {"scarring": 2}}).damage == 2


@pytest.mark.parametrize(
    ("key", "good", "bad"),
    [
        ("erythema", [0, 1, 2, 3], [-1, 4]),
        ("scale", [0, 1, 2], [-1, 3]),
        ("dyspigmentation", [0, 1], [-1, 2]),
        ("scarring", [0, 1, 2], [-1, 3]),
    ],
)
def test_area_item_ranges(key: str, good: list[int], bad: list[int]) -> None:
    for value in good:
        assert validate({"face": {key: value}}) == {}
    for value in bad:
        assert set(validate({"face": {key: value}})) == {f"areas.face.{key}"}


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("mucous_membrane", [0, 1], [-1, 2]),
        ("recent_hair_loss", [0, 1], [-1, 2]),
        ("nonscarring_alopecia", [0, 1, 2, 3], [-1, 4]),
    ],
)
def test_once_item_ranges(field: str, good: list[int], bad: list[int]) -> None:
    for value in good:
        assert validate({}, **{field: value}) == {}  # type: ignore[arg-type]
    for value in bad:
        assert set(validate({}, **{field: value})) == {field}  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, False, 1.0, "1", None])
def test_non_integers_rejected(value: object) -> None:
    assert set(validate({"face": {"erythema": value}})) == {"areas.face.erythema"}  # type: ignore[dict-item]
    assert set(validate({}, mucous_membrane=value)) == {"mucous_membrane"}  # type: ignore[arg-type]


def test_dyspigmentation_lasting_must_be_bool() -> None:
    assert set(validate({}, dyspigmentation_lasting=1)) == {"dyspigmentation_lasting"}  # type: ignore[arg-type]


def test_unknown_area_and_key() -> None:
    errors = validate({"knees": {"erythema": 1}, "face": {"redness": 1, "erythema": 9}})
    assert set(errors) == {"areas.knees", "areas.face.redness", "areas.face.erythema"}


def test_area_must_be_a_mapping() -> None:
    assert set(validate({"face": 3})) == {"areas.face"}  # type: ignore[dict-item]


def test_score_raises_with_all_errors() -> None:
    with pytest.raises(ValueError, match="scalp_scarring") as info:
        score({"scalp": {"scarring": 2}, "face": {"scale": 3}}, nonscarring_alopecia=4)
    (errors,) = info.value.args
    assert set(errors) == {"areas.scalp.scarring", "areas.face.scale", "nonscarring_alopecia"}


# --------------------------------------------------------------------------- bands


@pytest.mark.parametrize(
    ("activity", "band"),
    [
        (0, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (20, "moderate"),
        (21, "severe"),
        (70, "severe"),
    ],
)
def test_band_edges(activity: int, band: str) -> None:
    assert band_for(activity) == band


@pytest.mark.parametrize("activity", [-1, 71, True, 9.5])
def test_band_rejects_out_of_range(activity: object) -> None:
    with pytest.raises(ValueError, match=r"0\.\.70"):
        band_for(activity)  # type: ignore[arg-type]


def _activity(total: int) -> dict[str, dict[str, int]]:
    """Areas whose activity is exactly ``total`` (<= 65), filled area by area."""
    areas: dict[str, dict[str, int]] = {}
    for area in AREAS:
        erythema = min(3, total)
        scale = min(2, total - erythema)
        areas[area] = {"erythema": erythema, "scale": scale}
        total -= erythema + scale
    assert total == 0
    return areas


@pytest.mark.parametrize(
    ("activity", "band"),
    [(9, "mild"), (10, "moderate"), (20, "moderate"), (21, "severe"), (65, "severe")],
)
def test_score_band_edges(activity: int, band: str) -> None:
    result = score(_activity(activity))
    assert (result.activity, result.band) == (activity, band)


# --------------------------------------------------------------------------- meaningful change


@pytest.mark.parametrize(
    ("before", "after", "meaningful"),
    [
        (10, 10, False),
        (10, 13, True),  # 3 points, but 30% of the baseline
        (30, 33, False),  # 3 points, 10%
        (30, 34, True),  # 4 points
        (30, 26, True),  # 4 points down
        (30, 27, False),
        (15, 18, True),  # 3 points = 20% exactly
        (16, 19, False),  # 3 points = 18.75%
        (5, 6, True),  # 1 point = 20%
        (6, 7, False),  # 1 point = 16.7%
        (10, 8, True),  # 2 points down = 20%
        (0, 3, False),  # from 0 only the point rule applies
        (0, 4, True),
        (4, 0, True),
        (70, 66, True),
    ],
)
def test_meaningful_change(before: int, after: int, meaningful: bool) -> None:
    assert meaningful_change(before, after) is meaningful


@pytest.mark.parametrize(("before", "after"), [(-1, 3), (3, 71), (True, 3), (3.0, 3)])
def test_meaningful_change_rejects_non_scores(before: object, after: object) -> None:
    with pytest.raises(ValueError, match=r"CLASI activity 0\.\.70"):
        meaningful_change(before, after)  # type: ignore[arg-type]
