"""Photo tests: every test gets its own empty photo storage (a temporary directory).

``settings.STORAGES`` is overridden per test; Django's ``setting_changed`` handler resets the
``storages`` cache, and tracker.storage looks the backend up on every call, so the override
reaches the service, the task and the views.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.fixtures_images import jpeg_bytes
from tracker.models import LesionPhoto, Patient

API = "/api/v1/photos/"
PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def photo_root(tmp_path: Path, settings: Any) -> Path:
    root = tmp_path / "photos"
    settings.STORAGES = {
        **settings.STORAGES,
        "photos": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root


def stored_files(root: Path) -> list[str]:
    """Every file in the photo storage, as storage names."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def photo_url(photo: LesionPhoto | str, *rest: str) -> str:
    ident = photo if isinstance(photo, str) else str(photo.public_id)
    return API + ident + "/" + "".join(f"{r}/" for r in rest)


def fields(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": str(uuid.uuid4()),
        "body_area": "face",
        "taken_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def post_photo(
    client: APIClient,
    data: bytes | None = None,
    *,
    name: str = "lesion.jpg",
    content_type: str = "image/jpeg",
    **overrides: Any,
) -> Any:
    body = fields(**overrides)
    upload = jpeg_bytes() if data is None else data
    body["image"] = SimpleUploadedFile(name, upload, content_type=content_type)
    return client.post(API, body, format="multipart")


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:600]
    assert response["Content-Type"].startswith(PROBLEM), response["Content-Type"]
    body = response.json()
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body


def make_photo(client_for: Any, patient: Patient, data: bytes | None = None, **kw: Any) -> Any:
    """Upload through the API as the patient; returns the row."""
    response = post_photo(client_for(patient.user), data, **kw)
    assert response.status_code == 201, response.content[:600]
    return LesionPhoto.objects.get(public_id=response.json()["id"])
