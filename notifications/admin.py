"""Admin: clinic alert policies (editable), alerts (read-mostly), the outbox (read-only).

Alerts change only through the lifecycle services (with an event per change), so the admin
shows them and their history but edits nothing; deliveries are the outbox's own record.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from notifications.models import (
    Alert,
    AlertEvent,
    ClinicAlertPolicy,
    DeliveryAttempt,
    Device,
    NotificationDelivery,
    PatientReminder,
)


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ClinicAlertPolicy)
class ClinicAlertPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "clinic",
        "urgent_escalation_minutes",
        "warning_escalation_hours",
        "digest_hour",
        "quiet_hours_start",
        "quiet_hours_end",
        "dose_reminder_time",
        "webhook_url",
    ]
    autocomplete_fields = ["clinic"]


class AlertEventInline(ReadOnlyMixin, admin.TabularInline):
    model = AlertEvent
    extra = 0
    fields = ["at", "kind", "actor", "note"]
    readonly_fields = fields


class DeliveryInline(ReadOnlyMixin, admin.TabularInline):
    model = NotificationDelivery
    extra = 0
    fields = ["purpose", "channel", "target", "status", "attempts", "last_error", "sent_at"]
    readonly_fields = fields


@admin.register(Alert)
class AlertAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "public_id",
        "clinic",
        "rule",
        "severity",
        "status",
        "assigned_to",
        "created_at",
    ]
    list_filter = ["severity", "status", "rule", "clinic"]
    search_fields = ["public_id", "patient__mrn"]
    ordering = ["-severity_rank", "created_at"]
    list_select_related = ["clinic", "assigned_to"]
    inlines = [AlertEventInline, DeliveryInline]


class DeliveryAttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    fields = ["number", "started_at", "finished_at", "outcome", "error"]
    readonly_fields = fields


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "pk",
        "purpose",
        "channel",
        "target",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = ["status", "channel", "purpose"]
    search_fields = ["target", "public_id"]
    ordering = ["-created_at"]
    inlines = [DeliveryAttemptInline]


@admin.register(Device)
class DeviceAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["public_id", "user", "platform", "active", "last_seen_at"]
    list_filter = ["platform", "active"]
    search_fields = ["user__email"]
    list_select_related = ["user"]


@admin.register(PatientReminder)
class PatientReminderAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["patient", "kind", "local_date", "due_at", "status", "sent_at"]
    list_filter = ["kind", "status"]
    ordering = ["-due_at"]
    list_select_related = ["patient"]
