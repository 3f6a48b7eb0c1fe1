"""Alert lifecycle and delivery outcomes (writes).

Lifecycle: open -> acknowledged -> resolved (resolved is final; an open alert may be resolved
directly). Every service:
- locks the alert row (SELECT ... FOR UPDATE) before checking its state, so two nurses
  clicking at once serialise and the second gets a conflict instead of a lost update;
- checks that the actor is staff of the alert's clinic (the API scopes too; this is the
  second wall), raising DomainNotFound otherwise so nothing leaks about other clinics;
- appends exactly one AlertEvent with the actor and time for each change it makes.
Lock order: alert, then delivery rows, never the reverse.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications import outbox
from notifications.models import (
    Alert,
    AlertEvent,
    DeliveryAttempt,
    Device,
    NotificationDelivery,
    PatientReminder,
)
from tracker.models import User
from tracker.services.errors import DomainConflict, DomainError, DomainNotFound

logger = logging.getLogger(__name__)

Status = Alert.Status
Delivery = NotificationDelivery
ASSIGNABLE_ROLES = frozenset({"nurse", "clinician"})


def _locked(alert: Alert, actor: User | None) -> Alert:
    locked = Alert.objects.select_for_update().select_related("patient").get(pk=alert.pk)
    if actor is not None and not actor.is_superuser:
        membership = actor.membership
        if membership is None or membership.clinic_id != locked.clinic_id:
            raise DomainNotFound("Alert not found.")
    return locked


def _not_resolved(alert: Alert) -> None:
    if alert.status == Status.RESOLVED:
        raise DomainConflict("The alert is already resolved.", code="alert_resolved")


def _event(alert: Alert, kind: str, actor: User | None, note: str = "", **data: object) -> None:
    AlertEvent.objects.create(alert=alert, kind=kind, actor=actor, note=note, data=data)


@transaction.atomic
def alert_acknowledge(*, alert: Alert, actor: User, note: str = "") -> Alert:
    """open -> acknowledged. Conflict if already acknowledged or resolved.

    Side effects: one `acknowledged` event; stops the escalation clock (the sweep only
    escalates open alerts) and makes pending escalation deliveries moot.
    """
    alert = _locked(alert, actor)
    _not_resolved(alert)
    if alert.status == Status.ACKNOWLEDGED:
        raise DomainConflict("The alert is already acknowledged.", code="alert_acknowledged")
    alert.status = Status.ACKNOWLEDGED
    alert.acknowledged_at = timezone.now()
    alert.save(update_fields=["status", "acknowledged_at", "updated_at"])
    _event(alert, AlertEvent.Kind.ACKNOWLEDGED, actor, note)
    return alert


@transaction.atomic
def alert_assign(*, alert: Alert, actor: User, assignee: User) -> Alert:
    """Assign to a nurse or clinician of the alert's clinic. Re-assigning to the current
    assignee changes nothing and records nothing (idempotent). Conflict if resolved."""
    alert = _locked(alert, actor)
    _not_resolved(alert)
    membership = assignee.membership
    if (
        not assignee.is_active
        or membership is None
        or membership.clinic_id != alert.clinic_id
        or membership.role not in ASSIGNABLE_ROLES
    ):
        raise DomainError(
            "The assignee must be a nurse or clinician of the alert's clinic.",
            field_errors={"assignee": ["Must be a nurse or clinician of the alert's clinic."]},
        )
    if alert.assigned_to_id == assignee.pk:
        return alert
    previous = alert.assigned_to
    alert.assigned_to = assignee
    alert.save(update_fields=["assigned_to", "updated_at"])
    _event(
        alert,
        AlertEvent.Kind.ASSIGNED,
        actor,
        assignee=str(assignee.public_id),
        previous=str(previous.public_id) if previous else None,
    )
    return alert


@transaction.atomic
def alert_resolve(*, alert: Alert, actor: User, resolution: str, note: str) -> Alert:
    """-> resolved with a resolution and a note (both required). Conflict if resolved.

    Side effects: one `resolved` event; deliveries not yet sent are cancelled, since telling
    someone about a closed alert is noise.
    """
    if resolution not in Alert.Resolution.values:
        raise DomainError("Unknown resolution.", field_errors={"resolution": ["Unknown value."]})
    if not note.strip():
        raise DomainError("A note is required.", field_errors={"note": ["This field is required."]})
    alert = _locked(alert, actor)
    _not_resolved(alert)
    now = timezone.now()
    alert.status = Status.RESOLVED
    alert.resolved_at = now
    alert.resolution = resolution
    alert.resolution_note = note.strip()
    alert.save(
        update_fields=["status", "resolved_at", "resolution", "resolution_note", "updated_at"]
    )
    _event(alert, AlertEvent.Kind.RESOLVED, actor, note.strip(), resolution=resolution)
    Delivery.objects.filter(
        alert=alert, status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED]
    ).update(status=Delivery.Status.CANCELLED, last_error="alert resolved", updated_at=now)
    return alert


@transaction.atomic
def alert_comment(*, alert: Alert, actor: User, note: str) -> Alert:
    """Append a `commented` event (allowed in every state, including resolved)."""
    if not note.strip():
        raise DomainError("A note is required.", field_errors={"note": ["This field is required."]})
    alert = _locked(alert, actor)
    _event(alert, AlertEvent.Kind.COMMENTED, actor, note.strip())
    return alert


@transaction.atomic
def alert_escalate(
    *, alert: Alert, actor: User | None, note: str = "", reason: str = "manual"
) -> Alert:
    """Escalate once to the care-team clinicians and the clinic's on-call staff.

    `actor` None is the escalation sweep. Conflict if resolved or already escalated at
    this severity. Side effects: sets escalated_at, one `escalated` event, and escalation
    deliveries published after commit.
    """
    alert = _locked(alert, actor)
    _not_resolved(alert)
    if alert.escalated_at is not None:
        raise DomainConflict("The alert is already escalated.", code="alert_escalated")
    alert.escalated_at = timezone.now()
    alert.save(update_fields=["escalated_at", "updated_at"])
    _event(alert, AlertEvent.Kind.ESCALATED, actor, note, reason=reason)
    outbox.alert_escalation_write(alert, purpose=Delivery.Purpose.ESCALATION)
    return alert


# --------------------------------------------------------------------------- delivery outcomes


def _attempt(delivery: Delivery, started_at: datetime, outcome: str, error: str = "") -> None:
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        started_at=started_at,
        finished_at=timezone.now(),
        outcome=outcome,
        error=error[:300],
    )


@transaction.atomic
def delivery_mark_sent(delivery: Delivery, *, started_at: datetime) -> None:
    """sending -> sent (final: nothing ever sends a sent row again); a reminder becomes sent.

    A row no longer "sending" is left alone: this is a retry whose first try committed
    (the answer to the COMMIT was lost), so the attempt is recorded once.
    """
    now = timezone.now()
    marked = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.SENT, sent_at=now, last_error="", updated_at=now
    )
    if not marked:
        return
    _attempt(delivery, started_at, DeliveryAttempt.Outcome.SENT)
    if delivery.reminder_id is not None:
        PatientReminder.objects.filter(pk=delivery.reminder_id, sent_at__isnull=True).update(
            status=PatientReminder.Status.SENT, sent_at=now
        )


@transaction.atomic
def delivery_mark_cancelled(delivery: Delivery, *, reason: str) -> None:
    """sending -> cancelled: the message became moot (alert resolved, device gone)."""
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.CANCELLED, last_error=reason[:300], updated_at=timezone.now()
    )


def retry_countdown(attempts: int) -> int:
    """Exponential back-off, never beyond CELERY_MAX_COUNTDOWN (the Redis visibility rule)."""
    base = int(settings.NOTIFY_RETRY_BASE_SECONDS)
    return int(min(base * 2 ** max(attempts - 1, 0), settings.CELERY_MAX_COUNTDOWN))


@transaction.atomic
def delivery_mark_failed(
    delivery: Delivery,
    *,
    error: str,
    permanent: bool,
    started_at: datetime,
    invalid_recipient: bool = False,
) -> int | None:
    """sending -> failed (returns the retry countdown) or -> gave_up (returns None).

    Gives up on a permanent error or after NOTIFY_MAX_ATTEMPTS. Giving up on an alert
    delivery records a `delivery_failed` event and, while the alert is still open, writes
    `gave_up` deliveries to the clinicians and on-call staff: an alert must not fail
    silently. A dead push token deactivates the device.
    """
    now = timezone.now()
    if not permanent and delivery.attempts < int(settings.NOTIFY_MAX_ATTEMPTS):
        countdown = retry_countdown(delivery.attempts)
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.FAILED,
            last_error=error[:300],
            next_attempt_at=now + timedelta(seconds=countdown),
            updated_at=now,
        )
        _attempt(delivery, started_at, DeliveryAttempt.Outcome.FAILED, error)
        outbox.deliveries_enqueue_on_commit([delivery.pk], countdown=countdown)
        return countdown
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.GAVE_UP, last_error=error[:300], updated_at=now
    )
    _attempt(delivery, started_at, DeliveryAttempt.Outcome.GAVE_UP, error)
    logger.warning(
        "delivery %s (%s %s) gave up after %d attempt(s): %s",
        delivery.pk,
        delivery.purpose,
        delivery.channel,
        delivery.attempts,
        error,
    )
    if invalid_recipient and delivery.device_id is not None:
        Device.objects.filter(pk=delivery.device_id).update(active=False)
    if delivery.alert_id is not None:
        _alert_delivery_gave_up(delivery, error)
    return None


def _alert_delivery_gave_up(delivery: Delivery, error: str) -> None:
    assert delivery.alert is not None
    alert = _locked(delivery.alert, None)
    _event(
        alert,
        AlertEvent.Kind.DELIVERY_FAILED,
        None,
        purpose=delivery.purpose,
        channel=delivery.channel,
        target=delivery.target,
        attempts=delivery.attempts,
        error=error[:300],
    )
    # Only a failed first-line delivery escalates: the escalation list is who a failed
    # escalation would go to anyway, and cascading would loop.
    if delivery.purpose == Delivery.Purpose.ALERT and alert.status == Status.OPEN:
        outbox.alert_escalation_write(alert, purpose=Delivery.Purpose.GAVE_UP)


# --------------------------------------------------------------------------- devices


@transaction.atomic
def device_register(*, user: User, platform: str, token: str) -> tuple[Device, bool]:
    """Register a push token for `user`; returns (device, created).

    Idempotent by token: registering it again (from any account) moves it to `user`,
    reactivates it and refreshes last_seen_at, so a phone that changed hands stops
    receiving the previous owner's notifications at once.
    """
    now = timezone.now()
    device, created = Device.objects.select_for_update().get_or_create(
        token=token, defaults={"user": user, "platform": platform, "last_seen_at": now}
    )
    if not created:
        device.user = user
        device.platform = platform
        device.active = True
        device.last_seen_at = now
        device.save(update_fields=["user", "platform", "active", "last_seen_at"])
    return device, created


def device_deactivate(*, device: Device) -> None:
    """Stop sending to this device (kept for the delivery history)."""
    Device.objects.filter(pk=device.pk).update(active=False)
