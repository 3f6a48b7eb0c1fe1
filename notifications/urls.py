"""The notifications API routes; api/urls.py includes `router.urls` under /api/v1/."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from api.v1.alerts import AlertViewSet
from api.v1.devices import DeviceViewSet

router = SimpleRouter(trailing_slash=True)
router.register("alerts", AlertViewSet, basename="alert")
router.register("devices", DeviceViewSet, basename="device")

urlpatterns = router.urls
