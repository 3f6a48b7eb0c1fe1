"""Clinical records: regimen steps, prescriptions, dose logs, check-ins, labs, CLASI.

Clinical rows are append-only through the API: a correction archives the old row
(`superseded_at`, `superseded_by`) and adds a new one, so the history of what a patient or
clinician said is never lost. Idempotency of phone writes rests on the unique
(patient, client_id) constraints, enforced by the database.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class RegimenStep(models.Model):
    """One step of the prescribed regimen, in force from `starts_on` until the next step."""

    class Pattern(models.TextChoices):
        DAILY = "daily"
        ALTERNATE_DAYS = "alternate_days"
        WEEKDAYS = "weekdays"
        CYCLE = "cycle"
        HOLD = "hold"
        STOPPED = "stopped"

    class Reason(models.TextChoices):
        START = "start"
        ESCALATION = "escalation"
        TAPER = "taper"
        HOLD_TOXICITY = "hold_toxicity"
        WITHDRAWAL = "withdrawal"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("tracker.Patient", on_delete=models.PROTECT, related_name="steps")
    starts_on = models.DateField()
    dose_mg = models.DecimalField(max_digits=5, decimal_places=2)
    pattern = models.CharField(max_length=20, choices=Pattern.choices)
    weekdays = models.JSONField(default=list, blank=True)
    cycle_days_on = models.PositiveSmallIntegerField(null=True, blank=True)
    cycle_length = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "starts_on"],
                condition=Q(superseded_at__isnull=True),
                name="regimen_one_current_step_per_day",
            ),
            models.CheckConstraint(condition=Q(dose_mg__gte=0), name="regimen_dose_not_negative"),
        ]


class Prescription(models.Model):
    """A REMS-limited prescription: never more than a 28-day supply."""

    class RiskCategory(models.TextChoices):
        FEMALE_REPRODUCTIVE = "female_reproductive", "Female of reproductive potential"
        FEMALE_NOT_REPRODUCTIVE = "female_not_reproductive", "Female not of reproductive potential"
        MALE = "male", "Male"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "tracker.Patient", on_delete=models.PROTECT, related_name="prescriptions"
    )
    issued_on = models.DateField()
    dose_mg = models.DecimalField(max_digits=5, decimal_places=2)
    quantity = models.PositiveSmallIntegerField()
    days_supply = models.PositiveSmallIntegerField()
    authorization_number = models.CharField(max_length=64)
    risk_category = models.CharField(max_length=32, choices=RiskCategory.choices)
    prescribed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(days_supply__gte=1, days_supply__lte=28), name="rems_max_28_days"
            ),
        ]


class DoseLog(models.Model):
    """What the patient says happened to one scheduled dose."""

    class Status(models.TextChoices):
        TAKEN = "taken"
        MISSED = "missed"
        SKIPPED = "skipped"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("tracker.Patient", on_delete=models.PROTECT, related_name="doses")
    client_id = models.UUIDField()
    fingerprint = models.CharField(max_length=64, help_text="Hash of the submitted fields.")
    scheduled_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices)
    dose_mg = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    expected_dose_mg = models.DecimalField(max_digits=5, decimal_places=2)
    taken_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    superseded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "client_id"], name="dose_client_id_once"),
        ]
        indexes = [
            models.Index(fields=["patient", "scheduled_date"], name="dose_patient_day"),
        ]


class CheckIn(models.Model):
    """A weekly check-in: PRO-CTCAE symptoms (recall 7 days), skin items and red flags.

    `symptoms` holds [{term, frequency, severity, interference, amount, present,
    composite_grade}] with the composite grade computed by the server at write time.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "tracker.Patient", on_delete=models.PROTECT, related_name="check_ins"
    )
    client_id = models.UUIDField()
    fingerprint = models.CharField(max_length=64, help_text="Hash of the submitted fields.")
    answered_at = models.DateTimeField()
    local_date = models.DateField()
    symptoms = models.JSONField(default=list)
    instrument_version = models.CharField(max_length=40, default="PRO-CTCAE v1.0 / Basch 2021")
    itch = models.PositiveSmallIntegerField(null=True, blank=True)
    pain = models.PositiveSmallIntegerField(null=True, blank=True)
    global_activity = models.PositiveSmallIntegerField(null=True, blank=True)
    new_lesions = models.BooleanField(default=False)
    lesion_areas = models.JSONField(default=list, blank=True)
    mouth_ulcers = models.BooleanField(default=False)
    hair_loss = models.BooleanField(default=False)
    chest_pain = models.BooleanField(default=False)
    neuro_symptoms = models.BooleanField(default=False)
    fever = models.BooleanField(default=False)
    joint_pain = models.BooleanField(default=False)
    foamy_urine = models.BooleanField(default=False)
    missed_period = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "client_id"], name="checkin_client_id_once"),
            models.CheckConstraint(
                condition=Q(itch__lte=10) & Q(pain__lte=10) & Q(global_activity__lte=10),
                name="checkin_scales_0_10",
            ),
        ]
        indexes = [models.Index(fields=["patient", "answered_at"], name="checkin_patient_time")]


class LabResult(models.Model):
    """A laboratory result entered by staff. Counts are in 10^9/L."""

    class Test(models.TextChoices):
        ANC = "anc", "Absolute neutrophil count"
        PLATELETS = "platelets"
        WBC = "wbc", "White blood cells"
        HEMOGLOBIN = "hemoglobin"
        CREATININE = "creatinine"
        PREGNANCY_HCG = "pregnancy_hcg", "Pregnancy test (hCG)"

    class Result(models.TextChoices):
        POSITIVE = "positive"
        NEGATIVE = "negative"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("tracker.Patient", on_delete=models.PROTECT, related_name="labs")
    client_id = models.UUIDField(null=True, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    test = models.CharField(max_length=20, choices=Test.choices)
    value = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    result = models.CharField(max_length=10, choices=Result.choices, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    collected_at = models.DateTimeField()
    ctcae_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    ctcae_version = models.CharField(max_length=10, blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "client_id"],
                condition=Q(client_id__isnull=False),
                name="lab_client_id_once",
            ),
        ]
        indexes = [models.Index(fields=["patient", "collected_at"], name="lab_patient_time")]


class ClasiAssessment(models.Model):
    """A clinician's CLASI scoring; totals are computed by the server (tracker.clasi)."""

    class Band(models.TextChoices):
        MILD = "mild"
        MODERATE = "moderate"
        SEVERE = "severe"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("tracker.Patient", on_delete=models.PROTECT, related_name="clasi")
    assessed_on = models.DateField()
    areas = models.JSONField(default=dict)
    mucous_membrane = models.PositiveSmallIntegerField(default=0)
    recent_hair_loss = models.PositiveSmallIntegerField(default=0)
    nonscarring_alopecia = models.PositiveSmallIntegerField(default=0)
    scalp_scarring = models.PositiveSmallIntegerField(default=0)
    dyspigmentation_lasting = models.BooleanField(default=False)
    activity_score = models.PositiveSmallIntegerField()
    damage_score = models.PositiveSmallIntegerField()
    activity_band = models.CharField(max_length=10, choices=Band.choices)
    instrument = models.CharField(max_length=20, default="CLASI")
    instrument_version = models.CharField(max_length=40, default="Albrecht 2005")
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "assessed_on"], name="clasi_patient_day")]
        constraints = [
            models.CheckConstraint(condition=Q(activity_score__lte=70), name="clasi_activity_max"),
        ]
