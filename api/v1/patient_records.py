"""patients/{id}/regimen-steps/, schedule/, adherence/, timeline/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.permissions import role_of
from api.v1.common import date_range, parse_date, visible_patient
from tracker import schedules
from tracker.models import RegimenStep
from tracker.services import views
from tracker.services.records import regimen_step_add

RANGE = [
    OpenApiParameter("from", str, description="First local date (YYYY-MM-DD)"),
    OpenApiParameter("to", str, description="Last local date (YYYY-MM-DD)"),
]


class RegimenStepInput(serializers.Serializer):
    starts_on = serializers.DateField()
    dose_mg = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=25)
    pattern = serializers.ChoiceField(choices=RegimenStep.Pattern.choices)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False, max_length=7
    )
    cycle_days_on = serializers.IntegerField(
        min_value=1, max_value=56, required=False, allow_null=True
    )
    cycle_length = serializers.IntegerField(
        min_value=2, max_value=56, required=False, allow_null=True
    )
    reason = serializers.ChoiceField(choices=RegimenStep.Reason.choices)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class RegimenStepOutput(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    weekly_dose_mg = serializers.SerializerMethodField()
    is_reduction = serializers.SerializerMethodField()

    class Meta:
        model = RegimenStep
        fields = [
            "id",
            "starts_on",
            "dose_mg",
            "pattern",
            "weekdays",
            "cycle_days_on",
            "cycle_length",
            "reason",
            "note",
            "weekly_dose_mg",
            "is_reduction",
            "created_at",
        ]

    def _step(self, obj: RegimenStep) -> schedules.Step:
        return schedules.Step(
            starts_on=obj.starts_on,
            dose_mg=obj.dose_mg,
            pattern=obj.pattern,
            weekdays=tuple(obj.weekdays or ()),
            cycle_days_on=obj.cycle_days_on,
            cycle_length=obj.cycle_length,
            reason=obj.reason,
        )

    def get_weekly_dose_mg(self, obj: RegimenStep) -> str:
        return str(schedules.weekly_dose_mg(self._step(obj)))

    def get_is_reduction(self, obj: RegimenStep) -> bool:
        previous = self.context.get("previous", {}).get(obj.pk)
        return previous is not None and schedules.is_reduction(
            self._step(previous), self._step(obj)
        )


class ExpectedDayOutput(serializers.Serializer):
    date = serializers.DateField()
    dose_mg = serializers.DecimalField(max_digits=5, decimal_places=2)
    is_dose_day = serializers.BooleanField()
    pattern = serializers.CharField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True)


class PatientRecordsMixin:
    """Nested read models of one patient; the patient sees their own, staff their clinic's."""

    def _patient(self, request: Request, id: str) -> Any:
        patient = visible_patient(request, id)
        self.audit(patient_id=patient.pk, object_id=patient.public_id)  # type: ignore[attr-defined]
        return patient

    @extend_schema(methods=["GET"], responses=RegimenStepOutput(many=True))
    @extend_schema(methods=["POST"], request=RegimenStepInput, responses={201: RegimenStepOutput})
    @action(detail=True, methods=["get", "post"], url_path="regimen-steps", pagination_class=None)
    def regimen_steps(self, request: Request, id: str) -> Response:
        patient = self._patient(request, id)
        if request.method == "POST":
            if role_of(request) != "clinician":
                raise PermissionDenied("Only a clinician may change the regimen.")
            payload = RegimenStepInput(data=request.data)
            payload.is_valid(raise_exception=True)
            regimen_step_add(actor=request.user, patient=patient, **payload.validated_data)
        steps = list(
            RegimenStep.objects.filter(patient=patient, superseded_at__isnull=True).order_by(
                "starts_on"
            )
        )
        # Each step is judged against the latest earlier step that is not a hold, as
        # schedules.reductions does: 10 mg daily -> hold -> 5 mg daily is a taper.
        previous: dict[int, RegimenStep] = {}
        reference: RegimenStep | None = None
        for s in steps:
            if reference is not None:
                previous[s.pk] = reference
            if s.pattern != RegimenStep.Pattern.HOLD:
                reference = s
        data = RegimenStepOutput(steps, many=True, context={"previous": previous}).data
        if request.method == "POST":
            created = next(
                d for d in data if d["starts_on"] == str(payload.validated_data["starts_on"])
            )
            return Response(created, status=status.HTTP_201_CREATED)
        return Response(data)

    @extend_schema(parameters=RANGE, responses=ExpectedDayOutput(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def schedule(self, request: Request, id: str) -> Response:
        patient = self._patient(request, id)
        today = schedules.local_date(timezone.now(), patient.timezone)
        end = parse_date(request.query_params.get("to"), "to") or today + timedelta(27)
        start = parse_date(request.query_params.get("from"), "from") or today
        if start > end or (end - start).days > 365:
            raise ValidationError({"to": ["'to' must follow 'from' within 366 days."]})
        try:
            days = views.patient_schedule(patient, start, end)
        except OverflowError:  # 09:00 local before year 1 in UTC (e.g. Juneau's LMT, +15 h)
            raise ValidationError({"from": ["Out of range."]}) from None
        return Response(
            [
                {
                    "date": d.day,
                    "dose_mg": str(d.dose_mg),
                    "is_dose_day": d.is_dose_day,
                    "pattern": d.pattern,
                    "due_at": d.due_at,
                }
                for d in days
            ]
        )

    @extend_schema(
        parameters=RANGE,
        responses=inline_serializer(
            "Adherence", {"days": serializers.ListField(), "summary": serializers.DictField()}
        ),
    )
    @action(detail=True, methods=["get"])
    def adherence(self, request: Request, id: str) -> Response:
        patient = self._patient(request, id)
        today = schedules.local_date(timezone.now(), patient.timezone)
        start, end = date_range(request, default_days=28)
        try:
            days, summary = views.patient_adherence(patient, start, end, today)
        except OverflowError:
            raise ValidationError({"from": ["Out of range."]}) from None
        return Response(
            {
                "from": start,
                "to": end,
                "days": [
                    {
                        "date": d.day,
                        "expected_mg": str(d.expected_mg),
                        "is_dose_day": d.is_dose_day,
                        "state": d.state,
                        "logged_mg": None if d.logged_mg is None else str(d.logged_mg),
                        "above_prescribed": d.above_prescribed,
                    }
                    for d in days
                ],
                "summary": {
                    "expected_doses": summary.expected_doses,
                    "taken": summary.taken,
                    "missed": summary.missed,
                    "skipped": summary.skipped,
                    "not_logged": summary.not_logged,
                    "extra_doses": summary.extra_doses,
                    "above_prescribed": summary.above_prescribed,
                    "share_taken": None
                    if summary.share_taken is None
                    else str(summary.share_taken),
                    "longest_missed_streak": summary.longest_missed_streak,
                    "current_missed_streak": summary.current_missed_streak,
                },
            }
        )

    @extend_schema(
        parameters=[OpenApiParameter("since", str, description="From date (YYYY-MM-DD)")],
        responses=inline_serializer(
            "TimelineEvent",
            {
                "kind": serializers.CharField(),
                "date": serializers.DateField(),
                "id": serializers.UUIDField(),
                "summary": serializers.CharField(),
            },
            many=True,
        ),
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def timeline(self, request: Request, id: str) -> Response:
        patient = self._patient(request, id)
        today = schedules.local_date(timezone.now(), patient.timezone)
        since = parse_date(request.query_params.get("since"), "since") or views.default_since(today)
        return Response(views.patient_timeline(patient, since=since))

    @extend_schema(
        responses=inline_serializer(
            "FhirBundle",
            {
                "resourceType": serializers.CharField(),
                "type": serializers.CharField(),
                "entry": serializers.ListField(child=serializers.DictField()),
            },
        )
    )
    @action(detail=True, methods=["get"])
    def fhir(self, request: Request, id: str) -> Response:
        """The patient's record as a FHIR R4 Bundle (Patient, MedicationRequest, Observation)."""
        from tracker.fhir import patient_bundle

        patient = self._patient(request, id)
        return Response(patient_bundle(patient), content_type="application/fhir+json")
