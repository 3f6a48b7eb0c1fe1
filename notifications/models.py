"""Alerts, their history, and the delivery outbox (Healthchecks/Saleor shape)."""

from __future__ import annotations

import uuid
from datetime import time

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Alert(models.Model):
    """One alert per (patient, rule, episode).

    The unique constraint spans every status on purpose: a resolved episode never reopens
    on the same evidence; a genuinely new episode carries a new episode key.
    """

    class Severity(models.TextChoices):
        INFO = "info"
        WARNING = "warning"
        URGENT = "urgent"

    class Status(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    class Resolution(models.TextChoices):
        CONFIRMED_RELAPSE = "confirmed_relapse"
        NOT_A_RELAPSE = "not_a_relapse"
        ADVERSE_EVENT_MANAGED = "adverse_event_managed"
        OTHER = "other"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("tracker.Patient", on_delete=models.PROTECT, related_name="alerts")
    clinic = models.ForeignKey("tracker.Clinic", on_delete=models.PROTECT, related_name="alerts")
    rule = models.CharField(max_length=40)
    episode_key = models.CharField(max_length=200)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    severity_rank = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.OPEN)
    summary = models.CharField(max_length=300)
    evidence = models.JSONField(default=dict)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=30, choices=Resolution.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # When the care team was told of this alert at its current severity (set by routing): the
    # escalation clock runs from here, so a warning raised to urgent after two days gets the
    # urgent 30 minutes, not an immediate escalation computed from created_at.
    routed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "rule", "episode_key"], name="alert_one_per_episode"
            ),
        ]
        indexes = [
            models.Index(
                fields=["clinic", "-severity_rank", "created_at"],
                name="alert_queue",
                condition=~Q(status="resolved"),
            ),
            models.Index(
                fields=["created_at"],
                name="alert_unacknowledged",
                condition=Q(status="open", escalated_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} ({self.severity}) for patient {self.patient_id}"


SEVERITY_RANK = {"info": 1, "warning": 2, "urgent": 3}


class AlertEvent(models.Model):
    """Every change of an alert: who, when, what. Append-only."""

    class Kind(models.TextChoices):
        CREATED = "created"
        EVIDENCE_ADDED = "evidence_added"
        SEVERITY_RAISED = "severity_raised"
        ACKNOWLEDGED = "acknowledged"
        ASSIGNED = "assigned"
        COMMENTED = "commented"
        ESCALATED = "escalated"
        RESOLVED = "resolved"
        DELIVERY_FAILED = "delivery_failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]


class ClinicAlertPolicy(models.Model):
    """A clinic's escalation timings, digest hour, reminder times and webhook.

    Optional: a clinic without a row gets the defaults below (`outbox.alert_policy_for`), so
    routing never depends on an admin having filled a form in. Hours are local to the clinic
    (digest) or to the patient (quiet hours, dose reminders).
    """

    clinic = models.OneToOneField(
        "tracker.Clinic", on_delete=models.CASCADE, related_name="alert_policy"
    )
    urgent_escalation_minutes = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1)]
    )
    warning_escalation_hours = models.PositiveIntegerField(
        default=24, validators=[MinValueValidator(1)]
    )
    digest_hour = models.PositiveSmallIntegerField(default=8, validators=[MaxValueValidator(23)])
    quiet_hours_start = models.PositiveSmallIntegerField(
        default=22, validators=[MaxValueValidator(23)]
    )
    quiet_hours_end = models.PositiveSmallIntegerField(
        default=7, validators=[MaxValueValidator(23)]
    )
    dose_reminder_time = models.TimeField(default=time(9, 0))
    webhook_url = models.URLField(blank=True, help_text="Receives urgent alerts and escalations.")
    webhook_secret = models.CharField(
        max_length=128, blank=True, help_text="HMAC-SHA256 key; the receiver verifies with it."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "clinic alert policy"
        verbose_name_plural = "clinic alert policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(webhook_url="") | ~Q(webhook_secret=""),
                name="alert_policy_webhook_needs_secret",
            ),
        ]

    def __str__(self) -> str:
        return f"Alert policy of {self.clinic}"


class Device(models.Model):
    """A push token of a signed-in user's phone or browser.

    `token` is unique across users: re-registering a token on another account moves it (the
    phone changed hands or the user signed in as someone else), so one phone never receives
    another person's notifications. Deactivated, never deleted, when the provider says the
    token is dead.
    """

    class Platform(models.TextChoices):
        IOS = "ios"
        ANDROID = "android"
        WEB = "web"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="devices"
    )
    platform = models.CharField(max_length=10, choices=Platform.choices)
    token = models.CharField(max_length=512, unique=True)
    active = models.BooleanField(default=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["user"], name="device_active_user", condition=Q(active=True))
        ]

    def __str__(self) -> str:
        return f"{self.platform} device of user {self.user_id}"


class PatientReminder(models.Model):
    """One reminder to a patient for one kind on one local date.

    The unique (patient, local_date, kind) is the idempotency guard: regenerating schedules
    (a new regimen step, a re-run sweep, a clock change) finds the existing row and never
    sends twice. `due_at` is already moved out of quiet hours.
    """

    class Kind(models.TextChoices):
        DOSE = "dose"
        CHECKIN = "checkin"
        CBC = "cbc"
        PREGNANCY = "pregnancy"

    class Status(models.TextChoices):
        PENDING = "pending"  # planned, not due yet
        QUEUED = "queued"  # delivery rows written
        SENT = "sent"  # at least one device accepted it
        SKIPPED = "skipped"  # nothing to send to, or too late to be useful

    patient = models.ForeignKey(
        "tracker.Patient", on_delete=models.CASCADE, related_name="reminders"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    local_date = models.DateField()
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "local_date", "kind"], name="reminder_once_per_local_day"
            ),
        ]
        indexes = [
            models.Index(fields=["due_at"], name="reminder_pending", condition=Q(status="pending"))
        ]

    def __str__(self) -> str:
        return f"{self.kind} reminder for patient {self.patient_id} on {self.local_date}"


class ClinicDigest(models.Model):
    """The daily digest of one clinic for one local date: at most one, ever.

    `alert_ids` is the snapshot taken when the digest was written, so a retried e-mail
    lists the same alerts as its siblings.
    """

    clinic = models.ForeignKey("tracker.Clinic", on_delete=models.CASCADE, related_name="+")
    local_date = models.DateField()
    alert_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "local_date"], name="digest_once_per_day")
        ]

    def __str__(self) -> str:
        return f"Digest of clinic {self.clinic_id} for {self.local_date}"


class NotificationDelivery(models.Model):
    """The outbox: one row per (subject, target, channel, purpose), written in the same
    transaction as the change that calls for it.

    Invariants:
    - exactly one subject: an alert, a patient reminder or a clinic digest;
    - the partial unique constraints are the idempotency guards: routing the same alert at
      the same severity twice, or a re-run sweep, writes nothing new. `severity` is part of
      the alert key because a warning raised to urgent must reach the nurses again;
    - a row moves pending/failed -> sending only through the compare-and-set claim in
      `dispatch.delivery_send`, and leaves `sent` never: a sent row is never sent again;
    - `last_error` holds provider codes and exception names only, never message content.
    """

    class Channel(models.TextChoices):
        EMAIL = "email"
        PUSH = "push"
        SMS = "sms"
        WEBHOOK = "webhook"

    class Purpose(models.TextChoices):
        ALERT = "alert"
        ESCALATION = "escalation"
        GAVE_UP = "gave_up"  # tells the escalation list that another delivery failed for good
        DIGEST = "digest"
        REMINDER = "reminder"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"  # will be retried at next_attempt_at
        GAVE_UP = "gave_up"  # permanent error or attempts exhausted
        CANCELLED = "cancelled"  # moot before it could be sent (alert resolved, device gone)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    alert = models.ForeignKey(
        Alert, on_delete=models.PROTECT, null=True, blank=True, related_name="deliveries"
    )
    reminder = models.ForeignKey(
        PatientReminder, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    digest = models.ForeignKey(
        ClinicDigest, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    target = models.CharField(max_length=64)  # "user:<id>", "device:<id>", "webhook:<clinic id>"
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    device = models.ForeignKey(
        Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    purpose = models.CharField(max_length=12, choices=Purpose.choices)
    severity = models.CharField(max_length=10, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set explicitly by every .update(): the deliveries sweep finds stuck "sending" rows by it.
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "notification deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "target", "channel", "purpose", "severity"],
                condition=Q(alert__isnull=False),
                name="delivery_once_per_alert_target",
            ),
            models.UniqueConstraint(
                fields=["reminder", "target", "channel"],
                condition=Q(reminder__isnull=False),
                name="delivery_once_per_reminder_target",
            ),
            models.UniqueConstraint(
                fields=["digest", "target", "channel"],
                condition=Q(digest__isnull=False),
                name="delivery_once_per_digest_target",
            ),
            models.CheckConstraint(
                condition=(
                    Q(alert__isnull=False, reminder__isnull=True, digest__isnull=True)
                    | Q(alert__isnull=True, reminder__isnull=False, digest__isnull=True)
                    | Q(alert__isnull=True, reminder__isnull=True, digest__isnull=False)
                ),
                name="delivery_one_subject",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_unprocessed",
                condition=Q(status__in=["pending", "sending", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.channel} to {self.target} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery, with its outcome. Append-only; no content, no PHI."""

    class Outcome(models.TextChoices):
        SENT = "sent"
        FAILED = "failed"
        GAVE_UP = "gave_up"

    delivery = models.ForeignKey(
        NotificationDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
