"""CLASI (Cutaneous Lupus Erythematosus Disease Area and Severity Index) totals and bands.

Source: Albrecht J et al., J Invest Dermatol 2005;125:889-894 (instrument); Klein R et al.,
Arch Dermatol 2011 (activity bands and meaningful change). See docs/instruments.md.

Invariants:
- Pure functions; no database, no Django.
- Each of the 13 areas is scored for its worst lesion. A missing area, or a missing key inside
  an area, scores 0, so a form need only send what it saw.
- Activity is 0..70. Damage is 0..56: per-area dyspigmentation (0..13, doubled to 0..26 when it
  usually lasts >= 12 months) + per-area scarring outside the scalp (0..24) + scalp scarring
  (0, 3, 4, 5 or 6), because the scalp's scarring is scored once, by quadrants, never per area.
- Scores are stored with INSTRUMENT and VERSION so a later revision cannot be confused with this
  one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ACTIVITY_MAX",
    "AREAS",
    "AREA_ITEMS",
    "BANDS",
    "INSTRUMENT",
    "SCALP_SCARRING_VALUES",
    "VERSION",
    "ClasiResult",
    "band_for",
    "meaningful_change",
    "score",
    "validate",
]

INSTRUMENT: Final = "CLASI"
VERSION: Final = "Albrecht 2005"

AREAS: Final = (
    "scalp",
    "ears",
    "nose",  # includes the malar area
    "face",  # rest of the face
    "v_neck",
    "posterior_neck",  # and shoulders
    "chest",
    "abdomen",
    "back",  # and buttocks
    "arms",
    "hands",
    "legs",
    "feet",
)

# Per-area items and their maxima.
AREA_ITEMS: Final[Mapping[str, int]] = {
    "erythema": 3,
    "scale": 2,  # scale/hypertrophy
    "dyspigmentation": 1,
    "scarring": 2,  # scarring/atrophy/panniculitis
}

# none, one, two, three quadrants, whole skull
SCALP_SCARRING_VALUES: Final = (0, 3, 4, 5, 6)

ACTIVITY_MAX: Final = 70

# Klein 2011 activity bands: (band, lowest score, highest score).
BANDS: Final = (("mild", 0, 9), ("moderate", 10, 20), ("severe", 21, ACTIVITY_MAX))

# Klein 2011: a change of >= 4 points or >= 20% is clinically meaningful.
MEANINGFUL_POINTS: Final = 4
MEANINGFUL_FRACTION_PERCENT: Final = 20


@dataclass(frozen=True)
class ClasiResult:
    """Totals of one valid assessment: activity 0..70, damage 0..56, and the activity band."""

    activity: int
    damage: int
    band: str


def _is_int(value: object) -> bool:
    # bool is an int subclass; a checkbox's True must not pass as a score of 1.
    return isinstance(value, int) and not isinstance(value, bool)


def _check(errors: dict[str, str], path: str, value: object, allowed: tuple[int, ...]) -> None:
    if not _is_int(value) or value not in allowed:
        shown = ", ".join(str(v) for v in allowed)
        errors[path] = f"Must be one of {shown}; got {value!r}."


def validate(
    areas: Mapping[str, Mapping[str, int]],
    *,
    mucous_membrane: int = 0,
    recent_hair_loss: int = 0,
    nonscarring_alopecia: int = 0,
    scalp_scarring: int = 0,
    dyspigmentation_lasting: bool = False,
) -> dict[str, str]:
    """Return ``{path: message}`` for every invalid entry (e.g. ``areas.scalp.erythema``).

    Empty when the assessment can be scored. Omitted once-per-assessment items score 0, as do
    omitted areas and keys.
    """
    errors: dict[str, str] = {}
    if not isinstance(areas, Mapping):
        errors["areas"] = "Must be an object keyed by CLASI area code."
        areas = {}
    for area, items in areas.items():
        prefix = f"areas.{area}"
        if area not in AREAS:
            errors[prefix] = f"Unknown CLASI area {area!r}."
            continue
        if not isinstance(items, Mapping):
            errors[prefix] = "Must be an object of item scores."
            continue
        for key, value in items.items():
            path = f"{prefix}.{key}"
            if key not in AREA_ITEMS:
                errors[path] = f"Unknown CLASI item {key!r}."
                continue
            _check(errors, path, value, tuple(range(AREA_ITEMS[key] + 1)))
            if area == "scalp" and key == "scarring" and path not in errors and value != 0:
                errors[path] = "Scalp scarring is scored once, by quadrants, in scalp_scarring."

    _check(errors, "mucous_membrane", mucous_membrane, (0, 1))
    _check(errors, "recent_hair_loss", recent_hair_loss, (0, 1))
    _check(errors, "nonscarring_alopecia", nonscarring_alopecia, (0, 1, 2, 3))
    _check(errors, "scalp_scarring", scalp_scarring, SCALP_SCARRING_VALUES)
    if not isinstance(dyspigmentation_lasting, bool):
        errors["dyspigmentation_lasting"] = (
            f"Must be true or false; got {dyspigmentation_lasting!r}."
        )
    return errors


def score(
    areas: Mapping[str, Mapping[str, int]],
    *,
    mucous_membrane: int = 0,
    recent_hair_loss: int = 0,
    nonscarring_alopecia: int = 0,
    scalp_scarring: int = 0,
    dyspigmentation_lasting: bool = False,
) -> ClasiResult:
    """Activity, damage and band of one assessment. Raises ValueError(errors) if invalid."""
    errors = validate(
        areas,
        mucous_membrane=mucous_membrane,
        recent_hair_loss=recent_hair_loss,
        nonscarring_alopecia=nonscarring_alopecia,
        scalp_scarring=scalp_scarring,
        dyspigmentation_lasting=dyspigmentation_lasting,
    )
    if errors:
        raise ValueError(errors)

    def subtotal(key: str) -> int:
        return sum(items.get(key, 0) for items in areas.values())

    activity = (
        subtotal("erythema")
        + subtotal("scale")
        + mucous_membrane
        + recent_hair_loss
        + nonscarring_alopecia
    )
    dyspigmentation = subtotal("dyspigmentation") * (2 if dyspigmentation_lasting else 1)
    # Validation guarantees scalp scarring is 0 here, so the subtotal covers the other 12 areas.
    damage = dyspigmentation + subtotal("scarring") + scalp_scarring
    return ClasiResult(activity=activity, damage=damage, band=band_for(activity))


def band_for(activity: int) -> str:
    """Klein 2011 band of an activity score: 0-9 mild, 10-20 moderate, 21-70 severe."""
    if not _is_int(activity) or not 0 <= activity <= ACTIVITY_MAX:
        raise ValueError(f"CLASI activity must be an integer 0..{ACTIVITY_MAX}, got {activity!r}")
    for band, low, high in BANDS:
        if low <= activity <= high:
            return band
    raise AssertionError("BANDS cover 0..70")  # pragma: no cover


def meaningful_change(before: int, after: int) -> bool:
    """True when activity moved by >= 4 points or by >= 20% of ``before``, in either direction.

    The percentage needs a non-zero baseline: from 0 only the 4-point rule applies (any rise from
    0 is loss of complete response, a separate rule). Direction is the caller's business: the
    relapse rule asks for a rise, a response check for a fall.
    """
    for name, value in (("before", before), ("after", after)):
        if not _is_int(value) or not 0 <= value <= ACTIVITY_MAX:
            raise ValueError(f"{name} must be a CLASI activity 0..{ACTIVITY_MAX}, got {value!r}")
    change = abs(after - before)
    if change == 0:
        return False
    if change >= MEANINGFUL_POINTS:
        return True
    # Integer arithmetic: change / before >= 20 / 100, without float rounding at the edge.
    return before > 0 and change * 100 >= before * MEANINGFUL_FRACTION_PERCENT
