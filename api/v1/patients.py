"""patients/: enrolment by clinicians, lists scoped to the caller's clinic (or self)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response

from api.audit import AuditedMixin
from api.permissions import STAFF_ROLES, role_of
from api.v1.patient_records import PatientRecordsMixin
from tracker.models import Patient, User
from tracker.selectors import patients_visible_to
from tracker.services.patients import patient_enrol


class PatientOutput(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    clinic = serializers.UUIDField(source="clinic.public_id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "clinic",
            "email",
            "mrn",
            "first_name",
            "last_name",
            "date_of_birth",
            "sex",
            "reproductive_potential",
            "irregular_cycles",
            "cle_subtype",
            "timezone",
            "status",
            "created_at",
        ]
        read_only_fields = fields


class PatientEnrolInput(serializers.Serializer):
    email = serializers.EmailField()
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150)
    date_of_birth = serializers.DateField()
    sex = serializers.ChoiceField(choices=Patient.Sex.choices)
    reproductive_potential = serializers.BooleanField()
    irregular_cycles = serializers.BooleanField(default=False)
    cle_subtype = serializers.ChoiceField(choices=Patient.Subtype.choices)
    timezone = serializers.CharField(max_length=64)
    mrn = serializers.RegexField(r"^[A-Za-z0-9._-]{1,64}$", max_length=64)
    care_team = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=50,
        help_text="Staff user ids of this clinic; default: every nurse of the clinic.",
    )

    def validate_date_of_birth(self, value: Any) -> Any:
        from django.utils import timezone

        if value >= timezone.localdate():
            raise serializers.ValidationError("Must be in the past.")
        return value


class PatientEnrolOutput(PatientOutput):
    activation_code = serializers.CharField(read_only=True)

    class Meta(PatientOutput.Meta):
        fields = [*PatientOutput.Meta.fields, "activation_code"]
        read_only_fields = fields


class PatientUpdateInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=Patient.Status.choices, required=False)
    timezone = serializers.CharField(max_length=64, required=False)
    irregular_cycles = serializers.BooleanField(required=False)
    reproductive_potential = serializers.BooleanField(required=False)


class PatientViewSet(
    AuditedMixin,
    PatientRecordsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Staff see their clinic's patients; a patient sees only themself. Clinicians enrol."""

    serializer_class = PatientOutput
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"
    audit_object_type = "patient"

    def get_queryset(self) -> QuerySet[Patient]:
        qs = patients_visible_to(self.request.user).select_related("clinic", "user")
        if self.action == "list":
            for name in ("search", "status"):
                # PostgreSQL refuses NUL in a text comparison: a 400, not a 500.
                if "\x00" in self.request.query_params.get(name, ""):
                    raise ValidationError({name: ["Null characters are not allowed."]})
            search = self.request.query_params.get("search", "").strip()
            if search:
                qs = qs.filter(
                    Q(mrn__iexact=search)
                    | Q(first_name__icontains=search)
                    | Q(last_name__icontains=search)
                )
            if status_ := self.request.query_params.get("status"):
                qs = qs.filter(status=status_)
        return qs.order_by("last_name", "first_name", "pk")

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)
        if (
            request.method not in SAFE_METHODS
            and self.action in {"create", "partial_update"}
            and role_of(request) != "clinician"
        ):
            self.permission_denied(request, message="Only a clinician may enrol or edit patients.")
        if self.action == "list" and role_of(request) not in {*STAFF_ROLES, "patient"}:
            self.permission_denied(request)

    def get_object(self) -> Patient:
        patient: Patient = super().get_object()
        self.audit(patient_id=patient.pk, object_id=patient.public_id)
        return patient

    @extend_schema(request=PatientEnrolInput, responses={201: PatientEnrolOutput})
    def create(self, request: Request) -> Response:
        payload = PatientEnrolInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        team_ids = data.pop("care_team", None)
        care_team = None
        if team_ids is not None:
            care_team = list(
                User.objects.filter(
                    public_id__in=team_ids, staff_membership__clinic_id=request.user.clinic_id
                )
            )
            if len(care_team) != len(set(team_ids)):
                raise serializers.ValidationError(
                    {"care_team": ["Every member must be staff of your clinic."]}
                )
        data["timezone_name"] = data.pop("timezone")
        enrolment = patient_enrol(actor=request.user, care_team=care_team, **data)
        patient = enrolment.patient
        self.audit(patient_id=patient.pk, object_id=patient.public_id)
        out = PatientEnrolOutput(patient).data
        out["activation_code"] = enrolment.activation_code
        return Response(out, status=status.HTTP_201_CREATED)

    @extend_schema(request=PatientUpdateInput, responses=PatientOutput)
    def partial_update(self, request: Request, id: str | None = None) -> Response:
        from tracker.services.patients import patient_update

        patient = self.get_object()
        payload = PatientUpdateInput(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        patient = patient_update(patient=patient, **payload.validated_data)
        return Response(PatientOutput(patient).data)
