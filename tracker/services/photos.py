"""Lesion photos: accept an upload, store only its sanitised pixels, process it, serve it checked.

Upload (:func:`photo_upload`, inside the request):

1. Replays are answered before anything is decoded: the same ``client_id`` with the same bytes
   and fields returns the first photo; with other bytes or fields it is a conflict. The same
   bytes under a new ``client_id`` (a phone that lost its queue) return the first photo too:
   the per-patient hash of the uploaded bytes is the second idempotency key.
2. :func:`tracker.imaging.sanitize` decides by the bytes alone and re-encodes from pixels (no
   EXIF/GPS, no trailing bytes). Refusals are :class:`PhotoRejected` with the imaging code.
3. The sanitised JPEG (never the upload) is written under a server-chosen name, then the row is
   inserted in its own transaction (status processing, ``sha256`` of the stored bytes). Storage
   writes are not transactional: if the insert fails (a concurrent duplicate lost the race on a
   unique key), the file is deleted and the winner returned; if the process dies in between,
   :func:`orphan_files_sweep` deletes the file later.
4. After commit, ``tracker.tasks.photo_process_task`` is enqueued (never raising on a broker
   outage: :func:`photos_sweep` picks up photos left in processing).

Processing (:func:`photo_process`, in a worker): check the stored file's SHA-256, make the
thumbnail, mark the photo ready; a corrupt or altered file marks it rejected. Idempotent: the
row lock and status make a second run, or a concurrent one, a no-op.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, Final
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from tracker import imaging
from tracker import storage as photo_files
from tracker.jobs import send_task_on_commit
from tracker.models import CheckIn, LesionPhoto, Patient
from tracker.services.errors import DomainConflict, DomainError
from tracker.services.records import Recorded

if TYPE_CHECKING:
    from tracker.models import User

logger = logging.getLogger(__name__)

PROCESS_TASK: Final = "tracker.tasks.photo_process_task"
STUCK_AFTER: Final = timedelta(minutes=5)
ORPHAN_GRACE: Final = timedelta(hours=1)
SWEEP_BATCH: Final = 100
EARLIEST_TAKEN_AT: Final = datetime(2000, 1, 1, tzinfo=UTC)
_CHUNK: Final = 1 << 20


class PhotoRejected(DomainError):
    """The upload is not an acceptable photo; ``code`` is the :class:`ImageRejected` code."""


class PhotoIntegrityError(DomainConflict):
    """The stored file no longer matches its SHA-256 (or is gone); the photo is now rejected."""

    code = "integrity_error"


class PhotoNotReady(DomainConflict):
    code = "not_ready"


class PhotoUnavailable(DomainConflict):
    """A rejected photo: its files are not served."""

    code = "photo_rejected"


@dataclass(frozen=True)
class Served:
    """What the API hands out: the stored name, checked against its hash."""

    name: str
    sha256: str


# --- upload -------------------------------------------------------------------------------------


def upload_sha256(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def _same_request(photo: LesionPhoto, fields: dict[str, Any], digest: str) -> bool:
    return (
        photo.upload_sha256 == digest
        and photo.body_area == fields["body_area"]
        and photo.taken_at == fields["taken_at"]
        and photo.check_in_id == fields["check_in_id"]
    )


def _replay(patient: Patient, client_id: UUID, digest: str, fields: dict[str, Any]) -> Any:
    """The stored photo this request repeats, None if it is new; DomainConflict on misuse."""
    same_id = LesionPhoto.objects.filter(patient=patient, client_id=client_id).first()
    if same_id is not None:
        if not _same_request(same_id, fields, digest):
            raise DomainConflict(
                "This client_id was already used for a different photo.", code="client_id_reused"
            )
        return same_id
    return LesionPhoto.objects.filter(patient=patient, upload_sha256=digest).first()


def _check_fields(patient: Patient, taken_at: datetime, check_in: CheckIn | None) -> None:
    errors: dict[str, list[str]] = {}
    if taken_at > timezone.now() + timedelta(minutes=5):
        errors["taken_at"] = ["Must not be in the future."]
    elif taken_at < EARLIEST_TAKEN_AT:
        errors["taken_at"] = ["Must not be before 2000-01-01."]
    if check_in is not None and check_in.patient_id != patient.pk:
        errors["check_in"] = ["No such check-in."]
    if errors:
        raise DomainError("The photo details are not valid.", field_errors=errors)


def _sanitize(stream: BinaryIO) -> imaging.ProcessedImage:
    try:
        # The thumbnail is made by the task, off the request.
        return imaging.sanitize(stream, thumbnail_size=None)
    except imaging.ImageRejected as exc:
        raise PhotoRejected(exc.message, code=exc.code) from exc


def photo_upload(
    *,
    patient: Patient,
    uploaded_by: User,
    stream: BinaryIO,
    client_id: UUID,
    body_area: str,
    taken_at: datetime,
    check_in: CheckIn | None = None,
) -> Recorded[LesionPhoto]:
    """Store a lesion photo; idempotent by (patient, client_id) and (patient, uploaded bytes).

    Must not run inside an outer transaction: the file is written before the row's own
    transaction, and the processing task is enqueued when that transaction commits.
    """
    _check_fields(patient, taken_at, check_in)
    fields = {
        "body_area": body_area,
        "taken_at": taken_at,
        "check_in_id": check_in.pk if check_in is not None else None,
    }
    digest = upload_sha256(stream)
    existing = _replay(patient, client_id, digest, fields)
    if existing is not None:
        if existing.status == LesionPhoto.Status.REJECTED:
            return Recorded(_revive(existing, stream), False)
        return Recorded(existing, False)

    processed = _sanitize(stream)
    name = photo_files.put(photo_files.new_image_name(), processed.data, processed.sha256)
    try:
        with transaction.atomic():
            photo = LesionPhoto.objects.create(
                patient=patient,
                client_id=client_id,
                upload_sha256=digest,
                image=name,
                sha256=processed.sha256,
                width=processed.width,
                height=processed.height,
                size_bytes=len(processed.data),
                status=LesionPhoto.Status.PROCESSING,
                uploaded_by=uploaded_by,
                **fields,
            )
            send_task_on_commit(PROCESS_TASK, photo_id=photo.pk)
    except IntegrityError:
        # A concurrent request with the same client_id or the same bytes committed first.
        photo_files.delete_quietly(name)
        winner = _replay(patient, client_id, digest, fields)
        if winner is None:
            raise
        return Recorded(winner, False)
    except BaseException:
        photo_files.delete_quietly(name)
        raise
    return Recorded(photo, True)


def _revive(photo: LesionPhoto, stream: BinaryIO) -> LesionPhoto:
    """The same bytes again for a photo whose stored file was lost or altered: store them anew.

    Same row, same id; the old files become orphans for the sweep.
    """
    processed = _sanitize(stream)
    name = photo_files.put(photo_files.new_image_name(), processed.data, processed.sha256)
    with transaction.atomic():
        locked = LesionPhoto.objects.select_for_update().filter(pk=photo.pk).first()
        if locked is None or locked.status != LesionPhoto.Status.REJECTED:
            photo_files.delete_quietly(name)  # revived meanwhile by a concurrent retry
            return locked or photo
        locked.image = name
        locked.thumbnail = ""
        locked.sha256 = processed.sha256
        locked.width = processed.width
        locked.height = processed.height
        locked.size_bytes = len(processed.data)
        locked.status = LesionPhoto.Status.PROCESSING
        locked.rejection_reason = ""
        locked.save()
        send_task_on_commit(PROCESS_TASK, photo_id=locked.pk)
    logger.info("photo %s re-uploaded after rejection", locked.public_id)
    return locked


# --- processing ---------------------------------------------------------------------------------


def _reject(photo: LesionPhoto, reason: str) -> None:
    """Mark rejected, whatever its status (a file that no longer matches is never served),
    unless a re-upload has replaced its image meanwhile."""
    LesionPhoto.objects.filter(pk=photo.pk, image=photo.image).exclude(
        status=LesionPhoto.Status.REJECTED
    ).update(
        status=LesionPhoto.Status.REJECTED, rejection_reason=reason[:200], updated_at=timezone.now()
    )


def _integrity_failure(photo: LesionPhoto, *, thumbnail: bool) -> PhotoIntegrityError:
    which = "thumbnail" if thumbnail else "image"
    _reject(photo, f"The stored {which} is missing or does not match its SHA-256.")
    logger.error("photo %s: stored %s failed its integrity check", photo.public_id, which)
    return PhotoIntegrityError("The stored photo failed its integrity check.")


def photo_process(photo_id: int) -> str:
    """Thumbnail and mark ready. Returns the outcome: ready, rejected, skipped, missing.

    Safe to run twice or concurrently: the work is decided under a row lock, so exactly one run
    stores a thumbnail and the others see the photo no longer processing.
    """
    photo = LesionPhoto.objects.filter(pk=photo_id).first()
    if photo is None:
        return "missing"
    if photo.status != LesionPhoto.Status.PROCESSING:
        return "skipped"
    try:
        data = photo_files.read(photo.image)
    except FileNotFoundError:
        _integrity_failure(photo, thumbnail=False)
        return "rejected"
    if imaging.sha256_hex(data) != photo.sha256:
        _integrity_failure(photo, thumbnail=False)
        return "rejected"
    try:
        thumb = imaging.thumbnail(data)
    except imaging.ImageRejected as exc:
        _reject(photo, f"The stored photo could not be decoded ({exc.code}).")
        return "rejected"
    thumb_sha = imaging.sha256_hex(thumb)
    with transaction.atomic():
        locked = LesionPhoto.objects.select_for_update().filter(pk=photo.pk).first()
        if (
            locked is None
            or locked.status != LesionPhoto.Status.PROCESSING
            or locked.image != photo.image
        ):
            return "skipped"
        # Written under the lock, so a concurrent run waits and then skips; if this commit
        # fails, the thumbnail is an orphan for the sweep.
        locked.thumbnail = photo_files.put(
            photo_files.new_thumbnail_name(thumb_sha), thumb, thumb_sha
        )
        locked.status = LesionPhoto.Status.READY
        locked.rejection_reason = ""
        locked.save(update_fields=["thumbnail", "status", "rejection_reason", "updated_at"])
    return "ready"


def photos_sweep(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> dict[str, int]:
    """Process again photos left in processing for longer than STUCK_AFTER (a dead worker, a
    lost task, a broker outage at upload). Oldest first; a failing photo goes to the back."""
    cutoff = (now or timezone.now()) - STUCK_AFTER
    stuck = list(
        LesionPhoto.objects.filter(status=LesionPhoto.Status.PROCESSING, updated_at__lt=cutoff)
        .order_by("updated_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    outcomes: dict[str, int] = {}
    for photo_id in stuck:
        try:
            outcome = photo_process(photo_id)
        except Exception as exc:
            logger.warning("photo %s: processing failed (%s)", photo_id, type(exc).__name__)
            LesionPhoto.objects.filter(pk=photo_id).update(updated_at=timezone.now())
            outcome = "failed"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def orphan_files_sweep(*, now: datetime | None = None, batch: int = 500) -> int:
    """Delete stored images and thumbnails that no row references and are older than
    ORPHAN_GRACE (younger ones may belong to a request still inserting its row).

    Lists the storage (``Storage.listdir``: local files or an S3 bucket) and checks the names
    against the rows a batch at a time. Returns the number of files deleted.
    """
    cutoff = (now or timezone.now()) - ORPHAN_GRACE
    deleted = 0
    for prefix in (photo_files.IMAGES, photo_files.THUMBNAILS):
        pending: list[str] = []
        for name in photo_files.walk(prefix):
            pending.append(name)
            if len(pending) >= batch:
                deleted += _delete_unreferenced(pending, cutoff)
                pending = []
        if pending:
            deleted += _delete_unreferenced(pending, cutoff)
    return deleted


def _delete_unreferenced(names: list[str], cutoff: datetime) -> int:
    referenced = set(
        LesionPhoto.objects.filter(Q(image__in=names) | Q(thumbnail__in=names)).values_list(
            "image", "thumbnail"
        )
    )
    used = {n for pair in referenced for n in pair}
    deleted = 0
    for name in names:
        if name in used:
            continue
        modified = photo_files.modified_time(name)
        if modified is None or modified >= cutoff:
            continue
        # Re-check just before deleting: a row may have adopted the file meanwhile (revival).
        if LesionPhoto.objects.filter(Q(image=name) | Q(thumbnail=name)).exists():
            continue
        photo_files.delete_quietly(name)
        deleted += 1
    if deleted:
        logger.info("orphan sweep deleted %d photo files", deleted)
    return deleted


# --- serving ------------------------------------------------------------------------------------


def _served(photo: LesionPhoto, *, thumbnail: bool) -> Served:
    if photo.status == LesionPhoto.Status.REJECTED:
        raise PhotoUnavailable("This photo was rejected and is not available.")
    if thumbnail:
        if photo.status != LesionPhoto.Status.READY or not photo.thumbnail:
            raise PhotoNotReady("The thumbnail is not ready yet; try again shortly.")
        expected = photo_files.thumbnail_sha256(photo.thumbnail)
        return Served(photo.thumbnail, expected or "")
    return Served(photo.image, photo.sha256)


def photo_file_checked(photo: LesionPhoto, *, thumbnail: bool = False) -> Served:
    """The file to serve, after checking its SHA-256 as stored now against the recorded one.

    A mismatch (or a missing file) marks the photo rejected and raises PhotoIntegrityError:
    an altered medical image is never shown.
    """
    served = _served(photo, thumbnail=thumbnail)
    try:
        actual = photo_files.stored_sha256(served.name)
    except FileNotFoundError:
        actual = None
    if not served.sha256 or actual != served.sha256:
        raise _integrity_failure(photo, thumbnail=thumbnail)
    return served


def photo_bytes_checked(photo: LesionPhoto, *, thumbnail: bool = False) -> bytes:
    """The bytes of the file to serve (local storage), checked against the recorded SHA-256."""
    served = _served(photo, thumbnail=thumbnail)
    try:
        data: bytes | None = photo_files.read(served.name)
    except FileNotFoundError:
        data = None
    if data is None or not served.sha256 or imaging.sha256_hex(data) != served.sha256:
        raise _integrity_failure(photo, thumbnail=thumbnail)
    return data


def check_in_for(patient: Patient, public_id: UUID | None) -> CheckIn | None:
    """The patient's own check-in by id; DomainError (field error) for anyone else's."""
    if public_id is None:
        return None
    check_in = CheckIn.objects.filter(patient=patient, public_id=public_id).first()
    if check_in is None:
        raise DomainError(
            "The photo details are not valid.", field_errors={"check_in": ["No such check-in."]}
        )
    return check_in
