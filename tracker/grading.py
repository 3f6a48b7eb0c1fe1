"""Grades: CTCAE v5.0 for laboratory values, PRO-CTCAE composite grades for symptoms.

Invariants:
- Pure functions over plain values; no database, no Django.
- A PRO-CTCAE composite grade (0-3) is not a CTCAE grade (0-5) and the two are never mixed:
  ``composite_grade`` grades what the patient reported, ``ctcae_grade`` grades a lab value.
- The composite tables below are the published lookup (Basch et al., Clin Trials 2021;18:104-114,
  as implemented in the NCI/Mayo PRO-CTCAE scoring macro), copied cell by cell from
  /work/shared/pro_ctcae_composite.md and checked against the macro's table; see
  docs/instruments.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Final

__all__ = [
    "ATTRIBUTES",
    "CTCAE_TESTS",
    "CTCAE_VERSION",
    "DEFAULT_LLN",
    "DEFAULT_ULN",
    "LAB_TESTS",
    "SYMPTOM_TERMS",
    "composite_grade",
    "ctcae_grade",
]

# --------------------------------------------------------------------------- PRO-CTCAE

ATTRIBUTES: Final = ("frequency", "severity", "interference", "amount", "present")

# Item attributes as administered (PRO-CTCAE item library; DESIGN.md section 4).
# "amount" (hair loss) is answered on the interference scale (not at all .. very much) and the
# NCI/Mayo macro grades it with the single-interference row, so it is scored that way here.
SYMPTOM_TERMS: Final[dict[str, tuple[str, ...]]] = {
    "nausea": ("frequency", "severity"),
    "vomiting": ("frequency", "severity"),
    "diarrhea": ("frequency",),
    "abdominal_pain": ("frequency", "severity", "interference"),
    "constipation": ("severity",),
    "insomnia": ("severity", "interference"),
    "fatigue": ("severity", "interference"),
    "rash": ("present",),
    "itchy_skin": ("severity",),
    "sun_sensitivity": ("present",),
    "hair_loss": ("amount",),
    "swelling": ("frequency", "severity", "interference"),
    "shortness_of_breath": ("severity", "interference"),
    "numbness_tingling": ("severity", "interference"),
    "bruising": ("present",),
}

# One attribute: composite for answers 0..4.
_SINGLE: Final[dict[str, tuple[int, ...]]] = {
    "frequency": (0, 1, 1, 2, 3),
    "severity": (0, 1, 2, 3, 3),
    "interference": (0, 1, 1, 2, 2),
    "amount": (0, 1, 1, 2, 2),
}

# Two attributes: rows are the first attribute 1..4 (index 0 is the "first attribute 0" row, which
# the rule "first attribute 0 gives 0" makes all zeros), columns the second attribute 0..4.
_PAIRS: Final[dict[tuple[str, str], tuple[tuple[int, ...], ...]]] = {
    ("frequency", "severity"): (
        (0, 0, 0, 0, 0),
        (1, 1, 1, 2, 2),
        (1, 1, 2, 2, 2),
        (1, 1, 2, 3, 3),
        (1, 1, 2, 3, 3),
    ),
    ("severity", "interference"): (
        (0, 0, 0, 0, 0),
        (1, 1, 1, 2, 2),
        (1, 1, 2, 2, 3),
        (1, 2, 2, 3, 3),
        (2, 2, 2, 3, 3),
    ),
    ("frequency", "interference"): (
        (0, 0, 0, 0, 0),
        (1, 1, 1, 2, 2),
        (1, 1, 1, 2, 2),
        (1, 1, 2, 3, 3),
        (1, 1, 2, 3, 3),
    ),
}

# Three attributes: _TRIPLE[frequency][severity][interference], frequency 1..4 (row 0 is zeros).
_TRIPLE: Final[tuple[tuple[tuple[int, ...], ...], ...]] = (
    ((0,) * 5,) * 5,
    (
        (0, 1, 1, 2, 2),
        (1, 1, 1, 2, 2),
        (1, 2, 2, 2, 3),
        (2, 2, 2, 3, 3),
        (2, 2, 3, 3, 3),
    ),
    (
        (0, 1, 1, 2, 2),
        (1, 1, 1, 2, 2),
        (2, 2, 2, 3, 3),
        (2, 2, 2, 3, 3),
        (2, 2, 3, 3, 3),
    ),
    (
        (1, 1, 1, 2, 2),
        (1, 1, 1, 2, 2),
        (2, 2, 2, 3, 3),
        (2, 2, 3, 3, 3),
        (2, 2, 3, 3, 3),
    ),
    (
        (1, 1, 1, 2, 2),
        (1, 1, 2, 2, 3),
        (2, 2, 2, 3, 3),
        (2, 2, 3, 3, 3),
        (2, 2, 3, 3, 3),
    ),
)


def _score(term: str, attribute: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{term}.{attribute} must be an integer 0..4, got {value!r}")
    if not 0 <= value <= 4:
        raise ValueError(f"{term}.{attribute} must be 0..4, got {value}")
    return value


def composite_grade(term: str, answers: Mapping[str, int | bool | None]) -> int | None:
    """PRO-CTCAE composite grade 0-3 for one symptom term, or None for a presence item.

    ``answers`` maps attribute names to the 0..4 answer (``present`` to a bool). A None value means
    "not asked". Branching follows the questionnaire: when the first attribute (frequency, or
    severity for severity+interference items) is 0, the later ones are not asked, may be absent,
    and are treated as 0; when severity is 0 on a three-attribute item, interference is not asked
    and is treated as 0, whatever was sent for it. Any other missing answer is an error rather
    than a guess. A ``term`` key equal to ``term`` is tolerated, so an API item can be passed whole.

    Raises ValueError for an unknown term, an answer for an attribute the term does not have, a
    missing answer the grade needs, or a value outside 0..4.
    """
    if term not in SYMPTOM_TERMS:
        raise ValueError(f"Unknown PRO-CTCAE term {term!r}")
    attributes = SYMPTOM_TERMS[term]
    for key, value in answers.items():
        if key == "term" and value == term:
            continue  # a whole check-in item may be passed as it came from the API
        if key not in attributes and value is not None:
            raise ValueError(f"{term} has no attribute {key!r} (it has {', '.join(attributes)})")

    if attributes == ("present",):
        present = answers.get("present")
        if present is None:
            raise ValueError(f"{term}.present is missing")
        if not isinstance(present, bool) and present not in (0, 1):
            raise ValueError(f"{term}.present must be yes/no, got {present!r}")
        return None

    def get(attribute: str, *, gated: bool) -> int:
        value = answers.get(attribute)
        if value is None:
            if gated:
                return 0
            raise ValueError(f"{term}.{attribute} is missing")
        return _score(term, attribute, value)

    first = get(attributes[0], gated=False)
    if len(attributes) == 1:
        return _SINGLE[attributes[0]][first]
    second = get(attributes[1], gated=first == 0)
    if len(attributes) == 2:
        return 0 if first == 0 else _PAIRS[(attributes[0], attributes[1])][first][second]
    # Three attributes are always frequency, severity, interference.
    third = get(attributes[2], gated=first == 0 or second == 0)
    if first == 0:
        return 0
    return _TRIPLE[first][second][0 if second == 0 else third]


# --------------------------------------------------------------------------- CTCAE v5.0

CTCAE_VERSION: Final = "5.0"
LAB_TESTS: Final = ("anc", "platelets", "wbc", "hemoglobin", "creatinine", "pregnancy_hcg")
CTCAE_TESTS: Final = ("anc", "platelets", "wbc", "hemoglobin", "creatinine")

DEFAULT_LLN: Final[Mapping[str, Decimal]] = {
    "anc": Decimal("2.0"),
    "platelets": Decimal("150"),
    "wbc": Decimal("4.0"),
    "hemoglobin": Decimal("12.0"),
}
DEFAULT_ULN: Final[Mapping[str, Decimal]] = {"creatinine": Decimal("1.2")}

# Decreased counts: (grade, value below which it applies), worst first. Units: 10^9/L, g/dL.
# CTCAE v5.0 "Investigations" / "Blood and lymphatic system disorders"; grade 1 is < LLN.
_LOW_CUTOFFS: Final[dict[str, tuple[tuple[int, Decimal], ...]]] = {
    "anc": ((4, Decimal("0.5")), (3, Decimal("1.0")), (2, Decimal("1.5"))),
    "platelets": ((4, Decimal("25")), (3, Decimal("50")), (2, Decimal("75"))),
    "wbc": ((4, Decimal("1.0")), (3, Decimal("2.0")), (2, Decimal("3.0"))),
    # Anaemia grade 4 is "life-threatening consequences", a clinical call, never a number.
    "hemoglobin": ((3, Decimal("8.0")), (2, Decimal("10.0"))),
}

# Creatinine increased: (grade, multiple of ULN above which it applies), worst first.
_HIGH_MULTIPLES: Final = ((4, Decimal("6.0")), (3, Decimal("3.0")), (2, Decimal("1.5")))


def _decimal(value: object, label: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        raise ValueError(f"{label} must be a number, got {value!r}")
    try:
        # str() keeps a float's shortest repr, so 1.5 is exactly 1.5 and not 1.4999...
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{label} must be a number, got {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"{label} must be finite, got {value!r}")
    if number < 0:
        raise ValueError(f"{label} must not be negative, got {value!r}")
    return number


def ctcae_grade(
    test: str,
    value: Decimal | float,
    *,
    lln: Mapping[str, Decimal] | None = None,
    uln: Mapping[str, Decimal] | None = None,
) -> int | None:
    """CTCAE v5.0 grade of one lab value; None for a test without a CTCAE grade (pregnancy_hcg).

    anc, platelets, wbc (10^9/L) and hemoglobin (g/dL) are graded as decreased: a value equal to
    the lower limit of normal is grade 0, and each cut-off is exclusive ("< 1.5" for ANC grade 2).
    creatinine (mg/dL) is graded as increased by multiples of the upper limit of normal: > ULN is
    grade 1, > 1.5x 2, > 3x 3, > 6x 4. ``lln``/``uln`` override the defaults per test, for a
    laboratory's own reference ranges. Raises ValueError for an unknown test or a value that is not
    a finite non-negative number.
    """
    if test not in LAB_TESTS:
        raise ValueError(f"Unknown lab test {test!r}")
    if test == "pregnancy_hcg":
        return None
    number = _decimal(value, test)

    if test == "creatinine":
        limit = _decimal({**DEFAULT_ULN, **(uln or {})}["creatinine"], "ULN creatinine")
        for grade, multiple in _HIGH_MULTIPLES:
            if number > limit * multiple:
                return grade
        return 1 if number > limit else 0

    lower = _decimal({**DEFAULT_LLN, **(lln or {})}[test], f"LLN {test}")
    for grade, cutoff in _LOW_CUTOFFS[test]:
        if number < cutoff:
            return grade
    return 1 if number < lower else 0
