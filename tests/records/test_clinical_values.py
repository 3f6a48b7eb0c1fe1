"""The numbers the server computes, read back through the API at their boundaries.

Composite PRO-CTCAE grades (../shared/pro_ctcae_composite.md), CTCAE v5.0 lab grades,
CLASI totals and bands (DESIGN.md section 4) and the weekly dose of each regimen pattern.
The full tables are unit-tested in tests/unit; here a few cells per table prove that the
API stores and returns what the pure modules compute.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.records.factories import (
    ClientFor,
    check_in_body,
    clasi_body,
    days_ago,
    lab_body,
    real_today,
    step_body,
    url,
)
from tracker.models import CheckIn, ClasiAssessment, LabResult, Patient, User

# --- PRO-CTCAE composite grades --------------------------------------------------------------

COMPOSITE = [
    # term, answers, composite grade
    ("nausea", {"frequency": 0}, 0),  # frequency 0 gives 0; severity not asked
    ("abdominal_pain", {"frequency": 0}, 0),
    ("abdominal_pain", {"frequency": 4, "severity": 4, "interference": 4}, 3),
    ("abdominal_pain", {"frequency": 1, "severity": 0, "interference": 0}, 0),
    ("abdominal_pain", {"frequency": 1, "severity": 0, "interference": 4}, 0),  # I not asked
    ("abdominal_pain", {"frequency": 3, "severity": 0}, 1),
    ("abdominal_pain", {"frequency": 4, "severity": 1, "interference": 2}, 2),
    ("abdominal_pain", {"frequency": 1, "severity": 2, "interference": 4}, 3),
    ("swelling", {"frequency": 2, "severity": 3, "interference": 2}, 2),
    ("swelling", {"frequency": 2, "severity": 3, "interference": 3}, 3),
    ("diarrhea", {"frequency": 4}, 3),
    ("diarrhea", {"frequency": 3}, 2),
    ("diarrhea", {"frequency": 2}, 1),
    ("diarrhea", {"frequency": 1}, 1),
    ("constipation", {"severity": 2}, 2),
    ("constipation", {"severity": 4}, 3),
    ("itchy_skin", {"severity": 3}, 3),
    ("hair_loss", {"amount": 4}, 2),
    ("nausea", {"frequency": 1, "severity": 3}, 2),
    ("nausea", {"frequency": 2, "severity": 2}, 2),
    ("nausea", {"frequency": 3, "severity": 3}, 3),
    ("vomiting", {"frequency": 4, "severity": 1}, 1),
    ("insomnia", {"severity": 0}, 0),
    ("insomnia", {"severity": 1, "interference": 0}, 1),
    ("insomnia", {"severity": 2, "interference": 4}, 3),
    ("fatigue", {"severity": 4, "interference": 0}, 2),
    ("shortness_of_breath", {"severity": 3, "interference": 1}, 2),
]


@pytest.mark.parametrize(
    ("term", "answers", "grade"),
    [
        pytest.param(t, a, g, id=f"{t}-{'-'.join(f'{k[0]}{v}' for k, v in a.items())}")
        for t, a, g in COMPOSITE
    ],
)
def test_check_in_gives_each_items_composite_grade(
    client_for: ClientFor, alice: Patient, term: str, answers: dict[str, int], grade: int
) -> None:
    response = client_for(alice.user).post(
        url("check-ins"), check_in_body(symptoms=[{"term": term, **answers}]), format="json"
    )

    assert response.status_code == 201, response.content
    [item] = response.json()["symptoms"]
    assert (item["term"], item["composite_grade"]) == (term, grade)
    stored = CheckIn.objects.get(public_id=response.json()["id"])
    assert stored.symptoms[0]["composite_grade"] == grade


def test_presence_items_have_no_composite_grade(client_for: ClientFor, alice: Patient) -> None:
    items = [
        {"term": "rash", "present": True},
        {"term": "bruising", "present": False},
        {"term": "nausea", "frequency": 2, "severity": 3},
    ]

    response = client_for(alice.user).post(
        url("check-ins"), check_in_body(symptoms=items), format="json"
    )

    grades = {
        s["term"]: (s.get("present"), s["composite_grade"]) for s in response.json()["symptoms"]
    }
    assert grades == {"rash": (True, None), "bruising": (False, None), "nausea": (None, 2)}
    assert response.json()["instrument_version"].startswith("PRO-CTCAE")


def test_a_client_cannot_set_the_composite_grade(client_for: ClientFor, alice: Patient) -> None:
    item = {"term": "diarrhea", "frequency": 1, "composite_grade": 3}

    response = client_for(alice.user).post(
        url("check-ins"), check_in_body(symptoms=[item]), format="json"
    )

    assert response.json()["symptoms"][0]["composite_grade"] == 1


# --- CTCAE v5.0 lab grades -------------------------------------------------------------------

CTCAE = [
    ("anc", "2.0", 0),  # the default LLN is normal
    ("anc", "1.99", 1),
    ("anc", "1.5", 1),
    ("anc", "1.49", 2),
    ("anc", "1.0", 2),
    ("anc", "0.99", 3),
    ("anc", "0.5", 3),
    ("anc", "0.49", 4),
    ("anc", "0", 4),
    ("platelets", "150", 0),
    ("platelets", "149", 1),
    ("platelets", "75", 1),
    ("platelets", "74.9", 2),
    ("platelets", "50", 2),
    ("platelets", "49.9", 3),
    ("platelets", "25", 3),  # CTCAE v5.0 grade 4 is < 25
    ("platelets", "24.9", 4),
    ("wbc", "3.0", 1),
    ("wbc", "2.99", 2),
    ("hemoglobin", "10.0", 1),
    ("hemoglobin", "7.9", 3),
    ("creatinine", "1.2", 0),
    ("creatinine", "1.21", 1),
    ("creatinine", "1.81", 2),
    ("creatinine", "3.61", 3),
    ("creatinine", "7.21", 4),
]


@pytest.mark.parametrize(
    ("test", "value", "grade"), [pytest.param(*c, id=f"{c[0]}-{c[1]}") for c in CTCAE]
)
def test_lab_result_gives_the_ctcae_grade_and_version(
    client_for: ClientFor, nurse: User, alice: Patient, test: str, value: str, grade: int
) -> None:
    response = client_for(nurse).post(
        url("lab-results"), lab_body(alice, test=test, value=value), format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["ctcae_grade"], body["ctcae_version"]) == (grade, "5.0")
    assert Decimal(body["value"]) == Decimal(value)
    assert LabResult.objects.get(public_id=body["id"]).ctcae_grade == grade


def test_a_pregnancy_test_has_a_result_and_no_grade(
    client_for: ClientFor, nurse: User, alice: Patient
) -> None:
    body = lab_body(alice, test="pregnancy_hcg", value=None, result="positive")

    response = client_for(nurse).post(url("lab-results"), body, format="json")

    assert response.status_code == 201
    out = response.json()
    assert (out["result"], out["value"], out["ctcae_grade"], out["ctcae_version"]) == (
        "positive",
        None,
        None,
        "",
    )


def test_counts_default_to_si_units(client_for: ClientFor, nurse: User, alice: Patient) -> None:
    response = client_for(nurse).post(url("lab-results"), lab_body(alice), format="json")

    assert response.json()["unit"] == "10^9/L"


# --- CLASI totals and bands ------------------------------------------------------------------

FULL = {"erythema": 3, "scale": 2}
ALL_AREAS = (
    "scalp", "ears", "nose", "face", "v_neck", "posterior_neck", "chest",
    "abdomen", "back", "arms", "hands", "legs", "feet",
)  # fmt: skip


def areas(*scores: dict[str, int]) -> dict[str, dict[str, int]]:
    names = ["face", "arms", "chest", "back", "legs", "hands", "ears"]
    return dict(zip(names, scores, strict=False))


CLASI_ACTIVITY = [
    ("zero", {"areas": {}}, 0, "mild"),
    ("9 mild", {"areas": areas(FULL, {"erythema": 3, "scale": 1})}, 9, "mild"),
    (
        "10 moderate",
        {"areas": areas(FULL, {"erythema": 3, "scale": 1}), "mucous_membrane": 1},
        10,
        "moderate",
    ),
    ("20 moderate", {"areas": areas(FULL, FULL, FULL, FULL)}, 20, "moderate"),
    (
        "21 severe",
        {"areas": areas(FULL, FULL, FULL, FULL), "recent_hair_loss": 1},
        21,
        "severe",
    ),
    (
        "70 maximum",
        {
            "areas": dict.fromkeys(ALL_AREAS, FULL),
            "mucous_membrane": 1,
            "recent_hair_loss": 1,
            "nonscarring_alopecia": 3,
        },
        70,
        "severe",
    ),
]


@pytest.mark.parametrize(
    ("fields", "activity", "band"),
    [pytest.param(f, a, b, id=name) for name, f, a, b in CLASI_ACTIVITY],
)
def test_clasi_activity_and_band(
    client_for: ClientFor,
    clinician: User,
    alice: Patient,
    fields: dict[str, Any],
    activity: int,
    band: str,
) -> None:
    response = client_for(clinician).post(
        url("clasi-assessments"), clasi_body(alice, **fields), format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["activity_score"], body["activity_band"]) == (activity, band)
    assert (body["instrument"], body["instrument_version"]) == ("CLASI", "Albrecht 2005")


DAMAGE_AREAS = {
    "face": {"dyspigmentation": 1},
    "arms": {"dyspigmentation": 1, "scarring": 1},
    "chest": {"dyspigmentation": 1},
    "legs": {"scarring": 2},
    "scalp": {"erythema": 1},
}


@pytest.mark.parametrize(
    ("lasting", "scalp_scarring", "damage"),
    [
        pytest.param(False, 0, 3 + 3, id="short-lived dyspigmentation"),
        pytest.param(True, 0, 6 + 3, id="dyspigmentation >= 12 months doubles"),
        pytest.param(True, 4, 6 + 3 + 4, id="plus two scalp quadrants"),
        pytest.param(False, 6, 3 + 3 + 6, id="plus whole skull"),
    ],
)
def test_clasi_damage_doubles_lasting_dyspigmentation_and_adds_scalp_scarring(
    client_for: ClientFor,
    clinician: User,
    alice: Patient,
    lasting: bool,
    scalp_scarring: int,
    damage: int,
) -> None:
    body = clasi_body(
        alice,
        areas=DAMAGE_AREAS,
        dyspigmentation_lasting=lasting,
        scalp_scarring=scalp_scarring,
    )

    response = client_for(clinician).post(url("clasi-assessments"), body, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["damage_score"], response.json()["activity_score"]) == (damage, 1)


def test_clasi_totals_are_the_servers(
    client_for: ClientFor, clinician: User, alice: Patient
) -> None:
    body = clasi_body(
        alice,
        areas={"face": {"erythema": 1}},
        activity_score=50,
        damage_score=9,
        activity_band="severe",
    )

    response = client_for(clinician).post(url("clasi-assessments"), body, format="json")

    out = response.json()
    assert (out["activity_score"], out["damage_score"], out["activity_band"]) == (1, 0, "mild")
    stored = ClasiAssessment.objects.get(public_id=out["id"])
    assert (stored.activity_score, stored.damage_score) == (1, 0)


# --- regimen steps: weekly dose and reductions -----------------------------------------------

WEEKLY = [
    ("daily 5", {"pattern": "daily", "dose_mg": "5"}, "35"),
    ("daily 2.5", {"pattern": "daily", "dose_mg": "2.5"}, "17.5"),
    ("alternate_days 5", {"pattern": "alternate_days", "dose_mg": "5"}, "17.5"),
    ("weekdays 0,2,4 5", {"pattern": "weekdays", "weekdays": [0, 2, 4], "dose_mg": "5"}, "15"),
    (
        "cycle 21/28 10",
        {"pattern": "cycle", "cycle_days_on": 21, "cycle_length": 28, "dose_mg": "10"},
        "52.5",
    ),
    ("hold", {"pattern": "hold", "dose_mg": "5", "reason": "hold_toxicity"}, "0"),
    ("stopped", {"pattern": "stopped", "dose_mg": "0", "reason": "withdrawal"}, "0"),
]


@pytest.mark.parametrize(
    ("fields", "weekly"), [pytest.param(f, w, id=name) for name, f, w in WEEKLY]
)
def test_regimen_step_weekly_dose(
    client_for: ClientFor, clinician: User, alice: Patient, fields: dict[str, Any], weekly: str
) -> None:
    response = client_for(clinician).post(
        url("patients", alice.public_id, "regimen-steps"), step_body(**fields), format="json"
    )

    assert response.status_code == 201, response.content
    assert Decimal(response.json()["weekly_dose_mg"]) == Decimal(weekly)
    assert response.json()["pattern"] == fields["pattern"]


def post_steps(client: Any, patient: Patient, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    path = url("patients", patient.public_id, "regimen-steps")
    start = real_today() - timedelta(days=200)
    for n, fields in enumerate(steps):
        starts_on = start + timedelta(days=28 * n)
        response = client.post(path, step_body(starts_on=str(starts_on), **fields), format="json")
        assert response.status_code == 201, response.content
    listed = client.get(path).json()
    assert len(listed) == len(steps)
    return listed


def test_is_reduction_marks_tapers_and_withdrawal(
    client_for: ClientFor, clinician: User, alice: Patient
) -> None:
    listed = post_steps(
        client_for(clinician),
        alice,
        [
            {"pattern": "daily", "dose_mg": "5", "reason": "start"},
            {"pattern": "daily", "dose_mg": "10", "reason": "escalation"},
            {"pattern": "daily", "dose_mg": "5", "reason": "taper"},
            {"pattern": "alternate_days", "dose_mg": "5", "reason": "taper"},
            {"pattern": "alternate_days", "dose_mg": "10", "reason": "escalation"},
            {"pattern": "stopped", "dose_mg": "0", "reason": "withdrawal"},
        ],
    )

    assert [(s["weekly_dose_mg"], s["is_reduction"]) for s in listed] == [
        ("35.00", False),
        ("70.00", False),
        ("35.00", True),
        ("17.50", True),
        ("35.00", False),
        ("0.00", True),
    ]


def test_a_hold_is_not_a_reduction_and_is_transparent(
    client_for: ClientFor, clinician: User, alice: Patient
) -> None:
    listed = post_steps(
        client_for(clinician),
        alice,
        [
            {"pattern": "daily", "dose_mg": "10", "reason": "start"},
            {"pattern": "hold", "dose_mg": "0", "reason": "hold_toxicity"},
            {"pattern": "daily", "dose_mg": "5", "reason": "taper"},
            {"pattern": "hold", "dose_mg": "0", "reason": "hold_toxicity"},
            {"pattern": "stopped", "dose_mg": "0", "reason": "withdrawal"},
        ],
    )

    assert [s["is_reduction"] for s in listed] == [False, False, True, False, True]


def test_a_step_on_the_same_day_replaces_the_current_one(
    client_for: ClientFor, clinician: User, alice: Patient
) -> None:
    client = client_for(clinician)
    path = url("patients", alice.public_id, "regimen-steps")
    day = str(days_ago(5))

    client.post(path, step_body(starts_on=day, dose_mg="10"), format="json")
    client.post(path, step_body(starts_on=day, dose_mg="5"), format="json")

    listed = client.get(path).json()
    assert [(s["starts_on"], s["dose_mg"]) for s in listed] == [(day, "5.00")]
    assert alice.steps.count() == 2  # the replaced step is kept, superseded
