from __future__ import annotations

from decimal import Decimal

import pytest

from tracker.grading import CTCAE_VERSION, SYMPTOM_TERMS, composite_grade, ctcae_grade

D = Decimal

# --------------------------------------------------------------------------- PRO-CTCAE tables
# An independent copy of /work/shared/pro_ctcae_composite.md (Basch 2021 / NCI-Mayo macro),
# written as the document prints it, so a transcription error in the module cannot hide here.

THREE = """
F1: 0 1 1 2 2 | 1 1 1 2 2 | 1 2 2 2 3 | 2 2 2 3 3 | 2 2 3 3 3
F2: 0 1 1 2 2 | 1 1 1 2 2 | 2 2 2 3 3 | 2 2 2 3 3 | 2 2 3 3 3
F3: 1 1 1 2 2 | 1 1 1 2 2 | 2 2 2 3 3 | 2 2 3 3 3 | 2 2 3 3 3
F4: 1 1 1 2 2 | 1 1 2 2 3 | 2 2 2 3 3 | 2 2 3 3 3 | 2 2 3 3 3
"""

TWO = {
    ("frequency", "severity"): ["1 1 1 2 2", "1 1 2 2 2", "1 1 2 3 3", "1 1 2 3 3"],
    ("severity", "interference"): ["1 1 1 2 2", "1 1 2 2 3", "1 2 2 3 3", "2 2 2 3 3"],
    ("frequency", "interference"): ["1 1 1 2 2", "1 1 1 2 2", "1 1 2 3 3", "1 1 2 3 3"],
}

ONE = {"frequency": "0 1 1 2 3", "severity": "0 1 2 3 3", "interference": "0 1 1 2 2"}


def _row(text: str) -> list[int]:
    return [int(x) for x in text.split()]


def _three_cells() -> list[tuple[int, int, int, int]]:
    cells = []
    for line in THREE.strip().splitlines():
        label, blocks = line.split(":")
        f = int(label[1:])
        for s, block in enumerate(blocks.split("|")):
            for i, grade in enumerate(_row(block)):
                cells.append((f, s, i, grade))
    return cells


THREE_CELLS = _three_cells()
TWO_CELLS = [
    (pair, first, second, grade)
    for pair, rows in TWO.items()
    for first, row in enumerate(rows, start=1)
    for second, grade in enumerate(_row(row))
]
ONE_CELLS = [
    (attribute, answer, grade)
    for attribute, row in ONE.items()
    for answer, grade in enumerate(_row(row))
]

TERM_FOR_PAIR = {
    ("frequency", "severity"): ["nausea", "vomiting"],
    ("severity", "interference"): [
        "insomnia",
        "fatigue",
        "shortness_of_breath",
        "numbness_tingling",
    ],
}


def test_table_copy_is_complete() -> None:
    assert len(THREE_CELLS) == 4 * 5 * 5
    assert len(TWO_CELLS) == 3 * 4 * 5
    assert len(ONE_CELLS) == 3 * 5


def test_symptom_terms_match_design() -> None:
    assert SYMPTOM_TERMS == {
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


# Severity 0 on a three-attribute item means interference was not asked (treated as 0), so the
# reachable grade for (F, S=0, any I) is the I=0 cell.
@pytest.mark.parametrize("term", ["abdominal_pain", "swelling"])
@pytest.mark.parametrize(("f", "s", "i", "grade"), THREE_CELLS)
def test_three_attribute_table_cell_by_cell(term: str, f: int, s: int, i: int, grade: int) -> None:
    answers = {"frequency": f, "severity": s, "interference": i}
    expected = (
        grade if s > 0 else next(g for ff, ss, ii, g in THREE_CELLS if (ff, ss, ii) == (f, 0, 0))
    )
    assert composite_grade(term, answers) == expected


@pytest.mark.parametrize(("pair", "first", "second", "grade"), TWO_CELLS)
def test_two_attribute_tables_cell_by_cell(
    pair: tuple[str, str], first: int, second: int, grade: int
) -> None:
    # No item of DESIGN 7.1 has frequency+interference; the module's table is checked directly.
    if pair == ("frequency", "interference"):
        from tracker import grading

        assert grading._PAIRS[pair][first][second] == grade
        return
    for term in TERM_FOR_PAIR[pair]:
        assert composite_grade(term, {pair[0]: first, pair[1]: second}) == grade


@pytest.mark.parametrize(("attribute", "answer", "grade"), ONE_CELLS)
def test_single_attribute_rows(attribute: str, answer: int, grade: int) -> None:
    terms = {"frequency": ["diarrhea"], "severity": ["constipation", "itchy_skin"]}
    if attribute == "interference":
        # No single-interference item in DESIGN 7.1; hair loss "amount" uses this row.
        assert composite_grade("hair_loss", {"amount": answer}) == grade
        return
    for term in terms[attribute]:
        assert composite_grade(term, {attribute: answer}) == grade


@pytest.mark.parametrize(("amount", "grade"), [(0, 0), (1, 1), (2, 1), (3, 2), (4, 2)])
def test_hair_loss_amount_graded_like_interference(amount: int, grade: int) -> None:
    assert composite_grade("hair_loss", {"amount": amount}) == grade


@pytest.mark.parametrize("term", ["nausea", "vomiting", "abdominal_pain", "swelling"])
def test_frequency_zero_gives_zero_and_followups_may_be_absent(term: str) -> None:
    assert composite_grade(term, {"frequency": 0}) == 0
    assert composite_grade(term, {"frequency": 0, "severity": None, "interference": None}) == 0
    # Answers sent anyway are ignored by the branching (but still range-checked).
    answers = dict.fromkeys(SYMPTOM_TERMS[term], 4) | {"frequency": 0}
    assert composite_grade(term, answers) == 0


@pytest.mark.parametrize("term", ["insomnia", "fatigue", "shortness_of_breath"])
def test_severity_zero_gives_zero_for_severity_interference_items(term: str) -> None:
    assert composite_grade(term, {"severity": 0}) == 0
    assert composite_grade(term, {"severity": 0, "interference": 4}) == 0


def test_severity_zero_on_three_attribute_item_ignores_interference() -> None:
    assert composite_grade("abdominal_pain", {"frequency": 1, "severity": 0}) == 0
    assert composite_grade("abdominal_pain", {"frequency": 3, "severity": 0}) == 1
    assert (
        composite_grade("abdominal_pain", {"frequency": 3, "severity": 0, "interference": 4}) == 1
    )


@pytest.mark.parametrize(
    "answers",
    [{"present": True}, {"present": False}, {"present": 1}, {"present": 0}],
)
@pytest.mark.parametrize("term", ["rash", "sun_sensitivity", "bruising"])
def test_presence_items_have_no_composite(term: str, answers: dict[str, object]) -> None:
    assert composite_grade(term, answers) is None  # type: ignore[arg-type]


def test_whole_api_item_can_be_passed() -> None:
    item = {"term": "nausea", "frequency": 3, "severity": 3, "interference": None, "present": None}
    assert composite_grade("nausea", item) == 3  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("term", "answers", "message"),
    [
        ("headache", {"severity": 1}, "Unknown"),
        ("nausea", {"frequency": 2}, "missing"),
        ("nausea", {"severity": 2}, "missing"),
        ("abdominal_pain", {"frequency": 2, "severity": 2}, "missing"),
        ("insomnia", {"severity": 2}, "missing"),
        ("insomnia", {"interference": 2}, "missing"),
        ("diarrhea", {}, "missing"),
        ("diarrhea", {"frequency": None}, "missing"),
        ("rash", {}, "missing"),
        ("diarrhea", {"frequency": 2, "severity": 1}, "no attribute"),
        ("constipation", {"severity": 1, "frequency": 0}, "no attribute"),
        ("hair_loss", {"amount": 1, "interference": 1}, "no attribute"),
        ("rash", {"present": True, "severity": 1}, "no attribute"),
        ("nausea", {"frequency": 1, "severity": 1, "term": "vomiting"}, "no attribute"),
        ("nausea", {"frequency": 5, "severity": 1}, "0..4"),
        ("nausea", {"frequency": -1, "severity": 1}, "0..4"),
        ("nausea", {"frequency": 0, "severity": 7}, "0..4"),
        ("diarrhea", {"frequency": True}, "integer"),
        ("diarrhea", {"frequency": 2.0}, "integer"),
        ("rash", {"present": 2}, "yes/no"),
    ],
)
def test_composite_errors(term: str, answers: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        composite_grade(term, answers)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- CTCAE v5.0


def test_version() -> None:
    assert CTCAE_VERSION == "5.0"


@pytest.mark.parametrize(
    ("test", "value", "grade"),
    [
        # Neutrophil count decreased (10^9/L), LLN 2.0
        ("anc", "5.0", 0),
        ("anc", "2.0", 0),
        ("anc", "1.99", 1),
        ("anc", "1.5", 1),
        ("anc", "1.49", 2),
        ("anc", "1.0", 2),
        ("anc", "0.99", 3),
        ("anc", "0.5", 3),
        ("anc", "0.49", 4),
        ("anc", "0", 4),
        # Platelet count decreased (10^9/L), LLN 150
        ("platelets", "150", 0),
        ("platelets", "149", 1),
        ("platelets", "75", 1),
        ("platelets", "74.9", 2),
        ("platelets", "50", 2),
        ("platelets", "49", 3),
        ("platelets", "25", 3),
        ("platelets", "24", 4),
        # White blood cell decreased (10^9/L), LLN 4.0
        ("wbc", "4.0", 0),
        ("wbc", "3.9", 1),
        ("wbc", "3.0", 1),
        ("wbc", "2.99", 2),
        ("wbc", "2.0", 2),
        ("wbc", "1.99", 3),
        ("wbc", "1.0", 3),
        ("wbc", "0.99", 4),
        # Anaemia (g/dL), LLN 12.0; no value-based grade 4
        ("hemoglobin", "12.0", 0),
        ("hemoglobin", "11.9", 1),
        ("hemoglobin", "10.0", 1),
        ("hemoglobin", "9.9", 2),
        ("hemoglobin", "8.0", 2),
        ("hemoglobin", "7.9", 3),
        ("hemoglobin", "3.0", 3),
        # Creatinine increased (mg/dL), ULN 1.2: 1.5x = 1.8, 3x = 3.6, 6x = 7.2
        ("creatinine", "0.5", 0),
        ("creatinine", "1.2", 0),
        ("creatinine", "1.21", 1),
        ("creatinine", "1.8", 1),
        ("creatinine", "1.81", 2),
        ("creatinine", "3.6", 2),
        ("creatinine", "3.61", 3),
        ("creatinine", "7.2", 3),
        ("creatinine", "7.21", 4),
    ],
)
def test_ctcae_thresholds(test: str, value: str, grade: int) -> None:
    assert ctcae_grade(test, D(value)) == grade


@pytest.mark.parametrize(
    ("test", "value", "grade"),
    [("anc", 1.5, 1), ("anc", 1.0, 2), ("platelets", 75.0, 1), ("creatinine", 1.8, 1)],
)
def test_float_values_are_exact_at_boundaries(test: str, value: float, grade: int) -> None:
    assert ctcae_grade(test, value) == grade


def test_pregnancy_test_has_no_ctcae_grade() -> None:
    assert ctcae_grade("pregnancy_hcg", D("1")) is None


def test_lln_override() -> None:
    lln = {"anc": D("1.8")}
    assert ctcae_grade("anc", D("1.9"), lln=lln) == 0
    assert ctcae_grade("anc", D("1.8"), lln=lln) == 0
    assert ctcae_grade("anc", D("1.79"), lln=lln) == 1
    # Other tests keep their defaults.
    assert ctcae_grade("wbc", D("3.9"), lln=lln) == 1
    # An LLN below a cut-off does not soften the grade the cut-off defines.
    assert ctcae_grade("anc", D("1.45"), lln={"anc": D("1.4")}) == 2


def test_uln_override() -> None:
    uln = {"creatinine": D("1.0")}
    assert ctcae_grade("creatinine", D("1.1"), uln=uln) == 1
    assert ctcae_grade("creatinine", D("1.51"), uln=uln) == 2
    assert ctcae_grade("creatinine", D("6.01"), uln=uln) == 4


@pytest.mark.parametrize(
    ("test", "value", "message"),
    [
        ("sodium", D("140"), "Unknown lab test"),
        ("anc", D("-0.1"), "negative"),
        ("anc", float("nan"), "finite"),
        ("anc", D("Infinity"), "finite"),
        ("anc", True, "number"),
        ("anc", "1.5", "number"),
    ],
)
def test_ctcae_errors(test: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ctcae_grade(test, value)  # type: ignore[arg-type]
