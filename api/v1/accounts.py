"""me/: who am I, with which role, at which clinic."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class MeOutput(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    role = serializers.CharField(allow_null=True)
    clinic = serializers.UUIDField(allow_null=True)
    clinic_name = serializers.CharField(allow_null=True)
    patient = serializers.UUIDField(allow_null=True)


class MeApi(APIView):
    @extend_schema(responses=MeOutput)
    def get(self, request: Request) -> Response:
        user = request.user
        membership = user.membership
        patient = user.patient
        clinic = membership.clinic if membership else (patient.clinic if patient else None)
        data = {
            "id": user.public_id,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "role": user.role,
            "clinic": clinic.public_id if clinic else None,
            "clinic_name": clinic.name if clinic else None,
            "patient": patient.public_id if patient else None,
        }
        return Response(MeOutput(data).data)
