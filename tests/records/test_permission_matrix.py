"""Who may call which clinical-records endpoint, generated over every endpoint x actor.

Seen from Alice's records: she is "self"; Bob is another patient of her clinic; the first
clinic's nurse, clinician and admin are her care team; the other clinic's nurse and clinician
must not learn that her records exist (404, never 403); anonymous callers get 401. Lists never
leak: each list is checked for exactly the rows the caller may see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.records.conftest import World
from tests.records.factories import (
    ClientFor,
    assert_problem,
    check_in_body,
    clasi_body,
    dose_body,
    enrolment_body,
    lab_body,
    listed_ids,
    prescription_body,
    step_body,
    url,
)
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

ACTORS = (
    "self",
    "other_patient",
    "nurse",
    "clinician",
    "clinic_admin",
    "other_nurse",
    "other_clinician",
    "anonymous",
)
RECORD_KINDS = ("dose-logs", "check-ins", "lab-results", "clasi-assessments", "prescriptions")


def expect(default: int, **overrides: int) -> dict[str, int]:
    table = {actor: overrides.get(actor, default) for actor in ACTORS}
    table["anonymous"] = overrides.get("anonymous", 401)
    return table


READ_LIST = expect(200)
READ_ALICE = expect(200, other_patient=404, other_nurse=404, other_clinician=404)
PATIENT_WRITES = expect(403, self=201, other_patient=201)
LAB_WRITES = expect(403, nurse=201, clinician=201, other_nurse=400, other_clinician=400)
CLINICIAN_WRITES = expect(403, clinician=201, other_clinician=400)
SYNC = expect(403, self=200, other_patient=200)


def alice(world: World) -> Patient:
    return world.patients["alice"]


def alice_path(*parts: str) -> Callable[[World], str]:
    return lambda w: url("patients", alice(w).public_id, *parts)


def list_path(kind: str) -> Callable[[World], str]:
    return lambda w: url(kind)


def record_path(kind: str) -> Callable[[World], str]:
    return lambda w: url(kind, w.row_id(kind, "alice"))


def count(model: type[Any]) -> Callable[[World], int]:
    return lambda w: model.objects.count()


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: Callable[[World], str]
    expected: dict[str, int]
    body: Callable[[World], dict[str, Any]] | None = None
    state: Callable[[World], object] | None = None  # must change iff the write succeeds


CASES = [
    Case("patients list", "get", list_path("patients"), READ_LIST),
    Case("patients detail", "get", alice_path(), READ_ALICE),
    Case(
        "patients create",
        "post",
        list_path("patients"),
        expect(403, clinician=201, other_clinician=201),
        body=lambda w: enrolment_body(),
        state=count(Patient),
    ),
    Case(
        "patients patch",
        "patch",
        alice_path(),
        expect(403, clinician=200, other_clinician=404),
        body=lambda w: {"irregular_cycles": True},
        state=lambda w: Patient.objects.get(pk=alice(w).pk).irregular_cycles,
    ),
    Case("regimen-steps list", "get", alice_path("regimen-steps"), READ_ALICE),
    Case(
        "regimen-steps create",
        "post",
        alice_path("regimen-steps"),
        expect(403, clinician=201, other_patient=404, other_nurse=404, other_clinician=404),
        body=lambda w: step_body(),
        state=count(RegimenStep),
    ),
    Case("schedule", "get", alice_path("schedule"), READ_ALICE),
    Case("adherence", "get", alice_path("adherence"), READ_ALICE),
    Case("timeline", "get", alice_path("timeline"), READ_ALICE),
    *[Case(f"{kind} list", "get", list_path(kind), READ_LIST) for kind in RECORD_KINDS],
    *[Case(f"{kind} detail", "get", record_path(kind), READ_ALICE) for kind in RECORD_KINDS],
    Case(
        "dose-logs create",
        "post",
        list_path("dose-logs"),
        PATIENT_WRITES,
        body=lambda w: dose_body(),
        state=count(DoseLog),
    ),
    Case(
        "dose-logs patch",
        "patch",
        record_path("dose-logs"),
        expect(403, self=201, other_patient=404),
        body=lambda w: {"client_id": "5a0c7d1e-3f0b-4e53-9a59-0b1c2d3e4f50", "note": "fixed"},
        state=count(DoseLog),
    ),
    Case(
        "dose-logs delete",
        "delete",
        record_path("dose-logs"),
        expect(403, self=405, other_patient=405),
        state=count(DoseLog),
    ),
    Case(
        "check-ins create",
        "post",
        list_path("check-ins"),
        PATIENT_WRITES,
        body=lambda w: check_in_body(),
        state=count(CheckIn),
    ),
    Case(
        "lab-results create",
        "post",
        list_path("lab-results"),
        LAB_WRITES,
        body=lambda w: lab_body(alice(w)),
        state=count(LabResult),
    ),
    Case(
        "clasi-assessments create",
        "post",
        list_path("clasi-assessments"),
        CLINICIAN_WRITES,
        body=lambda w: clasi_body(alice(w)),
        state=count(ClasiAssessment),
    ),
    Case(
        "prescriptions create",
        "post",
        list_path("prescriptions"),
        CLINICIAN_WRITES,
        body=lambda w: prescription_body(alice(w)),
        state=count(Prescription),
    ),
    Case("sync pull", "get", list_path("sync"), SYNC),
    Case(
        "sync push",
        "post",
        list_path("sync"),
        SYNC,
        body=lambda w: {"dose_logs": [dose_body()]},
        state=count(DoseLog),
    ),
]


@pytest.mark.parametrize(
    ("case", "actor"),
    [pytest.param(case, actor, id=f"{case.name}-{actor}") for case in CASES for actor in ACTORS],
)
def test_access(
    case: Case,
    actor: str,
    world: World,
    actors: dict[str, User | None],
    client_for: ClientFor,
) -> None:
    client = client_for(actors[actor])
    before = case.state(world) if case.state else None
    kwargs: dict[str, Any] = {"format": "json"}
    if case.body is not None:
        kwargs["data"] = case.body(world)

    response = getattr(client, case.method)(case.path(world), **kwargs)

    expected = case.expected[actor]
    if expected >= 400:
        assert_problem(response, expected)
    else:
        assert response.status_code == expected, response.content[:500]
    if case.state is not None:
        after = case.state(world)
        assert (after != before) == (expected < 300), (before, after)


# --- lists never leak ------------------------------------------------------------------------


@dataclass(frozen=True)
class ListView:
    viewer: str
    query: dict[str, str]
    sees: tuple[str, ...]


LIST_VIEWS = {
    "alice": ListView("self", {}, ("alice",)),
    "bob": ListView("other_patient", {}, ("bob",)),
    "nurse": ListView("nurse", {}, ("alice", "bob")),
    "clinician": ListView("clinician", {}, ("alice", "bob")),
    "other_nurse": ListView("other_nurse", {}, ("carol",)),
    "other_clinician": ListView("other_clinician", {}, ("carol",)),
    "nurse ?patient=alice": ListView("nurse", {"patient": "alice"}, ("alice",)),
    "nurse ?patient=carol": ListView("nurse", {"patient": "carol"}, ()),
    "other_nurse ?patient=alice": ListView("other_nurse", {"patient": "alice"}, ()),
    "alice ?patient=bob": ListView("self", {"patient": "bob"}, ()),
    "alice ?patient=carol": ListView("self", {"patient": "carol"}, ()),
}


@pytest.mark.parametrize("view_name", list(LIST_VIEWS))
@pytest.mark.parametrize("kind", RECORD_KINDS)
def test_record_lists_hold_exactly_the_visible_rows(
    kind: str,
    view_name: str,
    world: World,
    actors: dict[str, User | None],
    client_for: ClientFor,
) -> None:
    view = LIST_VIEWS[view_name]
    query = {k: str(world.patients[v].public_id) for k, v in view.query.items()}

    response = client_for(actors[view.viewer]).get(url(kind), query)

    assert listed_ids(response) == {world.row_id(kind, who) for who in view.sees}
    assert response.json()["count"] == len(view.sees)
    patients = {row["patient"] for row in response.json()["results"]}
    assert patients <= {str(world.patients[who].public_id) for who in view.sees}


@pytest.mark.parametrize("view_name", [name for name, view in LIST_VIEWS.items() if not view.query])
def test_patients_list_holds_exactly_the_visible_patients(
    view_name: str, world: World, actors: dict[str, User | None], client_for: ClientFor
) -> None:
    view = LIST_VIEWS[view_name]

    response = client_for(actors[view.viewer]).get(url("patients"))

    assert listed_ids(response) == {world.row_id("patients", who) for who in view.sees}


@pytest.mark.parametrize("viewer", ["nurse", "self"])
def test_timeline_holds_only_the_patients_own_rows(
    viewer: str, world: World, actors: dict[str, User | None], client_for: ClientFor
) -> None:
    response = client_for(actors[viewer]).get(url("patients", alice(world).public_id, "timeline"))

    assert response.status_code == 200
    ids = {event["id"] for event in response.json()}
    own = {world.row_id(kind, "alice") for kind in RECORD_KINDS if kind != "prescriptions"}
    others = {world.row_id(kind, who) for kind in RECORD_KINDS for who in ("bob", "carol")}
    assert own <= ids
    assert not ids & others


def test_sync_pull_holds_only_the_callers_rows(
    world: World, actors: dict[str, User | None], client_for: ClientFor
) -> None:
    body = client_for(actors["self"]).get(url("sync")).json()

    assert {r["id"] for r in body["dose_logs"]} == {world.row_id("dose-logs", "alice")}
    assert {r["id"] for r in body["check_ins"]} == {world.row_id("check-ins", "alice")}
    assert {r["id"] for r in body["lab_results"]} == {world.row_id("lab-results", "alice")}
    assert {r["patient"] for r in body["dose_logs"] + body["check_ins"]} == {
        str(alice(world).public_id)
    }


@pytest.mark.parametrize("kind", RECORD_KINDS)
def test_another_clinics_detail_is_indistinguishable_from_a_missing_one(
    kind: str, world: World, actors: dict[str, User | None], client_for: ClientFor
) -> None:
    client = client_for(actors["nurse"])
    hidden = assert_problem(client.get(url(kind, world.row_id(kind, "carol"))), 404)
    missing = assert_problem(client.get(url(kind, "00000000-0000-4000-8000-000000000000")), 404)

    assert (hidden["code"], hidden["detail"]) == (missing["code"], missing["detail"])
