from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from api import auth
from api.v1.accounts import MeApi
from api.v1.alerts import AlertViewSet
from api.v1.devices import DeviceViewSet
from api.v1.doses import DoseLogViewSet
from api.v1.patients import PatientViewSet
from api.v1.photos import PhotoViewSet
from api.v1.records import (
    CheckInViewSet,
    ClasiViewSet,
    LabResultViewSet,
    PrescriptionViewSet,
)
from api.v1.sync import SyncApi

router = SimpleRouter(trailing_slash=True)
router.register("patients", PatientViewSet, basename="patient")
router.register("dose-logs", DoseLogViewSet, basename="dose-log")
router.register("check-ins", CheckInViewSet, basename="check-in")
router.register("lab-results", LabResultViewSet, basename="lab-result")
router.register("clasi-assessments", ClasiViewSet, basename="clasi")
router.register("prescriptions", PrescriptionViewSet, basename="prescription")
router.register("photos", PhotoViewSet, basename="photo")
router.register("alerts", AlertViewSet, basename="alert")
router.register("devices", DeviceViewSet, basename="device")

urlpatterns = [
    path("auth/token/", auth.TokenObtainApi.as_view(), name="token"),
    path("auth/token/refresh/", auth.TokenRefreshApi.as_view(), name="token-refresh"),
    path("auth/activate/", auth.ActivateApi.as_view(), name="activate"),
    path("me/", MeApi.as_view(), name="me"),
    path("sync/", SyncApi.as_view(), name="sync"),
    path("", include(router.urls)),
]
