"""Patients, their care team, and per-clinic rule thresholds."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Patient(models.Model):
    """A patient enrolled at one clinic.

    `change_seq` is bumped by every service that writes data a rule reads, and
    `evaluated_seq` set by the detection engine to the value it evaluated: the sweep
    re-evaluates where change_seq > evaluated_seq, so an evaluation lost with the broker is
    caught up later. `evaluate_after` is the patient's next local midnight after their last
    evaluation: the rules are pure functions of (data, local date, thresholds), so with the
    data unchanged nothing can change before then, and the sweep skips the patient.
    """

    class Sex(models.TextChoices):
        FEMALE = "female"
        MALE = "male"

    class Subtype(models.TextChoices):
        DLE = "dle", "Discoid LE"
        SCLE = "scle", "Subacute CLE"
        ACLE = "acle", "Acute CLE"
        LUPUS_PROFUNDUS = "lupus_profundus", "Lupus profundus"
        TUMID = "tumid", "Tumid LE"
        CHILBLAIN = "chilblain", "Chilblain LE"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        INVITED = "invited"  # enrolled, has not set a password yet
        ACTIVE = "active"
        DISCONTINUED = "discontinued"
        COMPLETED = "completed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="patient_profile"
    )
    clinic = models.ForeignKey("tracker.Clinic", on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("medical record number", max_length=64)
    first_name = models.CharField(max_length=150)
    last_name = models.CharField(max_length=150)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=6, choices=Sex.choices)
    reproductive_potential = models.BooleanField(default=False)
    irregular_cycles = models.BooleanField(default=False)
    cle_subtype = models.CharField(max_length=20, choices=Subtype.choices)
    timezone = models.CharField(max_length=64, default="Europe/Madrid")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.INVITED)
    activation_code_hash = models.CharField(max_length=64, blank=True)
    activation_expires_at = models.DateTimeField(null=True, blank=True)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    # Counters, not clocks: a write bumps change_seq under the patient's row lock, and an
    # evaluation records the change_seq it saw; the sweep finds change_seq > evaluated_seq.
    change_seq = models.BigIntegerField(default=0)
    evaluated_seq = models.BigIntegerField(default=0)
    evaluate_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "mrn"], name="patient_mrn_per_clinic"),
        ]
        indexes = [
            models.Index(
                fields=["clinic", "status"],
                name="patient_active_by_clinic",
                condition=Q(status__in=["invited", "active"]),
            ),
            models.Index(
                fields=["evaluate_after"],
                name="patient_evaluation_due",
                condition=Q(status__in=["invited", "active"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} ({self.mrn})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class CareTeamAssignment(models.Model):
    """A nurse or clinician of the patient's clinic who looks after this patient."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="care_team")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_assignments"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "user"], name="care_team_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} -> {self.patient}"


class ClinicRuleSettings(models.Model):
    """A clinic's overrides of the detection thresholds (tracker.detection.thresholds).

    Only the overridden names are stored; the rest follow the published defaults, so a
    change of default reaches every clinic that did not choose otherwise.
    """

    clinic = models.OneToOneField(
        "tracker.Clinic", on_delete=models.CASCADE, related_name="rule_settings"
    )
    overrides = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "clinic rule thresholds"
        verbose_name_plural = "clinic rule thresholds"

    def __str__(self) -> str:
        return f"Thresholds for {self.clinic}"
