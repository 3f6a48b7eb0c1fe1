"""A generated access matrix: every /api/v1/ URL in the URLconf x method x role x object owner.

The routes are read from django.urls.get_resolver(), not listed by hand, so a new endpoint is
in the matrix the day it is added (and the test fails if its {id} is of an unknown kind).
For every route: GET and each write method the route allows (with a minimal valid body), plus
PUT and DELETE probes where the route does not allow them; as Alice (patient), her clinic's
nurse, clinician and admin, the other clinic's nurse, and anonymous; with {id} (or the body's
"patient") naming an object owned by the caller's own patient, another patient of the same
clinic, a patient of another clinic, or nothing at all (a random UUID).

Invariants, collected over the whole matrix and reported together:
- never a 5xx;
- anonymous gets 401 everywhere but the sign-in endpoints;
- another clinic's object is answered exactly like a missing one (same status and code: 404
  where the role may use the route at all), and so is another patient's for a patient;
- no response body ever holds a public id of another clinic (its patients, their records,
  photos, alerts and devices, its staff), nor, for a patient, of another patient;
- a refused write (4xx) writes nothing (row counts of every table but the bookkeeping ones).
exact statuses per endpoint are tests/records/test_permission_matrix.py's business.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.badinput.bodies import BODIES, BODY_NAMES_PATIENT, MISSING
from tests.badinput.conftest import KINDS, World, row_counts, written_tables

ROLES = ("patient", "nurse", "clinician", "clinic_admin", "other_nurse", "anonymous")
OWNERS = ("own", "same_clinic", "other_clinic", "missing")
WRITE_METHODS = ("post", "put", "patch", "delete")
PUBLIC_ROUTES = {"token", "token-refresh", "activate"}

# Whose objects "own", "same clinic" and "other clinic" are, for each caller.
OWNER_OF = {
    "patient": {"own": "alice", "same_clinic": "bob", "other_clinic": "carol"},
    "nurse": {"own": "alice", "same_clinic": "bob", "other_clinic": "carol"},
    "clinician": {"own": "alice", "same_clinic": "bob", "other_clinic": "carol"},
    "clinic_admin": {"own": "alice", "same_clinic": "bob", "other_clinic": "carol"},
    "other_nurse": {"own": "carol", "same_clinic": "dave", "other_clinic": "alice"},
    "anonymous": {"own": "alice", "same_clinic": "bob", "other_clinic": "carol"},
}


# --- the routes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    regex: str
    methods: tuple[str, ...]

    @property
    def has_id(self) -> bool:
        return "(?P<id>" in self.regex

    @property
    def kind(self) -> str:
        return self.regex.removeprefix("api/v1/").lstrip("^").split("/", 1)[0]

    def path(self, object_id: str | None = None) -> str:
        path = re.sub(r"\(\?P<id>[^)]*\)", object_id or "", self.regex)
        return "/" + path.replace("^", "").replace("$", "")


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _methods(pattern: URLPattern) -> tuple[str, ...]:
    callback = pattern.callback
    actions = getattr(callback, "actions", None)
    if actions:
        return tuple(sorted(actions))
    view = callback.cls  # type: ignore[attr-defined]
    return tuple(m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m))


def api_routes() -> list[Route]:
    return [
        Route(pattern.name or regex, regex, _methods(pattern))
        for regex, pattern in _walk(get_resolver().url_patterns)
        if regex.startswith("api/v1/")
    ]


ROUTES = api_routes()


def cases() -> list[tuple[Route, str]]:
    out = []
    for route in ROUTES:
        methods = [m for m in route.methods if m == "get" or m in WRITE_METHODS]
        # Methods the route does not allow: 405 (or 401/403 first), never a 5xx.
        methods += [m for m in ("put", "delete") if m not in route.methods]
        out += [(route, m) for m in methods]
    return out


def object_id(world: World, route: Route, owner: str, role: str) -> str:
    if owner == "missing":
        return MISSING
    patient = OWNER_OF[role][owner]
    if route.kind == "devices":
        return world.devices[patient]
    return world.ids[route.kind][patient]


# --- the matrix ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    status: int
    code: str | None


def _code(response: Any) -> str | None:
    if response.get("Content-Type", "").startswith("application/problem+json"):
        return response.json().get("code")
    return None


def forbidden_ids(world: World, role: str) -> set[str]:
    if role == "anonymous":
        return world.clinic_ids("first") | world.clinic_ids("other")
    clinic = "other" if role == "other_nurse" else "first"
    found = world.clinic_ids("first" if clinic == "other" else "other")
    if role == "patient":
        found |= {i for name in ("bob", "carol", "dave") for i in world.public_ids_of(name)}
    return found


STATS: dict[str, Any] = {"requests": 0, "statuses": Counter()}
REPORT = Path(os.environ.get("TRACKER_VAR_DIR", "var")) / "proof" / "access-matrix.json"


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    """Writes the size of the matrix for docs/security.md."""
    yield
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "routes": len(ROUTES),
        "route_methods": len(cases()),
        "roles": len(ROLES),
        "requests": STATS["requests"],
        "statuses": dict(sorted(STATS["statuses"].items())),
    }
    REPORT.write_text(json.dumps(summary, indent=1))


def test_foreign_ids_are_the_other_clinics(world: World) -> None:
    alice, carol = world.public_ids_of("alice"), world.public_ids_of("carol")

    assert carol <= forbidden_ids(world, "nurse")
    assert not alice & forbidden_ids(world, "nurse")
    assert alice <= forbidden_ids(world, "other_nurse")
    assert world.public_ids_of("bob") <= forbidden_ids(world, "patient")
    assert not alice & forbidden_ids(world, "patient")


def test_the_matrix_covers_every_api_route() -> None:
    names = {r.name for r in ROUTES}

    assert len(ROUTES) >= 35, names
    assert {
        "me",
        "sync",
        "patient-detail",
        "photo-image",
        "alert-resolve",
        "device-detail",
    } <= names
    for route in ROUTES:
        if route.has_id:
            assert route.kind in {*KINDS, "devices"}, (
                f"{route.name}: unknown kind of id {route.kind!r}: add it to the world"
            )
        for method in set(route.methods) & {"post", "put", "patch"}:
            assert (route.name, method) in BODIES, f"no minimal body for {method} {route.name}"


@pytest.mark.parametrize(
    ("route", "method"),
    [pytest.param(r, m, id=f"{m.upper()} {r.path('{id}')}") for r, m in cases()],
)
def test_access_matrix(route: Route, method: str, world: World) -> None:
    failures: list[str] = []
    successes: list[str] = []
    checked = 0
    owners = OWNERS if (route.has_id or route.name in BODY_NAMES_PATIENT) else ("own",)
    body_maker = BODIES.get((route.name, method))
    allowed = method in route.methods
    for role in ROLES:
        client = APIClient()
        if role != "anonymous":
            client.credentials(HTTP_AUTHORIZATION=world.header(role)["Authorization"])
        outcomes: dict[str, Outcome] = {}
        # "missing" first: its answer is what "other clinic" must look like.
        for owner in sorted(owners, key=lambda o: o != "missing"):
            oid = object_id(world, route, owner, role) if route.has_id else None
            path = route.path(oid)
            kwargs: dict[str, Any] = {}
            if body_maker is not None and allowed:
                data, fmt = body_maker(world, OWNER_OF[role].get(owner))
                kwargs = {"data": data, "format": fmt}
            elif method in WRITE_METHODS:
                kwargs = {"data": {}, "format": "json"}
            before = row_counts() if method != "get" else None
            response = getattr(client, method)(path, **kwargs)
            checked += 1
            STATS["requests"] += 1
            STATS["statuses"][response.status_code] += 1
            where = f"{method.upper()} {path} as {role} ({owner})"
            status = response.status_code
            outcomes[owner] = Outcome(status, _code(response))
            if owner == "own" and 200 <= status < 300:
                successes.append(role)
            if status >= 500:
                failures.append(f"{where}: {status} {response.content[:300]!r}")
                continue
            if role == "anonymous" and route.name not in PUBLIC_ROUTES and status != 401:
                failures.append(f"{where}: anonymous got {status}, not 401")
            body = response.content.decode("utf-8", "replace")
            leaked = sorted(i for i in forbidden_ids(world, role) if i in body)
            if leaked and route.name not in PUBLIC_ROUTES:
                failures.append(f"{where}: response holds foreign ids {leaked[:3]}")
            if before is not None and 400 <= status < 500:
                written = written_tables(before, row_counts())
                if written:
                    failures.append(f"{where}: refused ({status}) but wrote {written}")
        if role == "anonymous" or "missing" not in outcomes:
            continue
        missing = outcomes["missing"]
        hidden = ["other_clinic", *(["same_clinic"] if role == "patient" else [])]
        for owner in hidden:
            got = outcomes[owner]
            if (got.status, got.code) != (missing.status, missing.code):
                failures.append(
                    f"{method.upper()} {route.path('{id}')} as {role}: {owner} object answered "
                    f"{got.status} {got.code}, a missing one {missing.status} {missing.code}"
                )
            if route.has_id and 200 <= outcomes["own"].status < 300 and got.status != 404:
                failures.append(
                    f"{method.upper()} {route.path('{id}')} as {role}: {owner} object is "
                    f"{got.status}, not 404"
                )
    assert not failures, "\n".join(failures)
    # A positive control: some role does use each readable route (else only refusals were seen).
    if method == "get" and allowed and route.name != "me":
        assert successes, f"nobody could GET {route.path('{id}')}"
