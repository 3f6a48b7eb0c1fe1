"""The two comparison endpoints of the API benchmark, served next to the real API.

- MINIMAL: what plain DRF costs on this stack. A ListCreateAPIView with a ModelSerializer
  of DoseLog, the project's default authentication (JWT), permission, pagination (page size
  50, with its COUNT) and renderer, filtered to the caller's patient like the real list.
  Its create is a ModelSerializer save with the client's client_id: no idempotency, no
  schedule lookup, no audit row, no evaluation task.
- REFERENCE: the floor for the real list. The same JWT check, the same two queries as the
  real list (its COUNT and the page through values()) and the same body, byte for byte,
  rendered by orjson, without DRF's request/response machinery and without the audit row.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions, generics, serializers
from rest_framework.utils.urls import remove_query_param, replace_query_param

from api.authentication import UserJWTAuthentication
from api.renderers import _default
from api.v1.doses import dose_row, dose_values
from tracker.models import DoseLog

PAGE_SIZE = 50


def _caller_doses(patient_pk: int) -> Any:
    """The real list's rows for a patient: current versions, newest first."""
    return DoseLog.objects.filter(patient_id=patient_pk, superseded_at__isnull=True).order_by(
        "-scheduled_date", "-id"
    )


class MinimalDoseLogOut(serializers.ModelSerializer):
    class Meta:
        model = DoseLog
        fields = (
            "public_id",
            "client_id",
            "patient",
            "scheduled_date",
            "status",
            "dose_mg",
            "expected_dose_mg",
            "taken_at",
            "note",
            "supersedes",
            "superseded_at",
            "created_at",
            "updated_at",
        )


class MinimalDoseLogIn(serializers.ModelSerializer):
    class Meta:
        model = DoseLog
        fields = (
            "public_id",
            "client_id",
            "scheduled_date",
            "status",
            "dose_mg",
            "expected_dose_mg",
            "taken_at",
            "note",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("public_id", "expected_dose_mg", "created_at", "updated_at")


class MinimalDoseLogApi(generics.ListCreateAPIView):
    """Plain DRF: defaults of REST_FRAMEWORK for authentication, pagination and rendering."""

    def get_queryset(self) -> Any:
        patient = self.request.user.patient
        if patient is None:
            raise exceptions.PermissionDenied()
        return _caller_doses(patient.pk)

    def get_serializer_class(self) -> Any:
        return MinimalDoseLogIn if self.request.method == "POST" else MinimalDoseLogOut

    def perform_create(self, serializer: Any) -> None:
        user = self.request.user
        if user.patient is None:
            raise exceptions.PermissionDenied()
        serializer.save(
            patient=user.patient, recorded_by=user, fingerprint="", expected_dose_mg=Decimal(5)
        )


_jwt = UserJWTAuthentication()


def _json(body: Any, status: int = 200) -> HttpResponse:
    data = orjson.dumps(body, default=_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z)
    return HttpResponse(data, status=status, content_type="application/json")


def reference_dose_logs(request: HttpRequest) -> HttpResponse:
    """GET only: the real list's first page (?page=N honoured), without DRF."""
    try:
        found = _jwt.authenticate(request)  # type: ignore[arg-type]
    except exceptions.APIException as exc:
        return _json({"detail": str(exc.detail)}, status=401)
    if found is None:
        return _json({"detail": "Authentication credentials were not provided."}, status=401)
    patient = found[0].patient
    if patient is None:
        return _json({"detail": "Only the patient may do this."}, status=403)
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    doses = _caller_doses(patient.pk)
    count = doses.count()  # as the real list counts (api.v1.doses.CountedRows)
    start = (page - 1) * PAGE_SIZE
    results = [dose_row(r) for r in dose_values(doses)[start : start + PAGE_SIZE]]
    url = request.build_absolute_uri()
    has_next = start + PAGE_SIZE < count
    previous = None
    if page == 2:
        previous = remove_query_param(url, "page")
    elif page > 2:
        previous = replace_query_param(url, "page", page - 1)
    return _json(
        {
            "count": count,
            "next": replace_query_param(url, "page", page + 1) if has_next else None,
            "previous": previous,
            "results": results,
        }
    )
