"""Enrolment and activation of patients."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tracker.jobs import patient_changed
from tracker.models import CareTeamAssignment, Patient, StaffMembership, User
from tracker.services.errors import DomainConflict, DomainError

if TYPE_CHECKING:
    from collections.abc import Iterable

# No 0/O or 1/I/L: the code is read out over the phone or typed from a letter.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 10


def _hash_code(code: str) -> str:
    normalised = code.strip().upper().replace("-", "").replace(" ", "")
    return hashlib.sha256(normalised.encode()).hexdigest()


def validate_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError(
            "Unknown time zone.", field_errors={"timezone": ["Not an IANA time zone name."]}
        ) from exc


@dataclass(frozen=True)
class Enrolment:
    patient: Patient
    activation_code: str


@transaction.atomic
def patient_enrol(
    *,
    actor: User,
    email: str,
    first_name: str,
    last_name: str,
    date_of_birth: date,
    sex: str,
    reproductive_potential: bool,
    cle_subtype: str,
    timezone_name: str,
    mrn: str,
    irregular_cycles: bool = False,
    care_team: Iterable[User] | None = None,
) -> Enrolment:
    """Enrol a patient at the actor's clinic and return the one-time activation code.

    Only the code's hash is stored. The care team is the enrolling clinician plus the given
    staff (default: every nurse of the clinic). Raises DomainConflict on a duplicate e-mail or
    MRN. Audited by the API layer.
    """
    membership = actor.membership
    if membership is None:
        raise DomainError("Only clinic staff can enrol patients.", code="not_staff")
    validate_timezone(timezone_name)
    if sex == Patient.Sex.MALE and reproductive_potential:
        # REMS risk categories for males have no pregnancy testing; refuse the contradiction.
        raise DomainError(
            "Reproductive potential applies to females only (REMS risk category).",
            field_errors={"reproductive_potential": ["Must be false for a male patient."]},
        )
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise DomainConflict("A user with this e-mail already exists.", code="email_taken")
    if Patient.objects.filter(clinic_id=membership.clinic_id, mrn=mrn).exists():
        raise DomainConflict("A patient with this MRN already exists.", code="mrn_taken")
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    try:
        with transaction.atomic():
            user = User.objects.create_user(email, first_name=first_name, last_name=last_name)
            patient = Patient.objects.create(
                user=user,
                clinic_id=membership.clinic_id,
                mrn=mrn,
                first_name=first_name,
                last_name=last_name,
                date_of_birth=date_of_birth,
                sex=sex,
                reproductive_potential=reproductive_potential,
                irregular_cycles=irregular_cycles,
                cle_subtype=cle_subtype,
                timezone=timezone_name,
                activation_code_hash=_hash_code(code),
                activation_expires_at=timezone.now() + settings.ACTIVATION_CODE_TTL,
                enrolled_by=actor,
            )
    except IntegrityError as exc:  # a concurrent enrolment of the same person
        raise DomainConflict("This patient is already enrolled.", code="duplicate") from exc
    team = (
        list(care_team)
        if care_team is not None
        else list(
            User.objects.filter(
                staff_membership__clinic_id=membership.clinic_id,
                staff_membership__role=StaffMembership.Role.NURSE,
                is_active=True,
            )
        )
    )
    members = {u.pk: u for u in [actor, *team] if u.clinic_id == membership.clinic_id}
    CareTeamAssignment.objects.bulk_create(
        [CareTeamAssignment(patient=patient, user=u) for u in members.values()],
        ignore_conflicts=True,
    )
    return Enrolment(patient=patient, activation_code=f"{code[:5]}-{code[5:]}")


_INVALID = "The e-mail address or activation code is not valid, or the code has expired."


@transaction.atomic
def patient_activate(*, email: str, activation_code: str, password: str) -> User:
    """Set the password of an enrolled patient who presents a valid, unexpired code.

    One-time: the code's hash is cleared on success. The same message is given for an
    unknown e-mail, a wrong code and an expired one, so the endpoint reveals nothing.
    """
    patient = (
        Patient.objects.select_for_update()
        .select_related("user")
        .filter(user__email__iexact=email.strip())
        .first()
    )
    if (
        patient is None
        or not patient.activation_code_hash
        or patient.activation_expires_at is None
        or patient.activation_expires_at < timezone.now()
        or not hmac.compare_digest(patient.activation_code_hash, _hash_code(activation_code))
    ):
        raise DomainError(_INVALID, code="invalid_activation")
    user = patient.user
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError(
            "The password is too weak.", field_errors={"password": list(exc.messages)}
        ) from exc
    user.set_password(password)
    user.is_active = True
    user.save(update_fields=["password", "is_active"])
    patient.activation_code_hash = ""
    patient.activation_expires_at = None
    if patient.status == Patient.Status.INVITED:
        patient.status = Patient.Status.ACTIVE
    patient.save(update_fields=["activation_code_hash", "activation_expires_at", "status"])
    return user


# Fields the detection rules read: a change re-evaluates the patient at once, as new data does.
_RULE_FIELDS = frozenset({"status", "timezone", "irregular_cycles", "reproductive_potential"})


@transaction.atomic
def patient_update(*, patient: Patient, **fields: object) -> Patient:
    """Change a patient's follow-up settings (status, time zone, cycles, reproductive
    potential). A change of any field a rule reads marks the patient changed, so the
    evaluation runs after commit (a nurse who sets reproductive potential gets the
    pregnancy-test alerts now, not at the patient's next midnight)."""
    if "timezone" in fields:
        validate_timezone(str(fields["timezone"]))
    changed = [name for name, value in fields.items() if getattr(patient, name) != value]
    for name in changed:
        setattr(patient, name, fields[name])
    if changed:
        patient.save(update_fields=changed)
        if _RULE_FIELDS.intersection(changed):
            patient_changed(patient.pk)
    return patient
