"""Rendering a delivery row into the Message its channel sends.

Rendered at send time from the current rows (nothing but ids is stored in the outbox), so
a retry never sends stale state and the outbox holds no PHI.

Content rules (lock screens and third-party gateways):
- push and SMS: rule label, severity and a link only; never the patient's name, MRN or any
  clinical value (alert summaries carry values such as an ANC, so they are left out);
- e-mail (to staff addresses): may add the MRN and the alert's one-line summary;
- webhooks: ids, rule, severity, status and the link; no summary, no MRN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from notifications.models import Alert, NotificationDelivery, PatientReminder
from notifications.outbox import alert_policy_for
from notifications.transports import Message

if TYPE_CHECKING:
    from tracker.models import User

Channel = NotificationDelivery.Channel
Purpose = NotificationDelivery.Purpose

RULE_LABELS = {
    "possible_relapse": "Possible relapse",
    "gi_intolerance": "GI intolerance",
    "cytopenia": "Blood count",
    "thrombosis_red_flag": "Thrombosis red flag",
    "pregnancy_risk": "Pregnancy safety",
    "adherence": "Adherence",
    "insomnia": "Insomnia",
    "systemic_flare": "Systemic flare",
    "monitoring_due": "Monitoring due",
    "non_response": "Non-response",
}
WEBHOOK_EVENTS = {
    Purpose.ALERT: "alert.raised",
    Purpose.ESCALATION: "alert.escalated",
    Purpose.GAVE_UP: "alert.delivery_failed",
}
# Deliberately vague: a pregnancy-test reminder on a lock screen discloses treatment.
REMINDER_TEXT = {
    PatientReminder.Kind.DOSE: ("Medication reminder", "It is time for today's dose."),
    PatientReminder.Kind.CHECKIN: ("Weekly check-in", "Your weekly check-in is due."),
    PatientReminder.Kind.CBC: ("Test reminder", "A blood test is due. Open the app for details."),
    PatientReminder.Kind.PREGNANCY: ("Test reminder", "A test is due. Open the app for details."),
}


class Moot(Exception):
    """Nothing to send any more (alert resolved, device or address gone): cancel the row."""


def alert_link(alert: Alert) -> str:
    base = str(settings.NOTIFY_DASHBOARD_BASE_URL).rstrip("/")
    return f"{base}/dashboard/alerts/{alert.public_id}/"


def render(delivery: NotificationDelivery) -> Message:
    """The message for `delivery`, or Moot when sending it no longer makes sense."""
    if delivery.alert_id is not None:
        return _render_alert(delivery)
    if delivery.reminder_id is not None:
        return _render_reminder(delivery)
    return _render_digest(delivery)


def _address(delivery: NotificationDelivery) -> str:
    recipient: User | None = delivery.recipient
    if recipient is not None and not recipient.is_active:
        raise Moot("recipient inactive")
    if delivery.channel == Channel.PUSH:
        if delivery.device is None or not delivery.device.active:
            raise Moot("device inactive")
        if recipient is not None and delivery.device.user_id != recipient.pk:
            raise Moot("device moved to another user")
        return delivery.device.token
    if recipient is None:
        raise Moot("no recipient")
    if delivery.channel == Channel.EMAIL:
        return recipient.email
    membership = recipient.membership
    if membership is None or not membership.phone:
        raise Moot("no phone number")
    return membership.phone


def _render_alert(delivery: NotificationDelivery) -> Message:
    alert = delivery.alert
    assert alert is not None
    if alert.status == Alert.Status.RESOLVED:
        raise Moot("alert resolved")
    if delivery.purpose != Purpose.ALERT and alert.status != Alert.Status.OPEN:
        raise Moot("alert acknowledged")
    label = RULE_LABELS.get(alert.rule, alert.rule)
    severity = alert.severity.capitalize()
    link = alert_link(alert)
    key = str(delivery.public_id)
    if delivery.channel == Channel.WEBHOOK:
        policy = alert_policy_for(alert.clinic_id)
        if not policy.webhook_url:
            raise Moot("webhook removed")
        event = WEBHOOK_EVENTS[NotificationDelivery.Purpose(delivery.purpose)]
        payload = {
            "event": event,
            "delivery": key,
            "alert": {
                "id": str(alert.public_id),
                "patient": str(alert.patient.public_id),
                "rule": alert.rule,
                "severity": alert.severity,
                "status": alert.status,
                "created_at": alert.created_at.isoformat(),
                "url": link,
            },
        }
        return Message(
            to=policy.webhook_url,
            subject=event,
            body="",
            link=link,
            key=key,
            event=event,
            payload=payload,
            secret=policy.webhook_secret,
        )
    if delivery.purpose == Purpose.ESCALATION:
        title = f"Escalated: {severity} alert not acknowledged ({label})"
        intro = "This alert was not acknowledged in time and is escalated to you."
    elif delivery.purpose == Purpose.GAVE_UP:
        title = f"Notification failed: {severity} alert ({label})"
        intro = "A notification about this alert could not be delivered to the care team."
    else:
        title = f"{severity} alert: {label}"
        intro = "A patient needs review."
    to = _address(delivery)
    data = {"alert": str(alert.public_id), "rule": alert.rule, "severity": alert.severity}
    if delivery.channel in (Channel.PUSH, Channel.SMS):
        return Message(to=to, subject=title, body=intro, link=link, key=key, data=data)
    body = "\n".join(
        [
            intro,
            "",
            f"Rule: {alert.rule} ({label})",
            f"Severity: {alert.severity}",
            f"Patient MRN: {alert.patient.mrn}",
            f"Summary: {alert.summary}",
            f"Raised: {alert.created_at.isoformat(timespec='minutes')}",
            "",
            f"Open the alert: {link}",
        ]
    )
    return Message(
        to=to,
        subject=f"[{alert.severity.upper()}] {title} - MRN {alert.patient.mrn}",
        body=body,
        link=link,
        key=key,
        data=data,
    )


def _render_reminder(delivery: NotificationDelivery) -> Message:
    reminder = delivery.reminder
    assert reminder is not None
    if reminder.patient.status != "active":
        raise Moot("patient not active")
    title, body = REMINDER_TEXT[PatientReminder.Kind(reminder.kind)]
    data = {"reminder": reminder.kind, "local_date": reminder.local_date.isoformat()}
    return Message(
        to=_address(delivery), subject=title, body=body, key=str(delivery.public_id), data=data
    )


def _render_digest(delivery: NotificationDelivery) -> Message:
    digest = delivery.digest
    assert digest is not None
    alerts = list(
        Alert.objects.filter(pk__in=digest.alert_ids)
        .exclude(status=Alert.Status.RESOLVED)
        .select_related("patient")
        .order_by("created_at", "pk")
    )
    if not alerts:
        raise Moot("every alert of the digest is resolved")
    lines = [
        f"Open information alerts at your clinic on {digest.local_date.isoformat()}:",
        "",
    ]
    for alert in alerts:
        lines.append(
            f"- {RULE_LABELS.get(alert.rule, alert.rule)} | MRN {alert.patient.mrn} | "
            f"{alert.summary} (since {alert.created_at.date().isoformat()})"
        )
        lines.append(f"  {alert_link(alert)}")
    return Message(
        to=_address(delivery),
        subject=f"Daily digest: {len(alerts)} open information alert(s)",
        body="\n".join(lines),
        key=str(delivery.public_id),
    )
