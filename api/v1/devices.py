"""devices/: push tokens of the signed-in user's phones and browsers (staff and patients).

Every query is scoped to request.user, so someone else's device is a 404.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from notifications.models import Device
from notifications.services import device_deactivate, device_register


class DeviceOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    platform = serializers.ChoiceField(choices=Device.Platform.choices)
    token = serializers.CharField()
    active = serializers.BooleanField()
    last_seen_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class DeviceInput(serializers.Serializer):
    platform = serializers.ChoiceField(choices=Device.Platform.choices)
    token = serializers.CharField(max_length=512, trim_whitespace=True)


class DeviceViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """POST registers (idempotent by token), GET lists own devices, DELETE deactivates."""

    serializer_class = DeviceOutput
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"

    def get_queryset(self) -> QuerySet[Device]:
        return Device.objects.filter(user_id=self.request.user.pk).order_by("-created_at", "pk")

    @extend_schema(request=DeviceInput, responses={200: DeviceOutput, 201: DeviceOutput})
    def create(self, request: Request) -> Response:
        payload = DeviceInput(data=request.data)
        payload.is_valid(raise_exception=True)
        device, created = device_register(user=request.user, **payload.validated_data)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(DeviceOutput(device).data, status=code)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, id: str | None = None) -> Response:
        device_deactivate(device=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
