from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from api import auth
from api.v1.accounts import MeApi
from api.v1.patients import PatientViewSet

router = SimpleRouter(trailing_slash=True)
router.register("patients", PatientViewSet, basename="patient")

urlpatterns = [
    path("auth/token/", auth.TokenObtainApi.as_view(), name="token"),
    path("auth/token/refresh/", auth.TokenRefreshApi.as_view(), name="token-refresh"),
    path("auth/activate/", auth.ActivateApi.as_view(), name="activate"),
    path("me/", MeApi.as_view(), name="me"),
    path("", include(router.urls)),
]
