"""Races that only real transactions show: identical uploads at once, the task run twice at once.

Each thread has its own database connection (transaction=True: nothing is wrapped in a test
transaction), and a barrier holds every thread until all have passed the "already stored?"
check, so the unique constraints, not luck, decide.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from tests import fixtures_images as fx
from tests.photos.conftest import fields, post_photo, stored_files
from tests.records.factories import ClientFor
from tracker import imaging
from tracker.models import LesionPhoto, Patient
from tracker.services.photos import photo_process
from tracker.tasks import orphan_files_sweep_task

THREADS = 4


def _run_together(work: Callable[[int], Any], gate: str, n: int = THREADS) -> list[Any]:
    """Run work(i) in n threads that all wait at a barrier inside imaging.<gate>."""
    barrier = threading.Barrier(n, timeout=20)
    real = getattr(imaging, gate)

    def gated(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        barrier.wait()
        return result

    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = work(i)
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()
        finally:
            connection.close()

    with mock.patch.object(imaging, gate, gated):
        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_client_id", [True, False], ids=["same_client_id", "new_client_ids"])
def test_concurrent_identical_uploads_make_one_photo_and_leave_no_orphan(
    same_client_id: bool, alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    data = fx.jpeg_with_gps()
    body = fields()

    def upload(i: int) -> tuple[int, str]:
        extra = {} if same_client_id else {"client_id": str(uuid.uuid4())}
        response = post_photo(client_for(alice.user), data, **{**body, **extra})
        return response.status_code, response.json()["id"]

    with mock.patch("config.celery.app.send_task") as send_task:
        results = _run_together(upload, "sanitize")

    statuses = sorted(code for code, _ in results)
    assert statuses == [200] * (THREADS - 1) + [201]
    assert len({ident for _, ident in results}) == 1
    photo = LesionPhoto.objects.get()
    assert str(photo.public_id) == results[0][1]
    send_task.assert_called_once_with(
        "tracker.tasks.photo_process_task", kwargs={"photo_id": photo.pk}
    )
    # The losers deleted their own files; the sweep, later, finds nothing else to delete.
    assert stored_files(photo_root) == [photo.image]
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert orphan_files_sweep_task() == 0
    assert stored_files(photo_root) == [photo.image]


@pytest.mark.django_db(transaction=True)
def test_the_task_running_twice_at_once_stores_one_thumbnail(
    alice: Patient, client_for: ClientFor, photo_root: Path
) -> None:
    with mock.patch("config.celery.app.send_task"):
        response = post_photo(client_for(alice.user), fx.jpeg_bytes((800, 600)))
    photo = LesionPhoto.objects.get(public_id=response.json()["id"])

    outcomes = _run_together(lambda i: photo_process(photo.pk), "thumbnail", n=2)

    assert sorted(outcomes) == ["ready", "skipped"]
    photo.refresh_from_db()
    assert photo.status == LesionPhoto.Status.READY
    assert [n for n in stored_files(photo_root) if n.startswith("thumbnails/")] == [photo.thumbnail]
