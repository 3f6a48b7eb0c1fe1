"""The Idempotency-Key header for phone POSTs (STYLE.md G7).

A first request stores its response under (user, key); a replay gets the same status and
body; the same key with a different body is 422; a replay that overlaps the first request
is 409. The stored response commits in the write's own transaction; the domain's unique
(patient, client_id) still guards a write whose first request never got its answer.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import Conflict, Unprocessable
from api.models import IdempotencyRecord
from api.renderers import ORJSONRenderer

MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=24)

View = Callable[..., Response]


def _digest(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method}\n{request.path}\n{body}".encode()).hexdigest()


def _audit_with_write(view_self: Any, request: Request, response: Response) -> None:
    """Append the request's audit row inside the write's transaction (AuditedMixin.audit_now);
    views without it are audited as before, by finalize_response."""
    audit_now = getattr(view_self, "audit_now", None)
    if audit_now is not None:
        audit_now(request, response)


def idempotent(view: View) -> View:
    @functools.wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get("Idempotency-Key")
        if not key or not request.user.is_authenticated:
            # The write and its audit row in one transaction: one commit instead of two.
            with transaction.atomic():
                response = view(self, request, *args, **kwargs)
                _audit_with_write(self, request, response)
            return response
        if len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise Unprocessable(
                "Idempotency-Key must be printable and at most 255 characters.",
                code="bad_idempotency_key",
            )
        digest = _digest(request)
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=request.user, key=key, request_hash=digest
                )
        except IntegrityError:
            record = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
            if record is None:
                # The first request failed and forgot the key between our insert and this read.
                raise Conflict(
                    "The first request with this Idempotency-Key has just failed; retry.",
                    code="idempotency_in_progress",
                ) from None
            if record.request_hash != digest:
                raise Unprocessable(
                    "This Idempotency-Key was used with a different request.",
                    code="idempotency_key_reused",
                ) from None
            if record.response_status is None:
                raise Conflict(
                    "The first request with this Idempotency-Key is still in progress.",
                    code="idempotency_in_progress",
                ) from None
            replay = Response(record.response_body, status=record.response_status)
            replay["Idempotent-Replayed"] = "true"
            return replay
        try:
            # The write, the stored response and the audit row commit together: one commit
            # instead of three, and no committed write whose key still reads "in progress".
            with transaction.atomic():
                response = view(self, request, *args, **kwargs)
                keep = not (response.status_code >= 500 or response.status_code in (409, 429))
                if keep:
                    IdempotencyRecord.objects.filter(pk=record.pk).update(
                        response_status=response.status_code,
                        # Stored as rendered, so a replay is byte-for-byte the first answer
                        # (ISO 8601 times, decimals as text), not str() of Python values.
                        response_body=json.loads(ORJSONRenderer().render(response.data)),
                    )
                    _audit_with_write(self, request, response)
        except Exception:
            # The write rolled back: forget the key so that a retry can succeed.
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        if not keep:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return response

    return wrapper


def purge_expired() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - RETENTION
    ).delete()
    return deleted
