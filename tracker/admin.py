from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from tracker.detection.thresholds import ThresholdError, Thresholds
from tracker.jobs import clinic_patients_changed, patient_changed
from tracker.models import (
    AuditEvent,
    CareTeamAssignment,
    Clinic,
    ClinicRuleSettings,
    Patient,
    StaffMembership,
    User,
)


class StaffMembershipInline(admin.StackedInline):
    model = StaffMembership
    extra = 0


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_active", "is_staff"]
    search_fields = ["email", "first_name", "last_name"]
    list_filter = ["is_active", "is_staff", "staff_membership__role"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Name", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = [StaffMembershipInline]


class CareTeamInline(admin.TabularInline):
    model = CareTeamAssignment
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "timezone", "created_at"]
    search_fields = ["name"]


@admin.register(StaffMembership)
class StaffMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "clinic", "role", "on_call"]
    list_filter = ["clinic", "role", "on_call"]
    search_fields = ["user__email"]


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["mrn", "last_name", "first_name", "clinic", "cle_subtype", "status"]
    list_filter = ["clinic", "status", "cle_subtype"]
    search_fields = ["mrn", "last_name", "first_name", "user__email"]
    exclude = ["activation_code_hash"]
    readonly_fields = ["public_id", "changed_at", "evaluated_at", "activation_expires_at"]
    inlines = [CareTeamInline]

    def save_model(self, request: Any, obj: Patient, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:  # any edit may change what the rules conclude: re-evaluate after commit
            patient_changed(obj.pk)


class ClinicRuleSettingsForm(forms.ModelForm):
    class Meta:
        model = ClinicRuleSettings
        fields = ["clinic", "overrides"]

    def clean_overrides(self) -> Any:
        data = self.cleaned_data["overrides"] or {}
        if not isinstance(data, dict):
            raise forms.ValidationError("Must be a JSON object of threshold names to values.")
        try:
            Thresholds.from_overrides(data)
        except ThresholdError as exc:
            raise forms.ValidationError([f"{k}: {v}" for k, v in exc.errors.items()]) from exc
        return data


@admin.register(ClinicRuleSettings)
class ClinicRuleSettingsAdmin(admin.ModelAdmin):
    form = ClinicRuleSettingsForm
    list_display = ["clinic", "updated_at"]
    readonly_fields = ["defaults"]

    def save_model(self, request: Any, obj: ClinicRuleSettings, form: Any, change: bool) -> None:
        # The admin's change view is one transaction: the mark commits with the thresholds.
        super().save_model(request, obj, form, change)
        # New thresholds can change findings on unchanged data: re-evaluate the whole clinic.
        clinic_patients_changed(obj.clinic_id)

    def delete_model(self, request: Any, obj: ClinicRuleSettings) -> None:
        super().delete_model(request, obj)
        clinic_patients_changed(obj.clinic_id)  # back to the defaults

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        clinics = list(queryset.values_list("clinic_id", flat=True))
        super().delete_queryset(request, queryset)
        for clinic_id in clinics:
            clinic_patients_changed(clinic_id)

    @admin.display(description="Published defaults")
    def defaults(self, obj: ClinicRuleSettings) -> str:
        return ", ".join(f"{k}={v}" for k, v in Thresholds().as_dict().items())


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "actor_role", "action", "patient", "object_type", "request_id"]
    list_filter = ["action", "actor_role"]

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: Any) -> bool:
        return False
