"""Schemathesis against our own OpenAPI schema, for every operation, as three personas.

The schema is the one the app serves at /api/schema/, loaded through the WSGI application
in-process; every generated request goes through that application too (no server, no
network), inside the test's transaction (a fresh world of users and records per operation,
rolled back after it). Fuzzed and example cases are sent as Alice (a patient), as her
clinic's nurse and as its clinician, each with a real Bearer JWT; the coverage phase's many
boundary cases go to one of them in turn. Half the cases with an {id} name a real object of
the right kind owned by Alice, so the happy paths (200/201 bodies) are checked as well as the
refusals.

Checks: not_a_server_error, response_schema_conformance (every body, errors included, matches
what the schema documents for its status and media type) and status_code_conformance (every
status is documented). Generation is positive and negative (Schemathesis' coverage, example
and fuzzing phases), bounded and derandomised: BADINPUT_MAX_EXAMPLES (default 15) per
operation and phase, the same cases on every run. Figures: var/proof/schemathesis.json.
"""

from __future__ import annotations

import json
import os
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.badinput.conftest import World

MAX_EXAMPLES = int(os.environ.get("BADINPUT_MAX_EXAMPLES", "15"))
PERSONAS = ("patient", "nurse", "clinician")
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

# Which kind of object an operation's {id} names, by the first path segment under /api/v1/.
ID_KINDS = {
    "patients": "patients",
    "dose-logs": "dose-logs",
    "check-ins": "check-ins",
    "lab-results": "lab-results",
    "clasi-assessments": "clasi-assessments",
    "prescriptions": "prescriptions",
    "photos": "photos",
    "alerts": "alerts",
}

STATS: dict[str, Any] = {"examples": 0, "requests": 0, "operations": {}, "statuses": Counter()}
REPORT = Path(os.environ.get("TRACKER_VAR_DIR", "var")) / "proof" / "schemathesis.json"


def real_id(case: Any, world: World, persona: str) -> str | None:
    segment = case.operation.path.removeprefix("/api/v1/").split("/", 1)[0]
    if segment == "devices":
        return world.devices[persona]
    kind = ID_KINDS.get(segment)
    return world.ids[kind]["alice"] if kind else None


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    """Writes what was run (operations, examples, requests, statuses) for docs/security.md."""
    yield
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "max_examples": MAX_EXAMPLES,
        "operations": len(STATS["operations"]),
        "examples": STATS["examples"],
        "requests": STATS["requests"],
        "statuses": dict(sorted(STATS["statuses"].items())),
        "per_operation": {k: dict(v) for k, v in sorted(STATS["operations"].items())},
    }
    REPORT.write_text(json.dumps(summary, indent=1, default=str))


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
def test_api_conforms_to_its_schema(case: Any, world: World) -> None:
    STATS["examples"] += 1
    per_operation = STATS["operations"].setdefault(case.operation.label, Counter())
    per_operation["examples"] += 1
    phase = case.meta.phase.name if case.meta is not None else None
    # The coverage phase enumerates every boundary and negative case of the schema (hundreds
    # for the big bodies): each goes to one persona in turn; fuzzed cases go to all three.
    personas = (PERSONAS[STATS["examples"] % 3],) if phase == "coverage" else PERSONAS
    generated_id = (case.path_parameters or {}).get("id")
    for persona in personas:
        if generated_id is not None:
            # Half the examples name a real object, the others keep the generated value.
            if zlib.crc32(str(generated_id).encode()) % 2 == 0:
                case.path_parameters["id"] = real_id(case, world, persona) or generated_id
            else:
                case.path_parameters["id"] = generated_id
        STATS["requests"] += 1
        response = case.call(headers=world.header(persona))
        STATS["statuses"][response.status_code] += 1
        per_operation[f"{response.status_code // 100}xx"] += 1
        case.validate_response(response, checks=CHECKS)
