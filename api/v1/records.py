"""check-ins/, lab-results/, clasi-assessments/, prescriptions/."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.audit import AuditedMixin
from api.idempotency import idempotent
from api.permissions import ReadOrRoleWrites, StaffReadsPatientWrites
from api.v1.common import (
    audited_list_patient,
    parse_date,
    parse_uuid,
    patient_from_body,
    scoped_records,
)
from tracker import clasi, grading
from tracker.models import CheckIn, ClasiAssessment, LabResult, Prescription
from tracker.services import records

AREA_CHOICES = list(clasi.AREAS)
TERM_CHOICES = list(grading.SYMPTOM_TERMS)
PATIENT_FILTER = OpenApiParameter("patient", str, description="Patient id (staff)")


class PatientIdField(serializers.UUIDField):
    def to_representation(self, value: Any) -> Any:
        return super().to_representation(value.public_id)


class RecordOutput(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PatientIdField(read_only=True)


class RecordViewSet(AuditedMixin, viewsets.GenericViewSet):
    """List/retrieve scoped by tracker.selectors; create delegated to a service."""

    model: type[Any]
    date_field = "created_at"
    # What ?from&to (dates, inclusive) compare with; a datetime field needs a date of it,
    # else "to" would stop at midnight and drop that day's rows.
    date_filter = "created_at__date"
    lookup_url_kwarg = "id"

    def get_queryset(self) -> Any:
        qs = scoped_records(self.request, self.model).select_related("patient")
        params = self.request.query_params
        if start := parse_date(params.get("from"), "from"):
            qs = qs.filter(**{f"{self.date_filter}__gte": start})
        if end := parse_date(params.get("to"), "to"):
            qs = qs.filter(**{f"{self.date_filter}__lte": end})
        return qs.order_by(f"-{self.date_field}", "-id")

    @extend_schema(
        parameters=[
            PATIENT_FILTER,
            OpenApiParameter("from", str, description="From date (YYYY-MM-DD)"),
            OpenApiParameter("to", str, description="To date (YYYY-MM-DD)"),
        ]
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        self.audit(patient_id=audited_list_patient(request))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        try:
            uid = parse_uuid(id, "id")
        except ValidationError:
            raise NotFound() from None
        obj = self.get_queryset().filter(public_id=uid).first()
        if obj is None:
            raise NotFound()
        self.audit(patient_id=obj.patient_id, object_id=obj.public_id)
        return Response(self.get_serializer(obj).data)

    def created(self, obj: Any, created: bool = True) -> Response:
        self.audit(patient_id=obj.patient_id, object_id=obj.public_id)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self.get_serializer(obj).data, status=code)


# --- Check-ins ------------------------------------------------------------------------------


class SymptomInput(serializers.Serializer):
    term = serializers.ChoiceField(choices=TERM_CHOICES)
    frequency = serializers.IntegerField(min_value=0, max_value=4, required=False, allow_null=True)
    severity = serializers.IntegerField(min_value=0, max_value=4, required=False, allow_null=True)
    interference = serializers.IntegerField(
        min_value=0, max_value=4, required=False, allow_null=True
    )
    amount = serializers.IntegerField(min_value=0, max_value=4, required=False, allow_null=True)
    present = serializers.BooleanField(required=False, allow_null=True, default=None)


class SymptomOutput(SymptomInput):
    composite_grade = serializers.IntegerField(allow_null=True)


def _scale() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=10, required=False, allow_null=True)


class CheckInInput(serializers.Serializer):
    client_id = serializers.UUIDField()
    patient = serializers.UUIDField(required=False, help_text="Ignored unless it is you.")
    answered_at = serializers.DateTimeField()
    symptoms = SymptomInput(many=True, required=False, max_length=len(TERM_CHOICES))
    itch = _scale()
    pain = _scale()
    global_activity = _scale()
    new_lesions = serializers.BooleanField(default=False)
    lesion_areas = serializers.ListField(
        child=serializers.ChoiceField(choices=AREA_CHOICES), required=False, max_length=13
    )
    mouth_ulcers = serializers.BooleanField(default=False)
    hair_loss = serializers.BooleanField(default=False)
    chest_pain = serializers.BooleanField(default=False)
    neuro_symptoms = serializers.BooleanField(default=False)
    fever = serializers.BooleanField(default=False)
    joint_pain = serializers.BooleanField(default=False)
    foamy_urine = serializers.BooleanField(default=False)
    missed_period = serializers.BooleanField(default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("lesion_areas") and not attrs.get("new_lesions"):
            raise ValidationError({"lesion_areas": ["Only with new_lesions true."]})
        attrs["symptoms"] = [
            {k: v for k, v in item.items() if v is not None} for item in attrs.get("symptoms", [])
        ]
        return attrs


class CheckInOutput(RecordOutput):
    symptoms = SymptomOutput(many=True, read_only=True)
    alerts = serializers.SerializerMethodField()

    class Meta:
        model = CheckIn
        fields = [
            "id",
            "client_id",
            "patient",
            "answered_at",
            "local_date",
            "symptoms",
            "itch",
            "pain",
            "global_activity",
            "new_lesions",
            "lesion_areas",
            "mouth_ulcers",
            "hair_loss",
            "chest_pain",
            "neuro_symptoms",
            "fever",
            "joint_pain",
            "foamy_urine",
            "missed_period",
            "instrument_version",
            "created_at",
            "alerts",
        ]

    def get_alerts(self, obj: CheckIn) -> list[dict[str, str]]:
        """Alerts of this patient raised since the check-in. They are raised after commit,
        so the response to the POST itself usually lists none; a later read shows them.
        Lists pass them in the context (one query per page, see alerts_since)."""
        batch = self.context.get("alerts")
        if batch is None:
            batch = alerts_since([obj])
        return batch.get(obj.pk, [])


def alerts_since(check_ins: list[CheckIn], limit: int = 20) -> dict[int, list[dict[str, str]]]:
    """Per check-in, its patient's alerts updated since it was created, in one query."""
    from notifications.models import Alert

    if not check_ins:
        return {}
    rows = Alert.objects.filter(
        patient_id__in={c.patient_id for c in check_ins},
        updated_at__gte=min(c.created_at for c in check_ins),
    ).values("patient_id", "public_id", "rule", "severity", "status", "updated_at")
    by_patient: dict[int, list[dict[str, Any]]] = {}
    for r in rows.order_by("-updated_at", "-id"):
        by_patient.setdefault(r["patient_id"], []).append(r)
    return {
        c.pk: [
            {
                "id": str(r["public_id"]),
                "rule": r["rule"],
                "severity": r["severity"],
                "status": r["status"],
            }
            for r in by_patient.get(c.patient_id, [])
            if r["updated_at"] >= c.created_at
        ][:limit]
        for c in check_ins
    }


class CheckInViewSet(RecordViewSet):
    model = CheckIn
    date_field = "answered_at"
    date_filter = "local_date"
    permission_classes = [StaffReadsPatientWrites]
    serializer_class = CheckInOutput
    audit_object_type = "check_in"

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("many") and args:
            page = list(args[0])
            kwargs.setdefault("context", self.get_serializer_context())
            kwargs["context"]["alerts"] = alerts_since(page)
            args = (page, *args[1:])
        return super().get_serializer(*args, **kwargs)

    @extend_schema(request=CheckInInput, responses={201: CheckInOutput, 200: CheckInOutput})
    @idempotent
    def create(self, request: Request) -> Response:
        patient = request.user.patient
        payload = CheckInInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        claimed = data.pop("patient", None)
        if claimed is not None and claimed != patient.public_id:
            raise ValidationError({"patient": ["You can only report for yourself."]})
        result = records.check_in_record(patient=patient, recorded_by=request.user, **data)
        return self.created(result.obj, result.created)


# --- Labs -----------------------------------------------------------------------------------


class LabInput(serializers.Serializer):
    client_id = serializers.UUIDField(required=False)
    patient = serializers.UUIDField()
    test = serializers.ChoiceField(choices=LabResult.Test.choices)
    value = serializers.DecimalField(
        max_digits=8,
        decimal_places=3,
        min_value=0,
        max_value=99999,
        required=False,
        allow_null=True,
    )
    result = serializers.ChoiceField(
        choices=LabResult.Result.choices, required=False, allow_blank=True
    )
    unit = serializers.CharField(max_length=20, required=False, allow_blank=True)
    collected_at = serializers.DateTimeField()


class LabOutput(RecordOutput):
    class Meta:
        model = LabResult
        fields = [
            "id",
            "patient",
            "test",
            "value",
            "result",
            "unit",
            "collected_at",
            "ctcae_grade",
            "ctcae_version",
            "created_at",
        ]


class LabResultViewSet(RecordViewSet):
    model = LabResult
    date_field = "collected_at"
    date_filter = "collected_at__date"
    permission_classes = [ReadOrRoleWrites]
    write_roles = frozenset({"nurse", "clinician"})
    serializer_class = LabOutput
    audit_object_type = "lab_result"

    @extend_schema(request=LabInput, responses={201: LabOutput, 200: LabOutput})
    @idempotent
    def create(self, request: Request) -> Response:
        payload = LabInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        patient = patient_from_body(request, data.pop("patient"))
        result = records.lab_result_record(patient=patient, entered_by=request.user, **data)
        return self.created(result.obj, result.created)


# --- CLASI ----------------------------------------------------------------------------------


class ClasiAreaInput(serializers.Serializer):
    """One area's items; an unknown item is refused rather than silently dropped."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise ValidationError({k: ["Unknown CLASI item."] for k in unknown})
        return super().to_internal_value(data)

    erythema = serializers.IntegerField(min_value=0, max_value=3, default=0)
    scale = serializers.IntegerField(min_value=0, max_value=2, default=0)
    dyspigmentation = serializers.IntegerField(min_value=0, max_value=1, default=0)
    scarring = serializers.IntegerField(min_value=0, max_value=2, default=0)


class ClasiInput(serializers.Serializer):
    patient = serializers.UUIDField()
    assessed_on = serializers.DateField()
    areas = serializers.DictField(child=ClasiAreaInput(), allow_empty=True)
    mucous_membrane = serializers.IntegerField(min_value=0, max_value=1, default=0)
    recent_hair_loss = serializers.IntegerField(min_value=0, max_value=1, default=0)
    nonscarring_alopecia = serializers.IntegerField(min_value=0, max_value=3, default=0)
    scalp_scarring = serializers.ChoiceField(choices=[0, 3, 4, 5, 6], default=0)
    dyspigmentation_lasting = serializers.BooleanField(default=False)

    def validate_areas(self, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(AREA_CHOICES))
        if unknown:
            raise ValidationError(f"Unknown CLASI areas: {', '.join(unknown)}.")
        return {k: dict(v) for k, v in value.items()}


class ClasiOutput(RecordOutput):
    class Meta:
        model = ClasiAssessment
        fields = [
            "id",
            "patient",
            "assessed_on",
            "areas",
            "mucous_membrane",
            "recent_hair_loss",
            "nonscarring_alopecia",
            "scalp_scarring",
            "dyspigmentation_lasting",
            "activity_score",
            "damage_score",
            "activity_band",
            "instrument",
            "instrument_version",
            "created_at",
        ]


class ClasiViewSet(RecordViewSet):
    model = ClasiAssessment
    date_field = "assessed_on"
    date_filter = "assessed_on"
    permission_classes = [ReadOrRoleWrites]
    write_roles = frozenset({"clinician"})
    serializer_class = ClasiOutput
    audit_object_type = "clasi"

    @extend_schema(request=ClasiInput, responses={201: ClasiOutput})
    @idempotent
    def create(self, request: Request) -> Response:
        payload = ClasiInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        patient = patient_from_body(request, data.pop("patient"))
        return self.created(records.clasi_record(patient=patient, assessed_by=request.user, **data))


# --- Prescriptions --------------------------------------------------------------------------


class PrescriptionInput(serializers.Serializer):
    patient = serializers.UUIDField()
    issued_on = serializers.DateField()
    dose_mg = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0)
    quantity = serializers.IntegerField(min_value=1, max_value=56)
    days_supply = serializers.IntegerField(min_value=1, max_value=365)
    authorization_number = serializers.RegexField(r"^[A-Za-z0-9-]{4,64}$")
    risk_category = serializers.ChoiceField(choices=Prescription.RiskCategory.choices)


class PrescriptionOutput(RecordOutput):
    class Meta:
        model = Prescription
        fields = [
            "id",
            "patient",
            "issued_on",
            "dose_mg",
            "quantity",
            "days_supply",
            "authorization_number",
            "risk_category",
            "created_at",
        ]


class PrescriptionViewSet(RecordViewSet):
    model = Prescription
    date_field = "issued_on"
    date_filter = "issued_on"
    permission_classes = [ReadOrRoleWrites]
    write_roles = frozenset({"clinician"})
    serializer_class = PrescriptionOutput
    audit_object_type = "prescription"

    @extend_schema(request=PrescriptionInput, responses={201: PrescriptionOutput})
    @idempotent
    def create(self, request: Request) -> Response:
        payload = PrescriptionInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        patient = patient_from_body(request, data.pop("patient"))
        rx = records.prescription_issue(actor=request.user, patient=patient, **data)
        return self.created(rx)
