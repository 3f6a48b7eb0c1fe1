"""Sending one delivery row: claim, render, send, record.

Invariants:
- The claim is a compare-and-set UPDATE (pending/failed and due -> sending, attempts + 1):
  of any number of workers handed the same id, exactly one sends; the rest do nothing.
- Nothing is sent inside a database transaction: the provider call may take seconds and
  must not hold locks. The outcome is written afterwards by services.delivery_mark_*.
- If a worker dies between the send and the mark, the row stays "sending" and the
  deliveries sweep retries it after NOTIFY_STUCK_SENDING_SECONDS: delivery is at least once
  in that one case (receivers get a stable delivery id to de-duplicate), and exactly once
  otherwise. A row marked sent is never sent again.
"""

from __future__ import annotations

import enum
import logging
from datetime import timedelta

from django.db.models import F
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


class Outcome(enum.StrEnum):
    NOT_CLAIMED = "not_claimed"  # missing, already sent, being sent, cancelled or not due
    SENT = "sent"
    RETRY = "retry"
    GAVE_UP = "gave_up"
    CANCELLED = "cancelled"


def delivery_claim(delivery_id: int) -> Delivery | None:
    """Atomically take the row for sending; None if another worker has it or it is done."""
    now = timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id,
        status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED],
        next_attempt_at__lte=now + _CLAIM_TOLERANCE,
    ).update(status=Delivery.Status.SENDING, attempts=F("attempts") + 1, updated_at=now)
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
    delivery = delivery_claim(delivery_id)
    if delivery is None:
        return Outcome.NOT_CLAIMED
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
        delivery_mark_sent(delivery, started_at=started_at)
        return Outcome.SENT
    countdown = delivery_mark_failed(
        delivery, error=error, permanent=permanent, invalid_recipient=invalid, started_at=started_at
    )
    return Outcome.GAVE_UP if countdown is None else Outcome.RETRY
