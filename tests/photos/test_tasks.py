"""The processing task and the two sweeps, called directly (as a worker would run them)."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone
from PIL import Image

from tests import fixtures_images as fx
from tests.photos.conftest import assert_problem, make_photo, photo_url, post_photo, stored_files
from tests.records.factories import ClientFor
from tracker import imaging
from tracker import storage as photo_files
from tracker.models import LesionPhoto, Patient, User
from tracker.tasks import orphan_files_sweep_task, photo_process_task, photos_sweep_task


def _thumbnails(root: Path) -> list[str]:
    return [n for n in stored_files(root) if n.startswith("thumbnails/")]


def test_the_task_makes_the_thumbnail_and_marks_the_photo_ready(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    photo = make_photo(client_for, alice, fx.jpeg_bytes((1200, 900)))

    assert photo_process_task(photo_id=photo.pk) == "ready"

    photo.refresh_from_db()
    assert photo.status == LesionPhoto.Status.READY
    thumb = (photo_root / photo.thumbnail).read_bytes()
    assert Image.open(io.BytesIO(thumb)).size == (320, 240)
    assert photo_files.thumbnail_sha256(photo.thumbnail) == imaging.sha256_hex(thumb)
    body = client_for(alice.user).get(photo_url(photo)).json()
    assert body["status"] == "ready"
    assert body["thumbnail_url"].endswith("/thumbnail/")


def test_running_the_task_twice_is_harmless(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    photo = make_photo(client_for, alice)

    assert photo_process_task(photo_id=photo.pk) == "ready"
    first = LesionPhoto.objects.get(pk=photo.pk)
    assert photo_process_task(photo_id=photo.pk) == "skipped"

    again = LesionPhoto.objects.get(pk=photo.pk)
    assert (again.status, again.thumbnail) == (LesionPhoto.Status.READY, first.thumbnail)
    assert _thumbnails(photo_root) == [first.thumbnail]


def test_a_missing_row_is_done(db: None) -> None:
    assert photo_process_task(photo_id=987654321) == "missing"


def test_a_tampered_stored_file_is_rejected_by_the_task(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    photo = make_photo(client_for, alice)
    (photo_root / photo.image).write_bytes(fx.jpeg_bytes((32, 32)))  # a valid, different JPEG

    assert photo_process_task(photo_id=photo.pk) == "rejected"

    photo.refresh_from_db()
    assert photo.status == LesionPhoto.Status.REJECTED
    assert "SHA-256" in photo.rejection_reason
    assert _thumbnails(photo_root) == []


def test_a_missing_stored_file_is_rejected_by_the_task(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    photo = make_photo(client_for, alice)
    (photo_root / photo.image).unlink()

    assert photo_process_task(photo_id=photo.pk) == "rejected"
    assert LesionPhoto.objects.get(pk=photo.pk).status == LesionPhoto.Status.REJECTED


@pytest.mark.parametrize("which", ["image", "thumbnail"])
def test_a_tampered_file_is_refused_when_served_and_the_photo_rejected(
    which: str, alice: Patient, nurse: User, client_for: ClientFor, photo_root: Path
) -> None:
    photo = make_photo(client_for, alice)
    photo_process_task(photo_id=photo.pk)
    photo.refresh_from_db()
    target = photo_root / (photo.image if which == "image" else photo.thumbnail)
    target.write_bytes(target.read_bytes()[:-2] + b"\x00\xff\xd9")  # one byte flipped
    client = client_for(nurse)

    response = client.get(photo_url(photo, which))

    assert_problem(response, 409, "integrity_error")
    photo.refresh_from_db()
    assert photo.status == LesionPhoto.Status.REJECTED
    # Never served afterwards either, not even the other file.
    other = "thumbnail" if which == "image" else "image"
    assert client.get(photo_url(photo, other)).status_code == 409


def test_a_rejected_photo_can_be_sent_again(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    data = fx.jpeg_with_gps()
    photo = make_photo(client_for, alice, data)
    (photo_root / photo.image).write_bytes(b"garbage")
    photo_process_task(photo_id=photo.pk)

    again = post_photo(client_for(alice.user), data)

    assert again.status_code == 200
    assert again.json()["id"] == str(photo.public_id)
    assert again.json()["status"] == "processing"
    assert photo_process_task(photo_id=photo.pk) == "ready"
    assert client_for(alice.user).get(photo_url(photo, "image")).status_code == 200
    assert LesionPhoto.objects.count() == 1


def test_the_sweep_processes_a_photo_stuck_in_processing(
    alice: Patient, client_for: ClientFor
) -> None:
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        stuck = make_photo(client_for, alice, fx.jpeg_bytes())  # its task was lost
    with time_machine.travel(start + timedelta(minutes=3), tick=False):
        fresh = make_photo(client_for, alice, fx.png_bytes())  # its task is still queued

    with time_machine.travel(start + timedelta(minutes=6), tick=False):
        outcome = photos_sweep_task()

    assert outcome == {"ready": 1}
    assert LesionPhoto.objects.get(pk=stuck.pk).status == LesionPhoto.Status.READY
    assert LesionPhoto.objects.get(pk=fresh.pk).status == LesionPhoto.Status.PROCESSING
    with time_machine.travel(start + timedelta(minutes=9), tick=False):
        assert photos_sweep_task() == {"ready": 1}
    assert LesionPhoto.objects.get(pk=fresh.pk).status == LesionPhoto.Status.READY


def test_the_sweep_keeps_going_past_a_photo_that_fails(
    alice: Patient, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        bad = make_photo(client_for, alice, fx.jpeg_bytes())
        good = make_photo(client_for, alice, fx.png_bytes())
    real_read = photo_files.read

    def flaky_read(name: str) -> bytes:
        if name == bad.image:
            raise ConnectionError("storage hiccup")
        return real_read(name)

    monkeypatch.setattr(photo_files, "read", flaky_read)
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        assert photos_sweep_task() == {"failed": 1, "ready": 1}

    bad.refresh_from_db()
    assert bad.status == LesionPhoto.Status.PROCESSING  # tried again at the next sweep
    assert bad.updated_at >= start + timedelta(minutes=10)
    assert LesionPhoto.objects.get(pk=good.pk).status == LesionPhoto.Status.READY


def _age(path: Path, hours: float) -> None:
    moment = (timezone.now() - timedelta(hours=hours)).timestamp()
    os.utime(path, (moment, moment))


def test_the_orphan_sweep_deletes_old_unreferenced_files_only(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    kept = make_photo(client_for, alice, fx.jpeg_bytes())
    photo_process_task(photo_id=kept.pk)
    kept.refresh_from_db()
    old_orphan = photo_files.put(photo_files.new_image_name(), b"x", imaging.sha256_hex(b"x"))
    old_thumb = photo_files.put(photo_files.new_thumbnail_name("0" * 64), b"y", "0" * 64)
    young_orphan = photo_files.put(photo_files.new_image_name(), b"z", imaging.sha256_hex(b"z"))
    for name in (kept.image, kept.thumbnail, old_orphan, old_thumb):
        _age(photo_root / name, hours=3)
    _age(photo_root / young_orphan, hours=0.5)  # may belong to a request still inserting

    assert orphan_files_sweep_task() == 2

    assert stored_files(photo_root) == sorted([kept.image, kept.thumbnail, young_orphan])
    assert orphan_files_sweep_task() == 0


def test_the_orphan_sweep_with_time_travel(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    kept = make_photo(client_for, alice, fx.jpeg_bytes())
    orphan = photo_files.put(photo_files.new_image_name(), b"x", imaging.sha256_hex(b"x"))

    assert orphan_files_sweep_task() == 0  # too young
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert orphan_files_sweep_task() == 1

    assert stored_files(photo_root) == [kept.image]
    assert orphan not in stored_files(photo_root)


def test_the_orphan_sweep_on_an_empty_storage(db: None, photo_root: Path) -> None:
    assert orphan_files_sweep_task() == 0
