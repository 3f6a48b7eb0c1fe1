"""Periodic work run by beat: the outbox relay, escalations and the daily digest.

Each sweep is idempotent and safe to run on several workers at once: rows are claimed with
SELECT ... FOR UPDATE SKIP LOCKED or inserted under a unique key, and the delivery claim
is a compare-and-set.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications import dispatch, outbox
from notifications.models import Alert, ClinicAlertPolicy, ClinicDigest, NotificationDelivery
from notifications.services import alert_escalate, delivery_mark_failed
from tracker.models import Clinic

logger = logging.getLogger(__name__)

Delivery = NotificationDelivery
# A pending row gets this long for its on-commit task before the sweep sends it again.
SWEEP_GRACE = timedelta(seconds=60)
BATCH = 500


def deliveries_sweep(now: datetime | None = None) -> int:
    """Re-publish deliveries whose task was lost. Returns how many were published.

    - "sending" with no live sender -> failed, due now, or gave_up if it has no attempt
      left. No live sender: its sender lock is free after SWEEP_GRACE (PostgreSQL: the lock
      dies with the sender's connection, see dispatch), or, without advisory locks, it has
      been "sending" for longer than NOTIFY_STUCK_SENDING_SECONDS (beyond the task hard time
      limit, so its worker is gone);
    - pending or failed past `next_attempt_at` (plus a grace for the normal task) -> publish.
    """
    now = now or timezone.now()
    stuck_before = now - timedelta(seconds=int(settings.NOTIFY_STUCK_SENDING_SECONDS))
    if dispatch.sender_locks_supported():
        stuck_before = now - SWEEP_GRACE
    stuck = list(
        Delivery.objects.filter(status=Delivery.Status.SENDING, updated_at__lt=stuck_before)
        .order_by("updated_at", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    reset = 0
    for pk in stuck:
        with dispatch.sender_lock(pk) as held:
            if held is not False:  # nobody is sending it (or we cannot tell, and it is old)
                reset += _release(pk, now)
    if reset:
        logger.warning("deliveries sweep: %d deliveries were stuck in sending", reset)
    ids = list(
        Delivery.objects.filter(
            status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED],
            next_attempt_at__lte=now - SWEEP_GRACE,
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    return _publish(ids)


def _release(pk: int, now: datetime) -> int:
    """A "sending" row whose sender is gone: retry it now, or give up if no attempt is left."""
    delivery = (
        Delivery.objects.select_related("alert").filter(pk=pk, status=Delivery.Status.SENDING)
    ).first()
    if delivery is None:
        return 0
    if delivery.attempts >= int(settings.NOTIFY_MAX_ATTEMPTS):
        delivery_mark_failed(
            delivery, error="worker lost while sending", permanent=True, started_at=now
        )
        return 1
    return Delivery.objects.filter(pk=pk, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.FAILED,
        last_error="worker lost while sending",
        next_attempt_at=now - SWEEP_GRACE,
        updated_at=now,
    )


def _publish(ids: list[int]) -> int:
    from notifications.tasks import delivery_send_task

    for n, pk in enumerate(ids):
        try:
            delivery_send_task.delay(pk)
        except Exception as exc:  # any broker failure: the next sweep tries again
            logger.warning("deliveries sweep: broker unavailable (%s)", type(exc).__name__)
            return n
    return len(ids)


def escalation_delay(alert: Alert, policy: ClinicAlertPolicy) -> timedelta | None:
    if alert.severity == Alert.Severity.URGENT:
        return timedelta(minutes=policy.urgent_escalation_minutes)
    if alert.severity == Alert.Severity.WARNING:
        return timedelta(hours=policy.warning_escalation_hours)
    return None


def escalation_sweep(now: datetime | None = None) -> int:
    """Escalate open, unacknowledged urgent and warning alerts past their clinic's delay,
    counted from when they were routed at their current severity. Each alert escalates once
    (escalated_at); returns how many escalated now."""
    now = now or timezone.now()
    candidates = list(
        Alert.objects.filter(
            status=Alert.Status.OPEN,
            escalated_at__isnull=True,
            severity__in=[Alert.Severity.URGENT, Alert.Severity.WARNING],
        ).only("pk", "clinic_id", "severity", "routed_at", "created_at")
    )
    policies = {
        p.clinic_id: p
        for p in ClinicAlertPolicy.objects.filter(clinic_id__in={a.clinic_id for a in candidates})
    }
    escalated = 0
    for candidate in candidates:
        policy = policies.get(candidate.clinic_id) or ClinicAlertPolicy(
            clinic_id=candidate.clinic_id
        )
        delay = escalation_delay(candidate, policy)
        since = candidate.routed_at or candidate.created_at
        if delay is None or since + delay > now:
            continue
        with transaction.atomic():
            alert = (
                Alert.objects.select_for_update(skip_locked=True)
                .filter(pk=candidate.pk, status=Alert.Status.OPEN, escalated_at__isnull=True)
                .first()
            )
            if alert is None:  # acknowledged, escalated or being handled by another worker
                continue
            minutes = int(delay.total_seconds() // 60)
            alert_escalate(
                alert=alert,
                actor=None,
                reason="unacknowledged",
                note=f"Not acknowledged within {minutes} minutes.",
            )
            escalated += 1
    return escalated


def digest_sweep(now: datetime | None = None) -> int:
    """Once per clinic and local day, at or after the clinic's digest hour: one e-mail per
    nurse and clinician listing the open info alerts. ClinicDigest (unique per clinic-day) is
    the guard; a day with no open info alert records the digest and sends nothing.
    Returns the number of digests written."""
    now = now or timezone.now()
    policies = {p.clinic_id: p for p in ClinicAlertPolicy.objects.all()}
    written = 0
    for clinic in Clinic.objects.order_by("pk"):
        policy = policies.get(clinic.pk) or ClinicAlertPolicy(clinic_id=clinic.pk)
        local = now.astimezone(ZoneInfo(clinic.timezone))
        if local.hour < policy.digest_hour:
            continue
        if ClinicDigest.objects.filter(clinic=clinic, local_date=local.date()).exists():
            continue
        with transaction.atomic():
            digest, created = ClinicDigest.objects.get_or_create(
                clinic=clinic, local_date=local.date()
            )
            if not created:
                continue
            digest.alert_ids = list(
                Alert.objects.filter(clinic=clinic, severity=Alert.Severity.INFO)
                .exclude(status=Alert.Status.RESOLVED)
                .order_by("created_at", "pk")
                .values_list("pk", flat=True)
            )
            digest.save(update_fields=["alert_ids"])
            written += 1
            if digest.alert_ids:
                targets = outbox.targets_for(
                    outbox.digest_recipients(clinic.pk),
                    [Delivery.Channel.EMAIL],
                    webhook_clinic=None,
                )
                outbox.deliveries_write(targets, purpose=Delivery.Purpose.DIGEST, digest=digest)
    return written
