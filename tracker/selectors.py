"""Reads. The ONLY place that knows who may see which patient.

Every API and dashboard lookup starts from `patients_visible_to`: anything it does not
return is a 404 for this user, so another clinic's data cannot leak through a forgotten
check in a view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from tracker.models import Patient, User

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser


def patients_visible_to(user: User | AnonymousUser) -> QuerySet[Patient]:
    """Staff see their clinic's patients; a patient sees only themself."""
    if not user.is_authenticated:
        return Patient.objects.none()
    assert isinstance(user, User)
    if user.is_superuser:
        return Patient.objects.all()
    membership = user.membership
    if membership is not None:
        return Patient.objects.filter(clinic_id=membership.clinic_id)
    patient = user.patient
    if patient is not None:
        return Patient.objects.filter(pk=patient.pk)
    return Patient.objects.none()


def records_visible_to(user: User | AnonymousUser, model: type[Any]) -> QuerySet[Any]:
    """Rows of a per-patient model that belong to patients this user may see."""
    if not user.is_authenticated:
        return model.objects.none()
    assert isinstance(user, User)
    if user.is_superuser:
        return model.objects.all()
    membership = user.membership
    if membership is not None:
        return model.objects.filter(patient__clinic_id=membership.clinic_id)
    patient = user.patient
    if patient is not None:
        return model.objects.filter(patient_id=patient.pk)
    return model.objects.none()


def staff_of_clinic(clinic_id: int) -> QuerySet[User]:
    return User.objects.filter(staff_membership__clinic_id=clinic_id, is_active=True)
