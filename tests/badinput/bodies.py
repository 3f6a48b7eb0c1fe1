"""Minimal valid request bodies for every write route of /api/v1/, by (URL name, method).

Each builder takes the world and the name of the patient the body should name (None: a
patient id that does not exist), and returns (data, format).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework_simplejwt.tokens import RefreshToken

from tests.badinput.conftest import World, small_jpeg
from tests.conftest import PASSWORD
from tests.records.factories import (
    check_in_body,
    clasi_body,
    dose_body,
    enrolment_body,
    lab_body,
    prescription_body,
    real_today,
    step_body,
)

MISSING = "00000000-0000-4000-8000-000000000000"

_counter = itertools.count(1)
Body = Callable[[World, str | None], tuple[Any, str]]


def _patient_id(world: World, owner: str | None) -> str:
    return MISSING if owner in (None, "missing") else str(world.patients[owner].public_id)


def _photo(world: World, owner: str | None) -> tuple[Any, str]:
    n = next(_counter)
    return {
        "client_id": str(uuid.uuid4()),
        "body_area": "face",
        "taken_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "patient": _patient_id(world, owner),
        "image": SimpleUploadedFile(f"p{n}.jpg", small_jpeg(100 + n), content_type="image/jpeg"),
    }, "multipart"


def _enrol(world: World, owner: str | None) -> tuple[Any, str]:
    n = next(_counter)
    return enrolment_body(email=f"new{n}@patient.test", mrn=f"N{n:04d}"), "json"


def _step(world: World, owner: str | None) -> tuple[Any, str]:
    n = next(_counter)
    return step_body(starts_on=str(real_today() + timedelta(days=3 + n))), "json"


BODIES: dict[tuple[str, str], Body] = {
    ("token", "post"): lambda w, o: ({"email": "alice@patient.test", "password": PASSWORD}, "json"),
    ("token-refresh", "post"): lambda w, o: (
        {"refresh": str(RefreshToken.for_user(w.users["patient"]))},
        "json",
    ),
    ("activate", "post"): lambda w, o: (
        {"email": "alice@patient.test", "activation_code": "ABCDE-FGHJK", "password": "x" * 12},
        "json",
    ),
    ("sync", "post"): lambda w, o: ({"dose_logs": [dose_body(patient=_patient_id(w, o))]}, "json"),
    ("patient-list", "post"): _enrol,
    ("patient-detail", "patch"): lambda w, o: ({"irregular_cycles": True}, "json"),
    ("patient-regimen-steps", "post"): _step,
    ("dose-log-list", "post"): lambda w, o: (dose_body(patient=_patient_id(w, o)), "json"),
    ("dose-log-detail", "patch"): lambda w, o: (
        {"client_id": str(uuid.uuid4()), "note": "corrected"},
        "json",
    ),
    ("check-in-list", "post"): lambda w, o: (check_in_body(patient=_patient_id(w, o)), "json"),
    ("lab-result-list", "post"): lambda w, o: (
        {**lab_body(w.patients["alice"]), "patient": _patient_id(w, o)},
        "json",
    ),
    ("clasi-list", "post"): lambda w, o: (
        {**clasi_body(w.patients["alice"]), "patient": _patient_id(w, o)},
        "json",
    ),
    ("prescription-list", "post"): lambda w, o: (
        {**prescription_body(w.patients["alice"]), "patient": _patient_id(w, o)},
        "json",
    ),
    ("photo-list", "post"): _photo,
    ("alert-acknowledge", "post"): lambda w, o: ({"note": ""}, "json"),
    ("alert-assign", "post"): lambda w, o: ({}, "json"),
    ("alert-comment", "post"): lambda w, o: ({"note": "seen"}, "json"),
    ("alert-escalate", "post"): lambda w, o: ({"note": ""}, "json"),
    ("alert-resolve", "post"): lambda w, o: ({"resolution": "other", "note": "done"}, "json"),
    ("device-list", "post"): lambda w, o: (
        {"platform": "web", "token": f"matrix-token-{next(_counter)}"},
        "json",
    ),
}
# Writes whose body names a patient: the owner dimension applies to them too.
BODY_NAMES_PATIENT = {
    "sync",
    "dose-log-list",
    "check-in-list",
    "lab-result-list",
    "clasi-list",
    "prescription-list",
    "photo-list",
}
