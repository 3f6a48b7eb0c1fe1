"""Users, clinics and staff roles.

A user signs in with an e-mail address. Staff belong to exactly one clinic through a
StaffMembership that carries the role; a patient's user has a Patient profile instead.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

if TYPE_CHECKING:
    from tracker.models.patients import Patient


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        # Addresses are stored lower-cased; phone keyboards capitalise the first letter.
        return self.get(email__iexact=(username or "").strip())


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in. E-mail addresses are unique case-insensitively."""

    class Role(models.TextChoices):
        PATIENT = "patient"
        NURSE = "nurse"
        CLINICIAN = "clinician"
        CLINIC_ADMIN = "clinic_admin"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May use the Django admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    @property
    def membership(self) -> StaffMembership | None:
        try:
            return self.staff_membership
        except StaffMembership.DoesNotExist:
            return None

    @property
    def patient(self) -> Patient | None:
        from tracker.models.patients import Patient

        try:
            return self.patient_profile
        except Patient.DoesNotExist:
            return None

    @property
    def role(self) -> str | None:
        membership = self.membership
        if membership is not None:
            return membership.role
        if self.patient is not None:
            return self.Role.PATIENT
        return None

    @property
    def clinic_id(self) -> int | None:
        membership = self.membership
        if membership is not None:
            return membership.clinic_id
        patient = self.patient
        return patient.clinic_id if patient is not None else None

    @property
    def is_care_staff(self) -> bool:
        return self.membership is not None


class Clinic(models.Model):
    """A clinic: the boundary of what its staff may see."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200, unique=True)
    timezone = models.CharField(max_length=64, default="Europe/Madrid")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class StaffMembership(models.Model):
    """The one clinic a staff user works for, and their role there."""

    class Role(models.TextChoices):
        NURSE = "nurse"
        CLINICIAN = "clinician"
        CLINIC_ADMIN = "clinic_admin"

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="staff_membership")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="staff")
    role = models.CharField(max_length=20, choices=Role.choices)
    on_call = models.BooleanField(
        default=False, help_text="Receives escalations of unacknowledged alerts."
    )
    phone = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.role} at {self.clinic})"
