"""Every hostile or odd image of tests.fixtures_images.hostile_corpus(), POSTed to photos/.

Each one, sent by a patient as a real multipart upload (under its own name and a plausible
image content type), must be a 4xx problem+json with the imaging refusal code, leave no
LesionPhoto row and no file in the photo storage. tests/unit/test_imaging.py checks the
validator on the same corpus; this checks the whole HTTP path around it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.badinput.conftest import PROBLEM, World, stored_files
from tests.fixtures_images import hostile_cases, jpeg_bytes
from tracker.models import LesionPhoto

API = "/api/v1/photos/"
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "heic": "image/heic",
    "gif": "image/gif",
}
CASES = hostile_cases()


def upload(world: World, name: str, data: bytes) -> Any:
    client = Client(raise_request_exception=False)
    content_type = CONTENT_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")
    return client.post(
        API,
        {
            "client_id": str(uuid.uuid4()),
            "body_area": "face",
            "taken_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "image": SimpleUploadedFile(name, data, content_type=content_type),
        },
        HTTP_AUTHORIZATION=f"Bearer {world.tokens['patient']}",
    )


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


def test_a_real_photo_is_accepted(world: World, photo_root: Path) -> None:
    """The control: the same upload path stores a genuine JPEG."""
    before = set(stored_files(photo_root))

    response = upload(world, "lesion.jpg", jpeg_bytes((80, 60)))

    assert response.status_code == 201, response.content[:300]
    assert set(stored_files(photo_root)) - before


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_file_is_refused_and_nothing_is_kept(
    world: World, photo_root: Path, case: Any
) -> None:
    rows, files = LesionPhoto.objects.count(), stored_files(photo_root)

    response = upload(world, case.name, case.data)

    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == case.code, body
    assert LesionPhoto.objects.count() == rows
    assert stored_files(photo_root) == files
