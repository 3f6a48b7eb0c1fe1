"""Every bad input to the clinical-records endpoints is a 400/404/409/422 problem+json.

Each case names the field the client must fix (errors[].attr) and checks that nothing was
written. The personas' clients re-raise server exceptions, so a 500 fails loudly.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import make_patient
from tests.records.factories import (
    ClientFor,
    assert_problem,
    check_in,
    check_in_body,
    days_ago,
    dose_body,
    dose_log,
    enrolment_body,
    real_today,
    step,
    step_body,
    url,
)
from tests.records.factories import lab as lab_row
from tracker.models import (
    CheckIn,
    ClasiAssessment,
    DoseLog,
    LabResult,
    Patient,
    Prescription,
    RegimenStep,
    User,
)

TOMORROW = str(real_today() + timedelta(days=2))
FUTURE_TIME = (datetime.now(UTC) + timedelta(days=2)).isoformat()
PAST_TIME = (datetime.now(UTC) - timedelta(days=1)).isoformat()
MODELS = (CheckIn, ClasiAssessment, DoseLog, LabResult, Patient, Prescription, RegimenStep)


def lab(**overrides: Any) -> dict[str, Any]:
    return {"patient": "{alice}", "test": "anc", "value": "2.1", "collected_at": PAST_TIME} | (
        overrides
    )


def clasi(**overrides: Any) -> dict[str, Any]:
    body = {"patient": "{alice}", "assessed_on": str(days_ago(1)), "areas": {"face": {}}}
    return body | overrides


def area(name: str, **scores: Any) -> dict[str, Any]:
    return clasi(areas={name: scores})


def rx(**overrides: Any) -> dict[str, Any]:
    body = {
        "patient": "{alice}",
        "issued_on": str(days_ago(1)),
        "dose_mg": "5",
        "quantity": 28,
        "days_supply": 28,
        "authorization_number": "AUTH-1234",
        "risk_category": "female_reproductive",
    }
    return body | overrides


def symptoms(*items: dict[str, Any]) -> dict[str, Any]:
    return check_in_body(symptoms=list(items))


@dataclass(frozen=True)
class Bad:
    actor: str
    method: str
    path: str
    body: Any
    status: int = 400
    attr: str | None = None  # an errors[].attr equal to this or inside it ("areas" ~ "areas.x")
    code: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


CHECK_INS = url("check-ins")
DOSES = url("dose-logs")
LABS = url("lab-results")
CLASI = url("clasi-assessments")
RX = url("prescriptions")
STEPS = url("patients", "{alice}", "regimen-steps")
PATIENTS = url("patients")
ALICE = url("patients", "{alice}")
SCHEDULE = url("patients", "{alice}", "schedule")
ADHERENCE = url("patients", "{alice}", "adherence")

CASES: dict[str, Bad] = {
    # --- check-ins: PRO-CTCAE items have exactly their term's attributes, each 0-4
    "check-in diarrhea has no severity": Bad(
        "alice",
        "post",
        CHECK_INS,
        symptoms({"term": "diarrhea", "frequency": 2, "severity": 2}),
        attr="symptoms.0",
    ),
    "check-in constipation has no frequency": Bad(
        "alice",
        "post",
        CHECK_INS,
        symptoms({"term": "constipation", "frequency": 1}),
        attr="symptoms.0",
    ),
    "check-in answer 5": Bad(
        "alice",
        "post",
        CHECK_INS,
        symptoms({"term": "nausea", "frequency": 5, "severity": 1}),
        attr="symptoms.0.frequency",
    ),
    "check-in answer -1": Bad(
        "alice",
        "post",
        CHECK_INS,
        symptoms({"term": "nausea", "frequency": 1, "severity": -1}),
        attr="symptoms.0.severity",
    ),
    "check-in unknown term": Bad(
        "alice",
        "post",
        CHECK_INS,
        symptoms({"term": "headache", "severity": 1}),
        attr="symptoms.0.term",
    ),
    "check-in duplicate term": Bad(
        "alice",
        "post",
        CHECK_INS,
        symptoms(
            {"term": "fatigue", "severity": 1, "interference": 1},
            {"term": "fatigue", "severity": 2, "interference": 2},
        ),
        attr="symptoms.1.term",
    ),
    "check-in missing attribute": Bad(
        "alice",
        "post",
        CHECK_INS,
        symptoms({"term": "abdominal_pain", "frequency": 2}),
        attr="symptoms.0",
    ),
    "check-in presence item without answer": Bad(
        "alice", "post", CHECK_INS, symptoms({"term": "rash"}), attr="symptoms.0"
    ),
    "check-in presence not a bool": Bad(
        "alice",
        "post",
        CHECK_INS,
        symptoms({"term": "rash", "present": "maybe"}),
        attr="symptoms.0.present",
    ),
    "check-in item not an object": Bad(
        "alice",
        "post",
        CHECK_INS,
        symptoms("nausea"),
        attr="symptoms.0",  # type: ignore[arg-type]
    ),
    "check-in symptoms not a list": Bad(
        "alice", "post", CHECK_INS, check_in_body(symptoms="nausea"), attr="symptoms"
    ),
    "check-in itch 11": Bad("alice", "post", CHECK_INS, check_in_body(itch=11), attr="itch"),
    "check-in pain -1": Bad("alice", "post", CHECK_INS, check_in_body(pain=-1), attr="pain"),
    "check-in global activity a string": Bad(
        "alice", "post", CHECK_INS, check_in_body(global_activity="high"), attr="global_activity"
    ),
    "check-in unknown lesion area": Bad(
        "alice",
        "post",
        CHECK_INS,
        check_in_body(new_lesions=True, lesion_areas=["elbow"]),
        attr="lesion_areas.0",
    ),
    "check-in lesion areas without new lesions": Bad(
        "alice", "post", CHECK_INS, check_in_body(lesion_areas=["face"]), attr="lesion_areas"
    ),
    "check-in red flag not a bool": Bad(
        "alice", "post", CHECK_INS, check_in_body(chest_pain="sometimes"), attr="chest_pain"
    ),
    "check-in answered in the future": Bad(
        "alice", "post", CHECK_INS, check_in_body(answered_at=FUTURE_TIME), attr="answered_at"
    ),
    "check-in answered in year 1": Bad(
        "alice",
        "post",
        CHECK_INS,
        check_in_body(answered_at="0001-01-01T00:00:00Z"),
        attr="answered_at",
    ),
    "check-in without client_id": Bad(
        "alice", "post", CHECK_INS, check_in_body(client_id=None), attr="client_id"
    ),
    "check-in malformed client_id": Bad(
        "alice", "post", CHECK_INS, check_in_body(client_id="abc"), attr="client_id"
    ),
    # --- labs
    "lab pregnancy test with a value": Bad(
        "nurse",
        "post",
        LABS,
        lab(test="pregnancy_hcg", result="negative", value="3"),
        attr="value",
    ),
    "lab pregnancy test without result": Bad(
        "nurse", "post", LABS, lab(test="pregnancy_hcg", value=None), attr="result"
    ),
    "lab pregnancy test for a male": Bad(
        "nurse",
        "post",
        LABS,
        lab(patient="{bob}", test="pregnancy_hcg", result="negative", value=None),
        attr="test",
    ),
    "lab collected in the future": Bad(
        "nurse", "post", LABS, lab(collected_at=FUTURE_TIME), attr="collected_at"
    ),
    "lab negative value": Bad("nurse", "post", LABS, lab(value="-0.5"), attr="value"),
    "lab count without value": Bad("nurse", "post", LABS, lab(value=None), attr="value"),
    "lab count with a result": Bad("nurse", "post", LABS, lab(result="positive"), attr="result"),
    "lab unknown test": Bad("nurse", "post", LABS, lab(test="glucose"), attr="test"),
    "lab value not a number": Bad("nurse", "post", LABS, lab(value="low"), attr="value"),
    "lab value NaN": Bad("nurse", "post", LABS, lab(value="NaN"), attr="value"),
    "lab without patient": Bad("nurse", "post", LABS, lab(patient=None), attr="patient"),
    "lab malformed patient": Bad("nurse", "post", LABS, lab(patient="abc"), attr="patient"),
    "lab patient of another clinic": Bad(
        "nurse", "post", LABS, lab(patient="{carol}"), attr="patient"
    ),
    # --- CLASI
    "clasi erythema 4": Bad(
        "clinician", "post", CLASI, area("face", erythema=4), attr="areas.face.erythema"
    ),
    "clasi scale 3": Bad(
        "clinician", "post", CLASI, area("arms", scale=3), attr="areas.arms.scale"
    ),
    "clasi dyspigmentation 2": Bad(
        "clinician",
        "post",
        CLASI,
        area("chest", dyspigmentation=2),
        attr="areas.chest.dyspigmentation",
    ),
    "clasi scarring 3": Bad(
        "clinician", "post", CLASI, area("legs", scarring=3), attr="areas.legs.scarring"
    ),
    "clasi scarring on the scalp": Bad(
        "clinician", "post", CLASI, area("scalp", scarring=1), attr="areas.scalp.scarring"
    ),
    "clasi scalp_scarring 2": Bad(
        "clinician", "post", CLASI, clasi(scalp_scarring=2), attr="scalp_scarring"
    ),
    "clasi unknown area": Bad("clinician", "post", CLASI, area("elbow", erythema=1), attr="areas"),
    "clasi mucous membrane 2": Bad(
        "clinician", "post", CLASI, clasi(mucous_membrane=2), attr="mucous_membrane"
    ),
    "clasi non-scarring alopecia 4": Bad(
        "clinician", "post", CLASI, clasi(nonscarring_alopecia=4), attr="nonscarring_alopecia"
    ),
    "clasi areas a list": Bad("clinician", "post", CLASI, clasi(areas=[]), attr="areas"),
    "clasi area scores not an object": Bad(
        "clinician", "post", CLASI, clasi(areas={"face": 3}), attr="areas.face"
    ),
    "clasi assessed in the future": Bad(
        "clinician", "post", CLASI, clasi(assessed_on=TOMORROW), attr="assessed_on"
    ),
    "clasi patient of another clinic": Bad(
        "clinician", "post", CLASI, clasi(patient="{carol}"), attr="patient"
    ),
    # --- prescriptions (REMS)
    "prescription 29 days": Bad("clinician", "post", RX, rx(days_supply=29), attr="days_supply"),
    "prescription wrong risk category": Bad(
        "clinician",
        "post",
        RX,
        rx(risk_category="female_not_reproductive"),
        attr="risk_category",
    ),
    "prescription unknown risk category": Bad(
        "clinician", "post", RX, rx(risk_category="low"), attr="risk_category"
    ),
    "prescription 7 mg": Bad("clinician", "post", RX, rx(dose_mg="7"), attr="dose_mg"),
    "prescription without authorization": Bad(
        "clinician", "post", RX, rx(authorization_number=None), attr="authorization_number"
    ),
    "prescription malformed authorization": Bad(
        "clinician", "post", RX, rx(authorization_number="#1"), attr="authorization_number"
    ),
    "prescription quantity a string": Bad(
        "clinician", "post", RX, rx(quantity="twenty"), attr="quantity"
    ),
    "prescription days_supply null": Bad(
        "clinician", "post", RX, rx(days_supply=None), attr="days_supply"
    ),
    # --- regimen steps
    "step 7 mg": Bad("clinician", "post", STEPS, step_body(dose_mg="7"), attr="dose_mg"),
    "step 30 mg": Bad("clinician", "post", STEPS, step_body(dose_mg="30"), attr="dose_mg"),
    "step weekdays without weekdays": Bad(
        "clinician", "post", STEPS, step_body(pattern="weekdays"), attr="weekdays"
    ),
    "step weekday 7": Bad(
        "clinician",
        "post",
        STEPS,
        step_body(pattern="weekdays", weekdays=[7]),
        attr="weekdays.0",
    ),
    "step repeated weekdays": Bad(
        "clinician",
        "post",
        STEPS,
        step_body(pattern="weekdays", weekdays=[1, 1]),
        attr="weekdays",
    ),
    "step weekdays on a daily pattern": Bad(
        "clinician", "post", STEPS, step_body(weekdays=[1]), attr="weekdays"
    ),
    "step cycle 28 of 21": Bad(
        "clinician",
        "post",
        STEPS,
        step_body(pattern="cycle", cycle_days_on=28, cycle_length=21),
        attr="cycle_days_on",
    ),
    "step cycle without length": Bad(
        "clinician",
        "post",
        STEPS,
        step_body(pattern="cycle", cycle_days_on=21),
        attr="cycle_length",
    ),
    "step hold of 7 mg": Bad(
        "clinician",
        "post",
        STEPS,
        step_body(pattern="hold", dose_mg="7", reason="hold_toxicity"),
        attr="dose_mg",
    ),
    "step hold with a cycle": Bad(
        "clinician",
        "post",
        STEPS,
        step_body(pattern="hold", dose_mg="0", cycle_days_on=21, cycle_length=28),
        attr="cycle_days_on",
    ),
    "step unknown pattern": Bad(
        "clinician", "post", STEPS, step_body(pattern="weekly"), attr="pattern"
    ),
    "step without reason": Bad("clinician", "post", STEPS, step_body(reason=None), attr="reason"),
    "step cycle length a string": Bad(
        "clinician",
        "post",
        STEPS,
        step_body(pattern="cycle", cycle_days_on=21, cycle_length="x"),
        attr="cycle_length",
    ),
    # --- dose logs
    "dose for a future day": Bad(
        "alice", "post", DOSES, dose_body(scheduled_date=TOMORROW), attr="scheduled_date"
    ),
    "dose taken on a day with no scheduled dose, without dose_mg": Bad(
        "alice", "post", DOSES, dose_body(status="taken"), attr="dose_mg"
    ),
    "dose missed with a dose": Bad(
        "alice", "post", DOSES, dose_body(status="missed", dose_mg="5"), attr="dose_mg"
    ),
    "dose 30 mg": Bad(
        "alice", "post", DOSES, dose_body(status="taken", dose_mg="30"), attr="dose_mg"
    ),
    "dose unknown status": Bad("alice", "post", DOSES, dose_body(status="forgot"), attr="status"),
    "dose taken in the future": Bad(
        "alice",
        "post",
        DOSES,
        dose_body(status="taken", dose_mg="5", taken_at=FUTURE_TIME),
        attr="taken_at",
    ),
    "dose scheduled_date null": Bad(
        "alice", "post", DOSES, dose_body(scheduled_date=None), attr="scheduled_date"
    ),
    "dose scheduled_date a number": Bad(
        "alice", "post", DOSES, dose_body(scheduled_date=20261101), attr="scheduled_date"
    ),
    "dose status a list": Bad("alice", "post", DOSES, dose_body(status=["taken"]), attr="status"),
    "dose correction without client_id": Bad(
        "alice",
        "patch",
        url("dose-logs", "{alice_dose}"),
        {"status": "skipped"},
        attr="client_id",
    ),
    "dose correction to an unknown status": Bad(
        "alice",
        "patch",
        url("dose-logs", "{alice_dose}"),
        {"client_id": "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", "status": "teleported"},
        attr="status",
    ),
    # --- patients
    "enrol unknown time zone": Bad(
        "clinician", "post", PATIENTS, enrolment_body(timezone="Mars/Olympus"), attr="timezone"
    ),
    "enrol male with reproductive potential": Bad(
        "clinician",
        "post",
        PATIENTS,
        enrolment_body(sex="male", reproductive_potential=True),
        attr="reproductive_potential",
    ),
    "enrol born tomorrow": Bad(
        "clinician",
        "post",
        PATIENTS,
        enrolment_body(date_of_birth=TOMORROW),
        attr="date_of_birth",
    ),
    "enrol unknown subtype": Bad(
        "clinician", "post", PATIENTS, enrolment_body(cle_subtype="systemic"), attr="cle_subtype"
    ),
    "enrol sex null": Bad("clinician", "post", PATIENTS, enrolment_body(sex=None), attr="sex"),
    "enrol an existing e-mail": Bad(
        "clinician",
        "post",
        PATIENTS,
        enrolment_body(email="ALICE@patient.test"),
        status=409,
        code="email_taken",
    ),
    "enrol an existing MRN": Bad(
        "clinician", "post", PATIENTS, enrolment_body(mrn="A001"), status=409, code="mrn_taken"
    ),
    "enrol a care team from another clinic": Bad(
        "clinician",
        "post",
        PATIENTS,
        enrolment_body(care_team=["{other_nurse}"]),
        attr="care_team",
    ),
    "patch unknown status": Bad("clinician", "patch", ALICE, {"status": "deleted"}, attr="status"),
    "patch unknown time zone": Bad(
        "clinician", "patch", ALICE, {"timezone": "Nowhere"}, attr="timezone"
    ),
    # --- schedule, adherence, timeline, lists
    "schedule from after to": Bad(
        "nurse", "get", SCHEDULE, {"from": "2026-11-10", "to": "2026-11-01"}, attr="to"
    ),
    "schedule over 366 days": Bad(
        "nurse", "get", SCHEDULE, {"from": "2026-01-01", "to": "2027-01-02"}, attr="to"
    ),
    "schedule malformed from": Bad("nurse", "get", SCHEDULE, {"from": "yesterday"}, attr="from"),
    "adherence from after to": Bad(
        "nurse", "get", ADHERENCE, {"from": "2026-11-10", "to": "2026-11-01"}, attr="from"
    ),
    "adherence over 366 days": Bad(
        "nurse", "get", ADHERENCE, {"from": "2025-01-01", "to": "2026-11-01"}, attr="to"
    ),
    "adherence default start before year 1": Bad(
        "nurse", "get", ADHERENCE, {"to": "0001-01-05"}, attr="to"
    ),
    "timeline malformed since": Bad(
        "nurse",
        "get",
        url("patients", "{alice}", "timeline"),
        {"since": "last week"},
        attr="since",
    ),
    "list malformed patient filter": Bad("nurse", "get", DOSES, {"patient": "abc"}, attr="patient"),
    "list malformed from": Bad("nurse", "get", LABS, {"from": "2026-13-01"}, attr="from"),
    "list page out of range": Bad("nurse", "get", CHECK_INS, {"page": "99"}, status=404),
    # --- sync
    "sync malformed cursor": Bad("alice", "get", url("sync"), {"since": "!!"}, attr="since"),
    "sync cursor without offset": Bad(
        "alice",
        "get",
        url("sync"),
        {"since": base64.urlsafe_b64encode(b"2026-11-01T10:00:00").decode()},
        attr="since",
    ),
    "sync cursor in year 1": Bad(
        "alice",
        "get",
        url("sync"),
        {"since": base64.urlsafe_b64encode(b"0001-01-01T00:00:00+00:00").decode()},
        attr="since",
    ),
    "sync cursor at the end of time": Bad(
        "alice",
        "get",
        url("sync"),
        {"since": base64.urlsafe_b64encode(b"9999-12-31T23:59:59-23:59").decode()},
        attr="since",
    ),
    "sync batch not an object": Bad(
        "alice", "post", url("sync"), [dose_body()], attr="non_field_errors"
    ),
    "sync dose_logs not a list": Bad(
        "alice", "post", url("sync"), {"dose_logs": "x"}, attr="dose_logs"
    ),
}

# A list, a string, a number or null where an object is expected, on every write.
WRITES = {
    "dose-logs": ("alice", DOSES),
    "check-ins": ("alice", CHECK_INS),
    "lab-results": ("nurse", LABS),
    "clasi-assessments": ("clinician", CLASI),
    "prescriptions": ("clinician", RX),
    "regimen-steps": ("clinician", STEPS),
    "patients": ("clinician", PATIENTS),
    "patients patch": ("clinician", ALICE),
    "dose-logs patch": ("alice", url("dose-logs", "{alice_dose}")),
}
for _name, (_actor, _path) in WRITES.items():
    _method = "patch" if _name.endswith("patch") else "post"
    for _label, _body in (("a list", [1, 2]), ("a string", "hello"), ("a number", 7)):
        CASES[f"{_name} body {_label}"] = Bad(
            _actor, _method, _path, _body, attr="non_field_errors"
        )


def fill(value: Any, ids: dict[str, str]) -> Any:
    """Replace "{name}" placeholders in paths and bodies with the fixtures' ids."""
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


@pytest.fixture
def ids(alice: Patient, bob: Patient, carol: Patient, other_nurse: User) -> dict[str, str]:
    return {
        "alice": str(alice.public_id),
        "bob": str(bob.public_id),
        "carol": str(carol.public_id),
        "other_nurse": str(other_nurse.public_id),
        "alice_dose": str(dose_log(alice, days_ago(3), status="missed").public_id),
    }


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS}


def has_attr(body: dict[str, Any], attr: str) -> bool:
    return any(
        e.get("attr") == attr or str(e.get("attr")).startswith(f"{attr}.") for e in body["errors"]
    )


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_a_problem(
    name: str,
    ids: dict[str, str],
    client_for: ClientFor,
    request: pytest.FixtureRequest,
) -> None:
    case = CASES[name]
    fixture = request.getfixturevalue(case.actor)
    user = fixture.user if isinstance(fixture, Patient) else fixture
    client = client_for(user)
    before = counts()
    path, body = fill(case.path, ids), fill(case.body, ids)

    if case.method == "get":
        response = client.get(path, body)
    else:
        response = getattr(client, case.method)(path, body, format="json")

    problem = assert_problem(response, case.status, case.code)
    if case.status == 400:
        assert problem["code"] == "validation_error"
        assert all("attr" in e and "code" in e for e in problem["errors"])
    if case.attr is not None:
        assert has_attr(problem, case.attr), problem["errors"]
    assert counts() == before


# --- accepted neighbours of the refused values -------------------------------------------


@pytest.mark.parametrize(
    ("path", "actor", "body"),
    [
        pytest.param(RX, "clinician", rx(days_supply=28), id="prescription 28 days"),
        pytest.param(RX, "clinician", rx(dose_mg="2.5"), id="prescription 2.5 mg"),
        pytest.param(CLASI, "clinician", clasi(scalp_scarring=6), id="clasi scalp_scarring 6"),
        pytest.param(CLASI, "clinician", area("scalp", erythema=3, scale=2), id="clasi scalp"),
        pytest.param(
            LABS,
            "nurse",
            lab(test="pregnancy_hcg", result="negative", value=None),
            id="pregnancy test for a female",
        ),
        pytest.param(CHECK_INS, "alice", check_in_body(itch=10, pain=0), id="check-in itch 10"),
        pytest.param(
            CHECK_INS,
            "alice",
            check_in_body(new_lesions=True, lesion_areas=["face", "arms"]),
            id="check-in lesion areas",
        ),
        pytest.param(
            STEPS,
            "clinician",
            step_body(pattern="hold", dose_mg="0", reason="hold_toxicity"),
            id="step hold 0 mg",
        ),
    ],
)
def test_boundary_values_are_accepted(
    path: str,
    actor: str,
    body: dict[str, Any],
    ids: dict[str, str],
    client_for: ClientFor,
    request: pytest.FixtureRequest,
) -> None:
    fixture = request.getfixturevalue(actor)
    user = fixture.user if isinstance(fixture, Patient) else fixture

    response = client_for(user).post(fill(path, ids), fill(body, ids), format="json")

    assert response.status_code == 201, response.content


def test_prescription_risk_category_follows_the_patient(
    client_for: ClientFor, clinician: User, bob: Patient
) -> None:
    client = client_for(clinician)
    body = fill(rx(patient="{bob}"), {"bob": str(bob.public_id)})

    refused = client.post(RX, body, format="json")
    accepted = client.post(RX, {**body, "risk_category": "male"}, format="json")

    assert_problem(refused, 400)
    assert accepted.status_code == 201
    assert Prescription.objects.filter(patient=bob).count() == 1


# --- malformed ids in URLs are 404 -------------------------------------------------------

MALFORMED = ["not-a-uuid", "12345", "-" * 36, "0123456789abcdef0123456789abcdefff", "g" * 32]


@pytest.mark.parametrize("bad_id", MALFORMED)
@pytest.mark.parametrize(
    "template",
    [
        "patients/{}/",
        "patients/{}/regimen-steps/",
        "patients/{}/schedule/",
        "patients/{}/adherence/",
        "patients/{}/timeline/",
        "dose-logs/{}/",
        "check-ins/{}/",
        "lab-results/{}/",
        "clasi-assessments/{}/",
        "prescriptions/{}/",
    ],
)
def test_malformed_ids_in_urls_are_404(
    template: str, bad_id: str, client_for: ClientFor, nurse: User
) -> None:
    response = client_for(nurse).get("/api/v1/" + template.format(bad_id))

    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize("method", ["patch", "post"])
@pytest.mark.parametrize("bad_id", MALFORMED)
def test_writes_to_malformed_ids_are_404(
    method: str, bad_id: str, client_for: ClientFor, alice: Patient, clinician: User
) -> None:
    if method == "patch":
        response = client_for(alice.user).patch(
            f"/api/v1/dose-logs/{bad_id}/", {"client_id": str(alice.public_id)}, format="json"
        )
    else:
        response = client_for(clinician).post(
            f"/api/v1/patients/{bad_id}/regimen-steps/", step_body(), format="json"
        )

    assert_problem(response, 404, "not_found")
    assert not DoseLog.objects.exists()
    assert not RegimenStep.objects.exists()


# --- bodies that are not JSON objects at all ------------------------------------------------


@pytest.mark.parametrize("raw", ['{"client_id": ', "[[[[", "\x00", "nan", '{"a": 1}{'])
def test_malformed_json_is_400_parse_error(raw: str, client_for: ClientFor, alice: Patient) -> None:
    response = client_for(alice.user).generic(
        "POST", DOSES, raw.encode(), content_type="application/json"
    )

    assert_problem(response, 400, "parse_error")


def test_deeply_nested_json_is_400(client_for: ClientFor, alice: Patient) -> None:
    raw = "[" * 100_000 + "]" * 100_000

    response = client_for(alice.user).generic(
        "POST", CHECK_INS, raw.encode(), content_type="application/json"
    )

    assert_problem(response, 400)
    assert not CheckIn.objects.exists()


def test_sync_reports_bad_items_per_record(client_for: ClientFor, alice: Patient) -> None:
    batch = {"dose_logs": [1, "x", None, [], dose_body(status="forgot")], "check_ins": [{}]}

    response = client_for(alice.user).post(url("sync"), batch, format="json")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["error"] * 6
    assert not DoseLog.objects.exists()
    assert not CheckIn.objects.exists()


# --- time-zone edges that used to overflow --------------------------------------------------


def test_check_in_from_year_1_in_new_york_is_400(client_for: ClientFor, clinic: Any) -> None:
    patient = make_patient("nyc@patient.test", clinic, mrn="N010", timezone="America/New_York")
    body = check_in_body(answered_at="0001-01-01T00:00:00Z")

    response = client_for(patient.user).post(CHECK_INS, body, format="json")

    body = assert_problem(response, 400)
    assert has_attr(body, "answered_at")


def test_schedule_before_year_1_in_utc_is_400(
    client_for: ClientFor, clinic: Any, nurse: User
) -> None:
    # Juneau's local mean time was UTC+15:02 before 1867: 09:00 on 1 January of year 1 is
    # still in year 0 in UTC.
    patient = make_patient("juneau@patient.test", clinic, mrn="J011", timezone="America/Juneau")
    step(patient, date(1, 1, 1))
    path = url("patients", patient.public_id, "schedule")

    response = client_for(nurse).get(path, {"from": "0001-01-01", "to": "0001-01-03"})

    assert_problem(response, 400)


# --- list date filters are inclusive --------------------------------------------------------


def test_date_filters_include_the_whole_to_day(
    client_for: ClientFor, alice: Patient, nurse: User
) -> None:
    evening = datetime(2026, 11, 20, 21, 30, tzinfo=UTC)  # 22:30 in Madrid
    ci = check_in(alice, answered_at=evening)
    ci.local_date = date(2026, 11, 20)
    ci.save()
    result = lab_row(alice)
    result.collected_at = evening
    result.save()
    client = client_for(nurse)
    day = {"from": "2026-11-20", "to": "2026-11-20"}

    check_ins = client.get(CHECK_INS, day).json()["results"]
    labs = client.get(LABS, day).json()["results"]
    before = client.get(LABS, {"to": "2026-11-19"}).json()["results"]

    assert [r["id"] for r in check_ins] == [str(ci.public_id)]
    assert [r["id"] for r in labs] == [str(result.public_id)]
    assert before == []


def test_enrolment_json_round_trip_keeps_problem_shape(
    client_for: ClientFor, clinician: User
) -> None:
    response = client_for(clinician).generic(
        "POST", PATIENTS, json.dumps({"email": None}), content_type="application/json"
    )

    body = assert_problem(response, 400)
    assert {"email", "first_name", "sex", "timezone", "mrn"} <= {e["attr"] for e in body["errors"]}
