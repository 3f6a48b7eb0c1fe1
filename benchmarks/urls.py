"""The project's URLs plus the comparison endpoints of the API benchmark (benchmarks.views)."""

from __future__ import annotations

from django.urls import path

from benchmarks import views
from config.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

urlpatterns = [
    *urlpatterns,
    path("bench/minimal/dose-logs/", views.MinimalDoseLogApi.as_view(), name="bench-minimal"),
    path("bench/reference/dose-logs/", views.reference_dose_logs, name="bench-reference"),
]
