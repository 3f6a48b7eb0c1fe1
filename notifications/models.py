"""Alerts, their history, and the delivery outbox (Healthchecks/Saleor shape)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


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
