"""Outbox writers: who is told, on which channels, as delivery rows in the caller's transaction.

Invariants:
- Every writer must run inside the transaction of the change that calls for it (an alert
  created or raised, an escalation, a give-up, a due reminder, a digest): the rows commit or
  roll back with it, so a notification is never promised for a change that did not happen.
- Writes are idempotent: rows are keyed by the partial unique constraints of
  NotificationDelivery and inserted with ON CONFLICT DO NOTHING.
- Dispatch is published with `transaction.on_commit`; if the broker is down we log and carry
  on, because `deliveries_sweep_task` finds every pending row past its `next_attempt_at`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from notifications.models import (
    Alert,
    ClinicAlertPolicy,
    ClinicDigest,
    Device,
    NotificationDelivery,
    PatientReminder,
)
from tracker.models import User

if TYPE_CHECKING:
    from datetime import datetime

logger = logging.getLogger(__name__)

Channel = NotificationDelivery.Channel
Purpose = NotificationDelivery.Purpose

# DESIGN.md section 6: urgent on every channel now; warning by e-mail and push; info only on
# the dashboard and in the daily digest.
ALERT_CHANNELS: dict[str, tuple[str, ...]] = {
    Alert.Severity.URGENT: (Channel.EMAIL, Channel.PUSH, Channel.SMS),
    Alert.Severity.WARNING: (Channel.EMAIL, Channel.PUSH),
    Alert.Severity.INFO: (),
}
# An escalation always reaches someone, even for an info alert escalated by hand.
ESCALATION_CHANNELS: dict[str, tuple[str, ...]] = {
    Alert.Severity.URGENT: (Channel.EMAIL, Channel.PUSH, Channel.SMS),
    Alert.Severity.WARNING: (Channel.EMAIL, Channel.PUSH),
    Alert.Severity.INFO: (Channel.EMAIL, Channel.PUSH),
}


@dataclass(frozen=True, slots=True)
class Target:
    target: str
    channel: str
    recipient: User | None = None
    device: Device | None = None


def alert_policy_for(clinic_id: int) -> ClinicAlertPolicy:
    """The clinic's policy, or an unsaved one holding the defaults (never None)."""
    policy = ClinicAlertPolicy.objects.filter(clinic_id=clinic_id).first()
    return policy if policy is not None else ClinicAlertPolicy(clinic_id=clinic_id)


def _staff() -> QuerySet[User]:
    active_devices = Prefetch(
        "devices",
        queryset=Device.objects.filter(active=True).order_by("pk"),
        to_attr="active_devices",
    )
    return (
        User.objects.filter(is_active=True)
        .select_related("staff_membership")
        .prefetch_related(active_devices)
    )


def care_team_nurses(alert: Alert) -> list[User]:
    """The patient's assigned nurses (of the patient's clinic), plus the alert's assignee."""
    users = _staff().filter(
        Q(
            care_assignments__patient_id=alert.patient_id,
            staff_membership__role="nurse",
            staff_membership__clinic_id=alert.clinic_id,
        )
        | Q(pk=alert.assigned_to_id, staff_membership__clinic_id=alert.clinic_id)
    )
    return list(users.distinct().order_by("pk"))


def escalation_recipients(alert: Alert) -> list[User]:
    """The patient's care-team clinicians and the clinic's on-call staff."""
    users = _staff().filter(
        Q(
            care_assignments__patient_id=alert.patient_id,
            staff_membership__role="clinician",
            staff_membership__clinic_id=alert.clinic_id,
        )
        | Q(staff_membership__on_call=True, staff_membership__clinic_id=alert.clinic_id)
    )
    return list(users.distinct().order_by("pk"))


def digest_recipients(clinic_id: int) -> list[User]:
    """Every active nurse and clinician of the clinic."""
    users = _staff().filter(
        staff_membership__clinic_id=clinic_id, staff_membership__role__in=["nurse", "clinician"]
    )
    return list(users.order_by("pk"))


def targets_for(
    users: Sequence[User], channels: Sequence[str], *, webhook_clinic: ClinicAlertPolicy | None
) -> list[Target]:
    """One target per user and channel (push: one per active device), then the webhook."""
    found: list[Target] = []
    for user in users:
        membership = user.membership
        if Channel.EMAIL in channels and user.email:
            found.append(Target(f"user:{user.pk}", Channel.EMAIL, user))
        if Channel.PUSH in channels:
            devices: list[Device] = (
                user.active_devices
                if hasattr(user, "active_devices")
                else list(user.devices.filter(active=True))
            )
            found += [Target(f"device:{d.pk}", Channel.PUSH, user, d) for d in devices]
        if Channel.SMS in channels and membership is not None and membership.phone:
            found.append(Target(f"user:{user.pk}", Channel.SMS, user))
    if webhook_clinic is not None and webhook_clinic.webhook_url:
        found.append(Target(f"webhook:{webhook_clinic.clinic_id}", Channel.WEBHOOK))
    return found


def deliveries_write(
    targets: Sequence[Target],
    *,
    purpose: str,
    alert: Alert | None = None,
    reminder: PatientReminder | None = None,
    digest: ClinicDigest | None = None,
    severity: str = "",
) -> list[int]:
    """Insert the rows that do not exist yet and publish every pending one after commit.

    Returns the ids published. Pending rows left over from an earlier write (a lost task)
    are published again: the compare-and-set claim makes that harmless.
    """
    now = timezone.now()
    rows = [
        NotificationDelivery(
            alert=alert,
            reminder=reminder,
            digest=digest,
            target=t.target,
            recipient=t.recipient,
            device=t.device,
            channel=t.channel,
            purpose=purpose,
            severity=severity,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for t in targets
    ]
    if not rows:
        return []
    NotificationDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    subject = (
        Q(alert=alert, severity=severity)
        if alert is not None
        else Q(reminder=reminder)
        if reminder is not None
        else Q(digest=digest)
    )
    ids = list(
        NotificationDelivery.objects.filter(
            subject, purpose=purpose, status=NotificationDelivery.Status.PENDING
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    deliveries_enqueue_on_commit(ids)
    return ids


def deliveries_enqueue_on_commit(ids: Sequence[int], *, countdown: int | None = None) -> None:
    """Publish delivery_send_task for each id once the transaction commits; never raise."""
    if not ids:
        return
    pending = list(ids)

    def publish() -> None:
        from notifications.tasks import delivery_send_task

        for pk in pending:
            try:
                delivery_send_task.apply_async(args=(pk,), countdown=countdown)
            except Exception as exc:  # any broker failure: the deliveries sweep re-sends
                logger.warning(
                    "could not enqueue %d deliveries (%s); the deliveries sweep will send them",
                    len(pending),
                    type(exc).__name__,
                )
                return

    transaction.on_commit(publish)


def alert_route(alert: Alert, *, now: datetime | None = None) -> list[int]:
    """Write the deliveries that tell the patient's nurses about `alert` at its severity.

    Side effects: sets `alert.routed_at` (the escalation clock) to `now`, unless the caller
    already stored exactly that (the evaluation writes it with the batch's alerts). If no
    nurse is assigned the escalation list is told instead, because an urgent alert must never
    reach nobody.
    """
    now = now or timezone.now()
    if alert.routed_at != now:
        Alert.objects.filter(pk=alert.pk).update(routed_at=now)
        alert.routed_at = now
    channels = ALERT_CHANNELS[alert.severity]
    if not channels:
        return []
    users = care_team_nurses(alert)
    if not users:
        logger.warning("alert %s: no nurse assigned; routing to the escalation list", alert.pk)
        users = escalation_recipients(alert)
    policy = alert_policy_for(alert.clinic_id)
    webhook = policy if alert.severity == Alert.Severity.URGENT else None
    targets = targets_for(users, channels, webhook_clinic=webhook)
    if not targets:
        logger.error("alert %s: nobody to notify; it is on the dashboard only", alert.pk)
    return deliveries_write(targets, purpose=Purpose.ALERT, alert=alert, severity=alert.severity)


def alert_escalation_write(alert: Alert, *, purpose: str) -> list[int]:
    """Write deliveries to the care-team clinicians and on-call staff (escalation or gave_up)."""
    channels = ESCALATION_CHANNELS[alert.severity]
    policy = alert_policy_for(alert.clinic_id)
    webhook = policy if alert.severity == Alert.Severity.URGENT else None
    users = escalation_recipients(alert)
    if not users:
        logger.error(
            "alert %s: the clinic has no clinician or on-call staff to escalate to", alert.pk
        )
    targets = targets_for(users, channels, webhook_clinic=webhook)
    return deliveries_write(targets, purpose=purpose, alert=alert, severity=alert.severity)
