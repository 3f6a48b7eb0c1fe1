"""The project's URLs plus the notifications router, for tests that run before the router
is included in api/urls.py (and harmlessly redundant after)."""

from __future__ import annotations

from django.urls import include, path

from config.urls import urlpatterns as project_urlpatterns
from notifications.urls import router

urlpatterns = [
    path("api/v1/", include(router.urls)),
    *project_urlpatterns,
]
