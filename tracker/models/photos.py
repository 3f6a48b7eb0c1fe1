"""Lesion photos: stored re-encoded from pixels, private, checked by hash when served."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class LesionPhoto(models.Model):
    """A photo of one CLASI body area.

    Idempotent twice over: by (patient, client_id) and by (patient, upload_sha256), the hash
    of the bytes the phone sent, so a retry with a fresh client_id still makes no second
    photo. `sha256` is the hash of the stored (re-encoded) file and is checked when served.
    """

    class Status(models.TextChoices):
        PROCESSING = "processing"
        READY = "ready"
        REJECTED = "rejected"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("tracker.Patient", on_delete=models.PROTECT, related_name="photos")
    client_id = models.UUIDField()
    body_area = models.CharField(max_length=20)
    taken_at = models.DateTimeField()
    check_in = models.ForeignKey(
        "tracker.CheckIn", on_delete=models.PROTECT, null=True, blank=True, related_name="photos"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROCESSING)
    image = models.CharField(max_length=200)
    thumbnail = models.CharField(max_length=200, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    upload_sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveIntegerField()
    rejection_reason = models.CharField(max_length=200, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "client_id"], name="photo_client_id_once"),
            models.UniqueConstraint(fields=["patient", "upload_sha256"], name="photo_content_once"),
        ]
        indexes = [
            models.Index(fields=["patient", "body_area", "taken_at"], name="photo_area_course"),
            models.Index(
                fields=["updated_at"], name="photo_processing", condition=Q(status="processing")
            ),
        ]
