"""POST photos/: what is accepted, what is stored, what is refused, and retries."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests import fixtures_images as fx
from tests.photos.conftest import (
    API,
    assert_problem,
    fields,
    make_photo,
    photo_url,
    post_photo,
    stored_files,
)
from tests.records.factories import ClientFor, check_in
from tracker import imaging
from tracker.models import LesionPhoto, Patient, User

OUTPUT_FIELDS = {
    "id",
    "patient",
    "client_id",
    "body_area",
    "taken_at",
    "check_in",
    "width",
    "height",
    "sha256",
    "status",
    "image_url",
    "thumbnail_url",
    "created_at",
}


def _stored_bytes(root: Path, photo: LesionPhoto) -> bytes:
    return (root / photo.image).read_bytes()


def test_upload_creates_a_processing_photo_with_the_documented_fields(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    response = post_photo(client_for(alice.user), fx.jpeg_bytes((64, 48)), body_area="arms")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == OUTPUT_FIELDS
    photo = LesionPhoto.objects.get(public_id=body["id"])
    assert body["patient"] == str(alice.public_id)
    assert (body["status"], body["body_area"], body["width"], body["height"]) == (
        "processing",
        "arms",
        64,
        48,
    )
    assert body["image_url"].endswith(photo_url(photo, "image"))
    assert body["thumbnail_url"] is None  # made by the task
    assert body["check_in"] is None
    stored = _stored_bytes(photo_root, photo)
    assert body["sha256"] == photo.sha256 == imaging.sha256_hex(stored)
    assert photo.upload_sha256 == imaging.sha256_hex(fx.jpeg_bytes((64, 48)))
    assert photo.size_bytes == len(stored)
    assert photo.uploaded_by == alice.user


def test_jpeg_with_gps_exif_comes_back_without_it(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    original = fx.jpeg_with_gps(orientation=6)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # GPS is there
    client = client_for(alice.user)
    photo = make_photo(client_for, alice, original)

    served = client.get(photo_url(photo, "image"))

    assert served.status_code == 200
    data = served.content
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    assert len(img.getexif()) == 0
    assert not img.getexif().get_ifd(0x8825)
    for needle in (b"Exif", b"GPS", fx.SECRET, b"FIXTURE-CAM"):
        assert needle not in data
    assert img.size == (20, 40)  # orientation 6 applied to the pixels
    assert data == _stored_bytes(photo_root, photo)


def test_png_with_an_html_script_tail_is_stored_without_it(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    photo = make_photo(client_for, alice, fx.png_with_html_tail(), name="lesion.png")

    stored = _stored_bytes(photo_root, photo)
    assert stored.startswith(b"\xff\xd8\xff")  # re-encoded as JPEG
    assert b"<script>" not in stored
    assert fx.HTML_TAIL not in stored
    assert stored.endswith(b"\xff\xd9")
    assert stored_files(photo_root) == [photo.image]  # the raw upload was never written


@pytest.mark.parametrize("case", fx.smuggled_cases(), ids=lambda c: c.name)
def test_no_smuggled_metadata_or_tail_is_stored(
    case: fx.SmuggledFile, alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    photo = make_photo(client_for, alice, case.data, name=case.name)

    assert case.marker not in _stored_bytes(photo_root, photo)


def test_heic_from_an_iphone_is_accepted(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    photo = make_photo(client_for, alice, fx.heic_bytes((64, 48)), name="IMG_0001.HEIC")

    assert (photo.width, photo.height) == (64, 48)
    assert _stored_bytes(photo_root, photo).startswith(b"\xff\xd8\xff")


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("bomb.png", fx.decompression_bomb_png(), "too_many_pixels"),
        ("drawing.svg", fx.SVG, "unsupported_type"),
        ("note.jpg", fx.TEXT, "unsupported_type"),
        ("cut.jpg", fx.truncated_jpeg(), "truncated"),
        ("anim.gif", fx.gif_bytes(), "unsupported_type"),
        ("scan.tiff", fx.tiff_bytes(), "unsupported_type"),
        ("report.pdf", fx.pdf_bytes(), "unsupported_type"),
        ("empty.jpg", b"", "empty"),
    ],
)
def test_named_hostile_files_are_refused_with_a_clear_problem(
    name: str,
    data: bytes,
    code: str,
    alice: Patient,
    client_for: ClientFor,
    photo_root: Path,
) -> None:
    # How fast a refusal is answered is measured in benchmarks/photo_processing.py.
    response = post_photo(client_for(alice.user), data, name=name, content_type="image/jpeg")

    body = assert_problem(response, 400, code)
    assert body["detail"]  # a sentence the phone can show
    assert not LesionPhoto.objects.exists()
    assert stored_files(photo_root) == []


@pytest.mark.parametrize("case", fx.hostile_cases(), ids=lambda c: c.name)
def test_every_hostile_file_is_refused_with_no_row_and_no_file(
    case: fx.HostileFile, alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    response = post_photo(client_for(alice.user), case.data, name=case.name)

    assert 400 <= response.status_code < 500, response.content[:300]
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == case.code
    assert not LesionPhoto.objects.exists()
    assert stored_files(photo_root) == []


def test_hostile_corpus_is_the_whole_contract() -> None:
    assert len(fx.hostile_corpus()) == 63


def test_a_body_declared_over_15_mib_is_refused_before_it_is_read(
    alice: Patient, client_for: ClientFor
) -> None:
    client = client_for(alice.user)
    body = fields()
    body["image"] = SimpleUploadedFile("big.jpg", fx.jpeg_bytes(), content_type="image/jpeg")
    with mock.patch("tracker.services.photos.imaging.sanitize") as sanitize:
        response = client.post(
            API, body, format="multipart", CONTENT_LENGTH=str(imaging.MAX_BYTES + 10**6)
        )

    assert_problem(response, 413, "too_large")
    sanitize.assert_not_called()
    assert not LesionPhoto.objects.exists()


def test_a_file_over_15_mib_is_refused(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    # Within the form overhead allowance, so it is the file's own size that is checked.
    big = fx.jpeg_bytes() + bytes(imaging.MAX_BYTES)

    response = post_photo(client_for(alice.user), big)

    assert_problem(response, 413, "too_large")
    assert not LesionPhoto.objects.exists()
    assert stored_files(photo_root) == []


def test_the_client_filename_never_reaches_storage(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    photo = make_photo(client_for, alice, fx.jpeg_bytes(), name="../../etc/passwd.php")

    assert ".." not in photo.image
    assert "passwd" not in photo.image
    assert photo.image.startswith("images/")
    assert photo.image.endswith(".jpg")
    assert stored_files(photo_root) == [photo.image]


def test_a_phone_retry_with_the_same_client_id_makes_no_second_photo(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    client = client_for(alice.user)
    body = fields()
    data = fx.jpeg_with_gps()

    first = post_photo(client, data, **body)
    again = post_photo(client, data, **body)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert LesionPhoto.objects.count() == 1
    assert len(stored_files(photo_root)) == 1


def test_the_same_bytes_under_a_new_client_id_return_the_first_photo(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    client = client_for(alice.user)
    data = fx.jpeg_with_gps()

    first = post_photo(client, data)
    again = post_photo(client, data, client_id=str(uuid.uuid4()))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert LesionPhoto.objects.count() == 1
    assert len(stored_files(photo_root)) == 1


def test_content_hash_is_per_patient(alice: Patient, bob: Patient, client_for: ClientFor) -> None:
    data = fx.jpeg_bytes()
    a = post_photo(client_for(alice.user), data)
    b = post_photo(client_for(bob.user), data)

    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]


@pytest.mark.parametrize(
    "change",
    [
        {"data": fx.png_bytes()},
        {"body_area": "legs"},
        {"taken_at": "2024-01-01T10:00:00+00:00"},
    ],
    ids=["other_bytes", "other_area", "other_time"],
)
def test_the_same_client_id_for_a_different_photo_is_a_conflict(
    change: dict[str, Any], alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    client = client_for(alice.user)
    body = fields()
    first = post_photo(client, fx.jpeg_bytes(), **body)
    data = change.pop("data", fx.jpeg_bytes())

    second = post_photo(client, data, **{**body, **change})

    assert first.status_code == 201
    assert_problem(second, 409, "client_id_reused")
    assert LesionPhoto.objects.count() == 1
    assert len(stored_files(photo_root)) == 1


def test_a_check_in_of_ones_own_is_linked(alice: Patient, client_for: ClientFor) -> None:
    mine = check_in(alice)

    response = post_photo(client_for(alice.user), check_in=str(mine.public_id))

    assert response.status_code == 201, response.content
    assert response.json()["check_in"] == str(mine.public_id)


@pytest.mark.parametrize("whose", ["bob", "carol", "nobody"])
def test_a_check_in_not_ones_own_is_refused(
    whose: str, request: pytest.FixtureRequest, alice: Patient, client_for: ClientFor
) -> None:
    ident = (
        str(check_in(request.getfixturevalue(whose)).public_id)
        if whose != "nobody"
        else str(uuid.uuid4())
    )

    response = post_photo(client_for(alice.user), check_in=ident)

    body = assert_problem(response, 400, "validation_error")
    assert {e["attr"] for e in body["errors"]} == {"check_in"}
    assert not LesionPhoto.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "attr"),
    [
        ({"body_area": "elbow"}, "body_area"),
        ({"body_area": None}, "body_area"),
        ({"client_id": "not-a-uuid"}, "client_id"),
        ({"taken_at": "yesterday"}, "taken_at"),
        ({"taken_at": "2999-01-01T00:00:00Z"}, "taken_at"),
        ({"taken_at": "1990-01-01T00:00:00Z"}, "taken_at"),
    ],
)
def test_invalid_fields_are_field_errors(
    overrides: dict[str, Any], attr: str, alice: Patient, client_for: ClientFor
) -> None:
    response = post_photo(client_for(alice.user), **overrides)

    body = assert_problem(response, 400, "validation_error")
    assert attr in {e["attr"] for e in body["errors"]}


def test_a_missing_image_is_a_field_error(alice: Patient, client_for: ClientFor) -> None:
    response = client_for(alice.user).post(API, fields(), format="multipart")

    body = assert_problem(response, 400, "validation_error")
    assert "image" in {e["attr"] for e in body["errors"]}


def test_json_is_not_an_upload(alice: Patient, client_for: ClientFor) -> None:
    response = client_for(alice.user).post(API, fields(), format="json")

    assert_problem(response, 415)


@pytest.mark.parametrize("who", ["nurse", "clinician", "other_nurse"])
def test_staff_cannot_upload(
    who: str, request: pytest.FixtureRequest, alice: Patient, client_for: ClientFor
) -> None:
    staff: User = request.getfixturevalue(who)

    assert_problem(post_photo(client_for(staff)), 403)
    assert not LesionPhoto.objects.exists()


def test_anonymous_cannot_upload(alice: Patient, client_for: ClientFor) -> None:
    assert_problem(post_photo(client_for(None)), 401)


def test_processing_is_enqueued_after_commit_with_the_photo_id(
    alice: Patient, client_for: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    with mock.patch("config.celery.app.send_task") as send_task:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = post_photo(client_for(alice.user))
        send_task.assert_not_called()  # not before the commit
        assert len(callbacks) == 1
        callbacks[0]()

    photo = LesionPhoto.objects.get(public_id=response.json()["id"])
    send_task.assert_called_once_with(
        "tracker.tasks.photo_process_task", kwargs={"photo_id": photo.pk}
    )


def test_a_broker_outage_does_not_fail_the_upload(
    alice: Patient, client_for: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        mock.patch("config.celery.app.send_task", side_effect=ConnectionError("down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post_photo(client_for(alice.user))

    assert response.status_code == 201
    assert LesionPhoto.objects.get().status == LesionPhoto.Status.PROCESSING


def test_a_failed_insert_leaves_no_file(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    with (
        mock.patch.object(LesionPhoto.objects, "create", side_effect=RuntimeError("db down")),
        pytest.raises(RuntimeError),
    ):
        post_photo(client_for(alice.user))

    assert stored_files(photo_root) == []


def test_a_large_upload_spooled_to_disk_is_handled(
    alice: Patient, client_for: ClientFor, photo_root: Path, settings: Any
) -> None:
    import random

    noise = random.Random(7).randbytes(1200 * 1000 * 3)
    data = fx.encode(Image.frombytes("RGB", (1200, 1000), noise), "PNG")
    assert len(data) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE  # a TemporaryUploadedFile

    photo = make_photo(client_for, alice, data, name="big.png")

    assert (photo.width, photo.height) == (1200, 1000)
    assert photo.upload_sha256 == imaging.sha256_hex(data)


@pytest.mark.django_db
def test_photos_are_in_the_openapi_schema(api: Any) -> None:
    paths = api.get("/api/schema/", {"format": "json"}).json()["paths"]

    assert {"/api/v1/photos/", "/api/v1/photos/{id}/", "/api/v1/photos/{id}/image/"} <= set(paths)
    upload = paths["/api/v1/photos/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
