"""Shared pieces of the record endpoints: scoping, patient lookup, query parameters."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request

from tracker.models import Patient
from tracker.selectors import patients_visible_to, records_visible_to


def parse_uuid(value: str, field: str) -> UUID:
    try:
        return UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise ValidationError({field: ["Must be a UUID."]}) from None


def parse_date(value: str | None, field: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError({field: ["Must be a date (YYYY-MM-DD)."]}) from None


def date_range(request: Request, *, default_days: int, max_days: int = 366) -> tuple[date, date]:
    """?from&to as dates (inclusive); defaults to the last `default_days` days."""
    from django.utils import timezone

    today = timezone.localdate()
    end = parse_date(request.query_params.get("to"), "to") or today
    try:
        start = parse_date(request.query_params.get("from"), "from") or (
            end - timedelta(days=default_days - 1)
        )
    except OverflowError:  # e.g. ?to=0001-01-05: the default start is before year 1
        raise ValidationError({"to": ["Out of range."]}) from None
    if start > end:
        raise ValidationError({"from": ["Must not be after 'to'."]})
    if (end - start).days + 1 > max_days:
        raise ValidationError({"to": [f"The range may cover at most {max_days} days."]})
    return start, end


def visible_patient(request: Request, public_id: Any) -> Patient:
    """The patient named in the URL, or 404 if this user may not see them."""
    try:
        uid = UUID(str(public_id))
    except ValueError:
        raise NotFound() from None
    patient = patients_visible_to(request.user).filter(public_id=uid).first()
    if patient is None:
        raise NotFound()
    return patient


def patient_from_body(request: Request, value: Any, *, field: str = "patient") -> Patient:
    """A patient referenced in a request body; unknown and out-of-scope look the same."""
    if value in (None, ""):
        raise ValidationError({field: ["This field is required."]})
    uid = parse_uuid(str(value), field)
    patient = patients_visible_to(request.user).filter(public_id=uid).first()
    if patient is None:
        raise ValidationError({field: ["No such patient."]})
    return patient


def scoped_records(request: Request, model: type[Any]) -> QuerySet[Any]:
    """Rows this user may see, narrowed by ?patient=<id> when given."""
    qs = records_visible_to(request.user, model)
    if raw := request.query_params.get("patient"):
        qs = qs.filter(patient__public_id=parse_uuid(raw, "patient"))
    return qs


class PatientRef(serializers.UUIDField):
    """A patient id in a request body (UUID); scoping is checked by the view."""


def audited_list_patient(request: Request) -> int | None:
    """The patient whose rows a list shows, for the audit row: the patient themself, or the
    ?patient= a staff member filtered on (None for a clinic-wide list)."""
    if request.user.patient is not None:
        return request.user.patient.pk
    raw = request.query_params.get("patient")
    if not raw:
        return None
    return (
        patients_visible_to(request.user)
        .filter(public_id=parse_uuid(raw, "patient"))
        .values_list("pk", flat=True)
        .first()
    )
