"""Photo storage: the one place that knows how photo files are named, written, read and linked.

Works on whatever ``STORAGES["photos"]`` is (a private ``FileSystemStorage`` in the embedded
run and in tests, a private S3-compatible bucket through django-storages in production). The
backend is looked up on every call, never cached at import time, so that a settings override
(tests) reaches it.

Names are chosen by the server, never by the client:

- ``images/<yyyy-mm>/<uuid>.jpg``: the sanitised photo; its SHA-256 is in the row.
- ``thumbnails/<yyyy-mm>/<uuid>-<sha256>.jpg``: content-addressed, so the thumbnail's hash is
  kept (in its name, in the row) without a column of its own.

Writes are not transactional: a file may exist without a row (a failed or lost insert); the
orphan sweep removes such files after a grace period.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import posixpath
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone

if TYPE_CHECKING:
    from django.core.files.storage import Storage

logger = logging.getLogger(__name__)

IMAGES: Final = "images"
THUMBNAILS: Final = "thumbnails"
JPEG: Final = "image/jpeg"
MAX_URL_EXPIRY_SECONDS: Final = 300
"""Hard ceiling for signed links, whatever the settings say (DESIGN: within 5 minutes)."""

_THUMBNAIL_NAME = re.compile(r"^thumbnails/\d{4}-\d{2}/[0-9a-f]{32}-(?P<sha>[0-9a-f]{64})\.jpg$")


def photo_storage() -> Storage:
    return storages["photos"]


def is_object_storage(storage: Storage) -> bool:
    """An S3-compatible bucket (served by signed redirects), as opposed to local files."""
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:  # pragma: no cover - django-storages is a dependency
        return False
    return isinstance(storage, S3Storage)


# --- names --------------------------------------------------------------------------------------


def _month(now: datetime | None = None) -> str:
    return (now or timezone.now()).strftime("%Y-%m")


def new_image_name() -> str:
    return f"{IMAGES}/{_month()}/{uuid.uuid4().hex}.jpg"


def new_thumbnail_name(sha256: str) -> str:
    return f"{THUMBNAILS}/{_month()}/{uuid.uuid4().hex}-{sha256}.jpg"


def thumbnail_sha256(name: str) -> str | None:
    """The hash a thumbnail name carries, or None if the name is not one of ours."""
    match = _THUMBNAIL_NAME.match(name)
    return match.group("sha") if match else None


# --- bytes --------------------------------------------------------------------------------------


def put(name: str, data: bytes, sha256: str) -> str:
    """Write ``data`` under ``name`` (a fresh, server-chosen name) and return the stored name.

    On S3 the object is written in one PUT with its SHA-256, which S3 verifies against the body
    and keeps (``ChecksumSHA256``), so serving can check it without downloading.
    """
    storage = photo_storage()
    if not is_object_storage(storage):
        return storage.save(name, ContentFile(data, name=posixpath.basename(name)))
    from storages.utils import clean_name

    cleaned = clean_name(name)
    key = storage._normalize_name(cleaned)  # the bucket key, under the storage's location
    params: dict[str, Any] = storage._get_write_parameters(key)  # ACL, object_parameters
    params["ContentType"] = JPEG
    storage.connection.meta.client.put_object(
        Bucket=storage.bucket_name,
        Key=key,
        Body=data,
        ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode(),
        **params,
    )
    return cleaned


def read(name: str) -> bytes:
    """The stored bytes; FileNotFoundError if the file is gone."""
    storage = photo_storage()
    if is_object_storage(storage):
        from botocore.exceptions import ClientError

        try:
            with storage.open(name, "rb") as fh:
                return fh.read()
        except ClientError as exc:
            if _is_not_found(exc):
                raise FileNotFoundError(name) from exc
            raise
    with storage.open(name, "rb") as fh:
        return fh.read()


def delete_quietly(name: str) -> None:
    """Delete a file we wrote; a failure is logged, and the orphan sweep will retry."""
    if not name:
        return
    try:
        photo_storage().delete(name)
    except Exception as exc:
        logger.warning(
            "could not delete photo file (%s); the orphan sweep will", type(exc).__name__
        )


def stored_sha256(name: str) -> str:
    """SHA-256 (hex) of the file as stored now: what serving compares with the row.

    On S3, the checksum S3 computed and verified at upload (a HEAD) when it has one; otherwise
    (an S3-compatible server without checksums, or an object someone else wrote) the object is
    read and hashed. Locally, the file is read and hashed. FileNotFoundError if it is gone.
    """
    storage = photo_storage()
    if is_object_storage(storage):
        from botocore.exceptions import ClientError
        from storages.utils import clean_name

        try:
            head = storage.connection.meta.client.head_object(
                Bucket=storage.bucket_name,
                Key=storage._normalize_name(clean_name(name)),
                ChecksumMode="ENABLED",
            )
        except ClientError as exc:
            if _is_not_found(exc):
                raise FileNotFoundError(name) from exc
            raise
        checksum = checksum_sha256_hex(head)
        if checksum is not None:
            return checksum
    return hashlib.sha256(read(name)).hexdigest()


def checksum_sha256_hex(head: dict[str, Any]) -> str | None:
    """The full-object SHA-256 from a HeadObject response (hex), or None if S3 has none."""
    value = head.get("ChecksumSHA256")
    if not value or head.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT" or "-" in value:
        return None  # a multipart object's checksum is a checksum of checksums
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def _is_not_found(exc: Any) -> bool:
    response = getattr(exc, "response", {}) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or code in {"404", "NoSuchKey", "NotFound"}


# --- links --------------------------------------------------------------------------------------


def url_expiry_seconds() -> int:
    storage = photo_storage()
    configured = getattr(storage, "querystring_expire", MAX_URL_EXPIRY_SECONDS)
    return max(1, min(configured, settings.PHOTO_URL_EXPIRY_SECONDS, MAX_URL_EXPIRY_SECONDS))


def signed_url(name: str, *, filename: str) -> str:
    """A link to the object that expires within ``url_expiry_seconds()`` (object storage only).

    The response headers S3 sends with the file are fixed in the signature: JPEG, inline with
    our filename, never cached.
    """
    storage = photo_storage()
    if not is_object_storage(storage):
        raise ImproperlyConfigured("Local photo files are served by the API, not by a link.")
    if not storage.querystring_auth or (storage.custom_domain and not storage.cloudfront_signer):
        # A link without a signature would be public and never expire.
        raise ImproperlyConfigured("Photo links must be signed (querystring_auth).")
    return storage.url(
        name,
        parameters={
            "ResponseContentType": JPEG,
            "ResponseContentDisposition": f'inline; filename="{filename}"',
            "ResponseCacheControl": "no-store",
        },
        expire=url_expiry_seconds(),
    )


# --- listing ------------------------------------------------------------------------------------


def walk(prefix: str) -> Iterator[str]:
    """Every file name under ``prefix``, recursively, through ``Storage.listdir``."""
    storage = photo_storage()
    try:
        directories, files = storage.listdir(prefix)
    except FileNotFoundError:
        return
    for file in files:
        yield posixpath.join(prefix, file)
    for directory in directories:
        yield from walk(posixpath.join(prefix, directory))


def modified_time(name: str) -> datetime | None:
    try:
        return photo_storage().get_modified_time(name)
    except FileNotFoundError:
        return None
    except Exception as exc:
        if _is_not_found(exc):
            return None
        raise
