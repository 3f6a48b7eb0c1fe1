"""Sending one delivery row: claim, render, send, record.

Invariants:
- The claim is a compare-and-set UPDATE (pending/failed and due -> sending, attempts + 1):
  of any number of workers handed the same id, exactly one sends; the rest do nothing.
- Nothing is sent inside a database transaction: the provider call may take seconds and
  must not hold locks. The outcome is written afterwards by services.delivery_mark_*.
- The sender holds a PostgreSQL session advisory lock on the row from before the claim
  until the outcome is recorded. The server releases it the moment the sender's connection
  dies (a SIGKILLed pool process, a crashed host), so a row in "sending" whose lock is free
  has no live sender: the task redelivered by acks_late + reject_on_worker_lost (or one the
  deliveries sweep publishes) takes it over at once, instead of the row waiting
  NOTIFY_STUCK_SENDING_SECONDS. Without advisory locks (SQLite) only the sweep's time-based
  reset applies.
- If a worker dies between the send and the mark, the row is sent again by the takeover:
  delivery is at least once in that one case (receivers get a stable delivery id to
  de-duplicate), and exactly once otherwise. A row marked sent is never sent again.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.db.models import F, Q
from django.utils import timezone

from notifications.messages import Moot, render
from notifications.models import NotificationDelivery
from notifications.services import (
    delivery_mark_cancelled,
    delivery_mark_failed,
    delivery_mark_sent,
)
from notifications.transports import TransportError, transport_for

logger = logging.getLogger(__name__)
Delivery = NotificationDelivery
# Celery ETAs and the sweep may fire a moment before next_attempt_at by clock skew.
_CLAIM_TOLERANCE = timedelta(seconds=2)
# How long a sent message's outcome waits for the database; less than the deliveries sweep's
# grace, so the sweep never takes the row over meanwhile.
_MARK_PATIENCE = timedelta(seconds=30)


class Outcome(enum.StrEnum):
    NOT_CLAIMED = "not_claimed"  # missing, already sent, being sent, cancelled or not due
    SENT = "sent"
    RETRY = "retry"
    GAVE_UP = "gave_up"
    CANCELLED = "cancelled"


# Advisory lock keys of deliveries: this namespace in the high bits, the row id in the low 48.
_LOCK_SPACE = 0x4E44 << 48


def sender_locks_supported() -> bool:
    return connection.vendor == "postgresql"


@contextmanager
def sender_lock(delivery_id: int) -> Iterator[bool | None]:
    """Hold the row's sender lock for the block: yields True if this process got it, False
    if a live sender holds it, None where the database has no advisory locks."""
    if not sender_locks_supported():
        yield None
        return
    key = _LOCK_SPACE | delivery_id
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except DatabaseError:
                pass  # the connection is gone, and the server dropped the lock with it


def delivery_claim(delivery_id: int, *, takeover: bool = False) -> Delivery | None:
    """Atomically take the row for sending; None if another worker has it or it is done.

    `takeover` (the caller holds the sender lock): a row left in "sending" by a dead sender
    is claimed too, unless its attempts are used up (the sweep gives up on it).
    """
    now = timezone.now()
    claimable = Q(
        status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED],
        next_attempt_at__lte=now + _CLAIM_TOLERANCE,
    )
    if takeover:
        claimable |= Q(
            status=Delivery.Status.SENDING, attempts__lt=int(settings.NOTIFY_MAX_ATTEMPTS)
        )
    claimed = Delivery.objects.filter(claimable, pk=delivery_id).update(
        status=Delivery.Status.SENDING, attempts=F("attempts") + 1, updated_at=now
    )
    if not claimed:
        return None
    return Delivery.objects.select_related(
        "alert__patient",
        "recipient__staff_membership",
        "device",
        "reminder__patient",
        "digest",
    ).get(pk=delivery_id)


def delivery_send(delivery_id: int) -> Outcome:
    """Claim, render and send one delivery, then record the outcome. Idempotent."""
    with sender_lock(delivery_id) as held:
        if held is False:
            return Outcome.NOT_CLAIMED  # a live sender has it
        delivery = delivery_claim(delivery_id, takeover=bool(held))
        if delivery is None:
            return Outcome.NOT_CLAIMED
        return _send(delivery)


def _send(delivery: Delivery) -> Outcome:
    started_at = timezone.now()
    try:
        message = render(delivery)
    except Moot as moot:
        delivery_mark_cancelled(delivery, reason=str(moot))
        return Outcome.CANCELLED
    try:
        transport_for(delivery.channel).send(message)
    except TransportError as exc:
        error, permanent, invalid = exc.message, exc.permanent, exc.invalid_recipient
    except Exception as exc:
        # A bug or a misconfiguration: record it as a failed attempt so the row backs off
        # and finally gives up (and escalates) instead of cycling through the sweep forever.
        logger.exception("delivery %s: unexpected %s", delivery.pk, type(exc).__name__)
        error, permanent, invalid = f"unexpected {type(exc).__name__}", False, False
    else:
        _record_sent(delivery, started_at)
        return Outcome.SENT
    countdown = delivery_mark_failed(
        delivery, error=error, permanent=permanent, invalid_recipient=invalid, started_at=started_at
    )
    return Outcome.GAVE_UP if countdown is None else Outcome.RETRY


def _record_sent(delivery: Delivery, started_at: datetime) -> None:
    """The provider accepted the message: record it, waiting out a database outage of up to
    _MARK_PATIENCE. Letting the error reach the task's retry would send the message again
    (the retry finds the row still "sending", with no live sender)."""
    pause = 0.5
    deadline = time.monotonic() + _MARK_PATIENCE.total_seconds()
    while True:
        try:
            delivery_mark_sent(delivery, started_at=started_at)
            return
        except (OperationalError, InterfaceError):
            if time.monotonic() + pause > deadline:
                raise
            logger.warning("delivery %s sent; the database is unavailable, retrying", delivery.pk)
            connection.close()  # the next try opens a new connection
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
