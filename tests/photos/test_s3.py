"""The object-storage path against a real S3-compatible server: moto in server mode.

The server is started by the tests on 127.0.0.1 and spoken to over HTTP by django-storages and
boto3 exactly as MinIO or AWS would be; each test gets its own private bucket.
"""

from __future__ import annotations

import hashlib
import io
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
import time_machine
from django.utils import timezone
from PIL import Image

from tests import fixtures_images as fx
from tests.photos.conftest import assert_problem, make_photo, photo_url
from tests.records.factories import ClientFor
from tracker import imaging
from tracker import storage as photo_files
from tracker.models import AuditEvent, LesionPhoto, Patient, User
from tracker.tasks import orphan_files_sweep_task, photo_process_task

LOCATION = "photos"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str, settings: Any, photo_root: Any) -> Any:
    """A fresh private bucket, and STORAGES["photos"] pointed at it as in production."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    bucket = f"photos-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket, ACL="private")
    settings.STORAGES = {
        **settings.STORAGES,
        "photos": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "default_acl": "private",
                "querystring_auth": True,
                "querystring_expire": 300,
                "file_overwrite": False,
                "location": LOCATION,
                "signature_version": "s3v4",
                "addressing_style": "path",
            },
        },
    }
    assert photo_files.is_object_storage(photo_files.photo_storage())
    client.bucket = bucket  # type: ignore[attr-defined]
    return client


def _keys(s3: Any) -> list[str]:
    listed = s3.list_objects_v2(Bucket=s3.bucket)
    return sorted(entry["Key"] for entry in listed.get("Contents", ()))


def _object(s3: Any, name: str) -> bytes:
    return bytes(s3.get_object(Bucket=s3.bucket, Key=f"{LOCATION}/{name}")["Body"].read())


def test_upload_stores_only_the_sanitised_jpeg_in_the_bucket(
    s3: Any, alice: Patient, client_for: ClientFor
) -> None:
    original = fx.jpeg_with_gps()
    photo = make_photo(client_for, alice, original, name="IMG_0042.JPG")

    assert _keys(s3) == [f"{LOCATION}/{photo.image}"]
    stored = _object(s3, photo.image)
    assert hashlib.sha256(stored).hexdigest() == photo.sha256
    assert fx.SECRET not in stored
    assert b"GPS" not in stored
    assert stored != original
    head = s3.head_object(Bucket=s3.bucket, Key=f"{LOCATION}/{photo.image}")
    assert head["ContentType"] == "image/jpeg"
    acl = s3.get_object_acl(Bucket=s3.bucket, Key=f"{LOCATION}/{photo.image}")
    assert not any("AllUsers" in str(g["Grantee"].get("URI", "")) for g in acl["Grants"])


def test_image_redirects_to_a_short_lived_signed_link_that_returns_the_jpeg(
    s3: Any, alice: Patient, nurse: User, client_for: ClientFor
) -> None:
    photo = make_photo(client_for, alice, fx.jpeg_with_gps())

    response = client_for(nurse).get(photo_url(photo, "image"))

    assert response.status_code == 302
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    link = response["Location"]
    query = parse_qs(urlsplit(link).query)
    assert 0 < int(query["X-Amz-Expires"][0]) <= 300
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "X-Amz-Signature" in query

    fetched = requests.get(link, timeout=10)

    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"] == "image/jpeg"
    assert hashlib.sha256(fetched.content).hexdigest() == photo.sha256
    assert Image.open(io.BytesIO(fetched.content)).getexif().get_ifd(0x8825) == {}
    assert fx.SECRET not in fetched.content
    # The redirect hands the photo out: it is audited like a 200.
    event = AuditEvent.objects.filter(actor=nurse).latest("pk")
    assert (event.action, event.object_id) == ("read:image", str(photo.public_id))


def test_the_bucket_refuses_an_unsigned_url(
    s3: Any, s3_endpoint: str, alice: Patient, client_for: ClientFor
) -> None:
    photo = make_photo(client_for, alice)

    unsigned = f"{s3_endpoint}/{s3.bucket}/{LOCATION}/{photo.image}"
    assert requests.get(unsigned, timeout=10).status_code == 403


def test_json_links_are_api_paths_never_bucket_urls(
    s3: Any, s3_endpoint: str, alice: Patient, client_for: ClientFor
) -> None:
    photo = make_photo(client_for, alice)
    photo_process_task(photo_id=photo.pk)

    body = client_for(alice.user).get(photo_url(photo)).json()

    for key in ("image_url", "thumbnail_url"):
        assert body[key].startswith("http://testserver/api/v1/photos/")
        assert s3_endpoint not in body[key]
        assert s3.bucket not in body[key]


def test_the_task_makes_the_thumbnail_in_the_bucket(
    s3: Any, alice: Patient, client_for: ClientFor
) -> None:
    photo = make_photo(client_for, alice, fx.jpeg_bytes((1000, 500)))

    assert photo_process_task(photo_id=photo.pk) == "ready"
    assert photo_process_task(photo_id=photo.pk) == "skipped"

    photo.refresh_from_db()
    assert _keys(s3) == sorted([f"{LOCATION}/{photo.image}", f"{LOCATION}/{photo.thumbnail}"])
    response = client_for(alice.user).get(photo_url(photo, "thumbnail"))
    assert response.status_code == 302
    fetched = requests.get(response["Location"], timeout=10)
    assert Image.open(io.BytesIO(fetched.content)).size == (320, 160)
    assert photo_files.thumbnail_sha256(photo.thumbnail) == imaging.sha256_hex(fetched.content)


def test_a_tampered_object_is_refused_and_the_photo_rejected(
    s3: Any, alice: Patient, nurse: User, client_for: ClientFor
) -> None:
    photo = make_photo(client_for, alice)
    s3.put_object(Bucket=s3.bucket, Key=f"{LOCATION}/{photo.image}", Body=fx.jpeg_bytes((10, 10)))

    assert_problem(client_for(nurse).get(photo_url(photo, "image")), 409, "integrity_error")
    assert LesionPhoto.objects.get(pk=photo.pk).status == LesionPhoto.Status.REJECTED


def test_a_deleted_object_is_refused_and_the_photo_rejected(
    s3: Any, alice: Patient, client_for: ClientFor
) -> None:
    photo = make_photo(client_for, alice)
    s3.delete_object(Bucket=s3.bucket, Key=f"{LOCATION}/{photo.image}")

    assert_problem(client_for(alice.user).get(photo_url(photo, "image")), 409, "integrity_error")
    assert LesionPhoto.objects.get(pk=photo.pk).status == LesionPhoto.Status.REJECTED


def test_other_clinics_get_404_not_a_link(
    s3: Any, alice: Patient, other_nurse: User, client_for: ClientFor
) -> None:
    photo = make_photo(client_for, alice)

    response = client_for(other_nurse).get(photo_url(photo, "image"))

    assert_problem(response, 404)
    assert "Location" not in response


def test_the_orphan_sweep_lists_the_bucket(s3: Any, alice: Patient, client_for: ClientFor) -> None:
    photo = make_photo(client_for, alice)
    photo_process_task(photo_id=photo.pk)
    photo.refresh_from_db()
    orphan = photo_files.put(photo_files.new_image_name(), b"x", imaging.sha256_hex(b"x"))

    assert orphan_files_sweep_task() == 0  # too young yet
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert orphan_files_sweep_task() == 1

    assert _keys(s3) == sorted([f"{LOCATION}/{photo.image}", f"{LOCATION}/{photo.thumbnail}"])
    assert f"{LOCATION}/{orphan}" not in _keys(s3)


def test_checksum_from_a_head_response() -> None:
    digest = hashlib.sha256(b"abc").digest()
    import base64

    b64 = base64.b64encode(digest).decode()
    assert photo_files.checksum_sha256_hex({"ChecksumSHA256": b64}) == digest.hex()
    assert photo_files.checksum_sha256_hex({"ChecksumSHA256": f"{b64}-3"}) is None
    assert (
        photo_files.checksum_sha256_hex({"ChecksumSHA256": b64, "ChecksumType": "COMPOSITE"})
        is None
    )
    assert photo_files.checksum_sha256_hex({}) is None
