"""dose-logs/: the patient logs each dose; staff read their clinic's.

The list is the phone's hottest read: it is built from `values()` and rendered by orjson,
with the same fields a serializer would give, to keep per-row cost near the raw query's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import F
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.audit import AuditedMixin
from api.idempotency import idempotent
from api.permissions import StaffReadsPatientWrites
from api.v1.common import audited_list_patient, parse_date, parse_uuid, scoped_records
from tracker.models import DoseLog, Patient
from tracker.services.records import dose_log_correct, dose_log_record

_FIELDS = (
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
    "superseded_at",
)


class DoseLogOutput(serializers.Serializer):
    id = serializers.UUIDField()
    client_id = serializers.UUIDField()
    patient = serializers.UUIDField()
    scheduled_date = serializers.DateField()
    status = serializers.ChoiceField(choices=DoseLog.Status.choices)
    dose_mg = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    expected_dose_mg = serializers.DecimalField(max_digits=5, decimal_places=2)
    taken_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField()
    supersedes = serializers.UUIDField(allow_null=True)
    current = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class DoseLogInput(serializers.Serializer):
    client_id = serializers.UUIDField()
    patient = serializers.UUIDField(required=False, help_text="Ignored unless it is you.")
    scheduled_date = serializers.DateField()
    status = serializers.ChoiceField(choices=DoseLog.Status.choices)
    dose_mg = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        required=False,
        allow_null=True,
        min_value=0,
        max_value=25,
    )
    taken_at = serializers.DateTimeField(required=False, allow_null=True)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["status"] != DoseLog.Status.TAKEN and attrs.get("dose_mg") not in (None, 0):
            raise ValidationError({"dose_mg": ["Only a taken dose has a dose."]})
        return attrs


class DoseLogCorrection(serializers.Serializer):
    client_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=DoseLog.Status.choices, required=False)
    dose_mg = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        required=False,
        allow_null=True,
        min_value=0,
        max_value=25,
    )
    taken_at = serializers.DateTimeField(required=False, allow_null=True)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


def dose_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["public_id"],
        "client_id": row["client_id"],
        "patient": row["patient_public_id"],
        "scheduled_date": row["scheduled_date"],
        "status": row["status"],
        "dose_mg": row["dose_mg"],
        "expected_dose_mg": row["expected_dose_mg"],
        "taken_at": row["taken_at"],
        "note": row["note"],
        "supersedes": row["supersedes_public_id"],
        "current": row["superseded_at"] is None,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def dose_values(qs: Any) -> Any:
    return qs.values(
        *_FIELDS,
        patient_public_id=F("patient__public_id"),
        supersedes_public_id=F("supersedes__public_id"),
    )


def dose_out(dose: DoseLog) -> dict[str, Any]:
    return dose_row(dose_values(DoseLog.objects.filter(pk=dose.pk)).get())


_CENTS = Decimal("0.01")


def _as_stored(value: Decimal | None) -> Decimal | None:
    """A dose as the numeric(5, 2) column gives it back (5 -> 5.00, 0 -> 0.00)."""
    return None if value is None else Decimal(value).quantize(_CENTS)


def dose_out_recorded(dose: DoseLog, patient: Patient) -> dict[str, Any]:
    """dose_out() of a row the service has just written or read, without reading it again.

    The same fields as the database gives them back; a row that supersedes another is read
    again (its `supersedes` is the other row's public id).
    """
    if dose.supersedes_id is not None or dose.patient_id != patient.pk:
        return dose_out(dose)
    return dose_row(
        {
            "public_id": dose.public_id,
            "client_id": dose.client_id,
            "patient_public_id": patient.public_id,
            "scheduled_date": dose.scheduled_date,
            "status": dose.status,
            "dose_mg": _as_stored(dose.dose_mg),
            "expected_dose_mg": _as_stored(dose.expected_dose_mg),
            "taken_at": dose.taken_at,
            "note": dose.note,
            "supersedes_public_id": None,
            "superseded_at": dose.superseded_at,
            "created_at": dose.created_at,
            "updated_at": dose.updated_at,
        }
    )


class CountedRows:
    """dose_values() of a queryset for the paginator, counted on the queryset itself.

    The count is the same (each row joins exactly one patient and at most one superseded
    version), but without the two joins that only fetch public ids for the page's rows.
    """

    ordered = True

    def __init__(self, qs: Any) -> None:
        self._qs = qs
        self._rows = dose_values(qs)

    def count(self) -> int:
        return int(self._qs.count())

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key: Any) -> Any:
        return self._rows[key]


class DoseLogViewSet(AuditedMixin, viewsets.GenericViewSet):
    permission_classes = [StaffReadsPatientWrites]
    serializer_class = DoseLogOutput
    audit_object_type = "dose_log"
    lookup_url_kwarg = "id"

    def get_queryset(self) -> Any:
        qs = scoped_records(self.request, DoseLog)
        params = self.request.query_params
        if params.get("include_superseded") != "true":
            qs = qs.filter(superseded_at__isnull=True)
        if start := parse_date(params.get("from"), "from"):
            qs = qs.filter(scheduled_date__gte=start)
        if end := parse_date(params.get("to"), "to"):
            qs = qs.filter(scheduled_date__lte=end)
        return qs.order_by("-scheduled_date", "-id")

    def _object(self, pk: str) -> DoseLog:
        dose = (
            scoped_records(self.request, DoseLog)
            .select_related("patient")
            .filter(public_id=parse_uuid_or_404(pk))
            .first()
        )
        if dose is None:
            raise NotFound()
        self.audit(patient_id=dose.patient_id, object_id=dose.public_id)
        return dose

    @extend_schema(
        parameters=[
            OpenApiParameter("patient", str, description="Patient id (staff)"),
            OpenApiParameter("from", str, description="First scheduled date (YYYY-MM-DD)"),
            OpenApiParameter("to", str, description="Last scheduled date (YYYY-MM-DD)"),
            OpenApiParameter("include_superseded", bool),
        ],
        responses=DoseLogOutput(many=True),
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(CountedRows(self.get_queryset()))
        self.audit(patient_id=audited_list_patient(request))
        return self.get_paginated_response([dose_row(r) for r in page])

    @extend_schema(responses=DoseLogOutput)
    def retrieve(self, request: Request, id: str) -> Response:
        return Response(dose_out(self._object(id)))

    @extend_schema(request=DoseLogInput, responses={201: DoseLogOutput, 200: DoseLogOutput})
    @idempotent
    def create(self, request: Request) -> Response:
        patient = request.user.patient
        payload = DoseLogInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        claimed = data.pop("patient", None)
        if claimed is not None and claimed != patient.public_id:
            raise ValidationError({"patient": ["You can only log your own doses."]})
        result = dose_log_record(patient=patient, recorded_by=request.user, **data)
        self.audit(patient_id=patient.pk, object_id=result.obj.public_id)
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(dose_out_recorded(result.obj, patient), status=code)

    @extend_schema(request=DoseLogCorrection, responses={201: DoseLogOutput, 200: DoseLogOutput})
    @idempotent
    def partial_update(self, request: Request, id: str) -> Response:
        """Correct a dose log: the original is kept (superseded) and a new version is made."""
        original = self._object(id)
        if original.patient_id != request.user.patient.pk:
            raise NotFound()
        payload = DoseLogCorrection(data=request.data)
        payload.is_valid(raise_exception=True)
        result = dose_log_correct(
            original=original, recorded_by=request.user, **payload.validated_data
        )
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(dose_out(result.obj), status=code)


def parse_uuid_or_404(value: str) -> Any:
    try:
        return parse_uuid(value, "id")
    except ValidationError:
        raise NotFound() from None
