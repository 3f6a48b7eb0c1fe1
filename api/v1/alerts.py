"""alerts/: the care team's queue and the alert lifecycle (DESIGN.md sections 6 and 7).

Staff of the patient's clinic only: the queryset is the clinic's alerts (superuser: all),
so another clinic's alert is a 404; patients get 403 on every endpoint; anonymous 401.
Each action calls one service in notifications.services, which locks the alert, checks
its state (409 on a conflicting transition) and records an event with the actor.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from api.audit import AuditedMixin
from api.permissions import STAFF_ROLES, role_of
from notifications.models import Alert, AlertEvent
from notifications.services import (
    alert_acknowledge,
    alert_assign,
    alert_comment,
    alert_escalate,
    alert_resolve,
)
from tracker.models import User

UUID_REGEX = "[0-9a-fA-F-]{32,36}"
ASSIGNEE_ERROR = "Must be a nurse or clinician of the alert's clinic."


class IsClinicStaff(BasePermission):
    message = "Only care-team staff may see alerts."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        return bool(user.is_superuser) or role_of(request) in STAFF_ROLES


class AlertEventOutput(serializers.Serializer):
    kind = serializers.CharField()
    actor = serializers.EmailField(source="actor.email", allow_null=True, default=None)
    at = serializers.DateTimeField()
    note = serializers.CharField()


class AlertOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    rule = serializers.CharField()
    severity = serializers.ChoiceField(choices=Alert.Severity.choices)
    status = serializers.ChoiceField(choices=Alert.Status.choices)
    summary = serializers.CharField()
    evidence = serializers.JSONField()
    assigned_to = serializers.UUIDField(
        source="assigned_to.public_id", allow_null=True, default=None
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolution = serializers.CharField(allow_blank=True)
    resolution_note = serializers.CharField(allow_blank=True)
    escalated_at = serializers.DateTimeField(allow_null=True)
    events = AlertEventOutput(many=True)


class NoteInput(serializers.Serializer):
    note = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


class CommentInput(serializers.Serializer):
    note = serializers.CharField(max_length=4000)


class AssignInput(serializers.Serializer):
    assignee = serializers.UUIDField(
        required=False, allow_null=True, help_text="A staff user id; omitted: the caller."
    )


class ResolveInput(serializers.Serializer):
    resolution = serializers.ChoiceField(choices=Alert.Resolution.choices)
    note = serializers.CharField(max_length=4000)


class AlertFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=Alert.Status.choices)
    severity = filters.MultipleChoiceFilter(choices=Alert.Severity.choices)
    rule = filters.CharFilter()
    patient = filters.UUIDFilter(field_name="patient__public_id", help_text="Patient id.")
    assigned = filters.ChoiceFilter(
        choices=[("me", "me"), ("none", "none")],
        method="filter_assigned",
        help_text="me: assigned to the caller; none: unassigned.",
    )

    class Meta:
        model = Alert
        fields = ["status", "severity", "rule", "patient", "assigned"]

    def filter_assigned(self, queryset: QuerySet[Alert], name: str, value: str) -> QuerySet[Alert]:
        if value == "me":
            return queryset.filter(assigned_to_id=self.request.user.pk)
        return queryset.filter(assigned_to__isnull=True)


class AlertViewSet(
    AuditedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The alert queue, urgent first then oldest, and the lifecycle actions."""

    permission_classes = [IsAuthenticated, IsClinicStaff]
    serializer_class = AlertOutput
    filterset_class = AlertFilter
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_REGEX
    audit_object_type = "alert"

    def get_queryset(self) -> QuerySet[Alert]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Alert.objects.none()
        user = self.request.user
        qs = (
            Alert.objects.all()
            if user.is_superuser
            else Alert.objects.filter(clinic_id=user.clinic_id)  # type: ignore[union-attr]
        )
        events = AlertEvent.objects.select_related("actor").order_by("at", "pk")
        return (
            qs.select_related("patient", "assigned_to")
            .prefetch_related(Prefetch("events", queryset=events))
            .order_by("-severity_rank", "created_at", "pk")
        )

    def get_object(self) -> Alert:
        alert: Alert = super().get_object()
        self.audit(patient_id=alert.patient_id, object_id=alert.public_id)
        return alert

    def _detail(self, alert: Alert) -> Response:
        fresh = self.get_queryset().get(pk=alert.pk)
        return Response(AlertOutput(fresh).data)

    @extend_schema(request=NoteInput, responses=AlertOutput)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, id: str | None = None) -> Response:
        """open -> acknowledged (409 if already acknowledged or resolved)."""
        alert = self.get_object()
        payload = NoteInput(data=request.data)
        payload.is_valid(raise_exception=True)
        alert_acknowledge(alert=alert, actor=request.user, note=payload.validated_data["note"])
        return self._detail(alert)

    @extend_schema(request=AssignInput, responses=AlertOutput)
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, id: str | None = None) -> Response:
        """Assign to a nurse or clinician of the alert's clinic (default: the caller)."""
        alert = self.get_object()
        payload = AssignInput(data=request.data)
        payload.is_valid(raise_exception=True)
        assignee_id = payload.validated_data.get("assignee")
        if assignee_id is None:
            assignee = request.user
        else:
            found = User.objects.filter(public_id=assignee_id).first()
            if found is None:
                raise serializers.ValidationError({"assignee": [ASSIGNEE_ERROR]})
            assignee = found
        alert_assign(alert=alert, actor=request.user, assignee=assignee)
        return self._detail(alert)

    @extend_schema(request=ResolveInput, responses=AlertOutput)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, id: str | None = None) -> Response:
        """-> resolved, with a resolution and a note (409 if already resolved)."""
        alert = self.get_object()
        payload = ResolveInput(data=request.data)
        payload.is_valid(raise_exception=True)
        alert_resolve(alert=alert, actor=request.user, **payload.validated_data)
        return self._detail(alert)

    @extend_schema(request=CommentInput, responses=AlertOutput)
    @action(detail=True, methods=["post"])
    def comment(self, request: Request, id: str | None = None) -> Response:
        """Add a note to the alert's history."""
        alert = self.get_object()
        payload = CommentInput(data=request.data)
        payload.is_valid(raise_exception=True)
        alert_comment(alert=alert, actor=request.user, note=payload.validated_data["note"])
        return self._detail(alert)

    @extend_schema(request=NoteInput, responses=AlertOutput)
    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, id: str | None = None) -> Response:
        """Escalate now to the clinicians and on-call staff (409 if resolved or escalated)."""
        alert = self.get_object()
        payload = NoteInput(data=request.data)
        payload.is_valid(raise_exception=True)
        alert_escalate(alert=alert, actor=request.user, note=payload.validated_data["note"])
        return self._detail(alert)
