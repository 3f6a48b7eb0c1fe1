"""Fixtures for the notification tests: real SMTP and HTTP servers, channel settings
pointing at them, a second nurse and an on-call clinician, and alert helpers.

Alerts are created through the ORM and routed with routing.alert_changed inside a
transaction, as the detection engine does; on-commit callbacks are captured, not run, and
tasks are called directly (never Celery's eager mode).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction

from notifications import routing
from notifications.models import (
    SEVERITY_RANK,
    Alert,
    AlertEvent,
    ClinicAlertPolicy,
    Device,
    NotificationDelivery,
)
from notifications.tasks import delivery_send_task
from tests.conftest import make_staff
from tests.notifications.servers import (
    FCM_PROJECT,
    HOOK_PATH,
    HOOK_SECRET,
    SMS_PATH,
    HttpServer,
    SmtpServer,
)
from tracker.models import CareTeamAssignment, Clinic, Patient, StaffMembership, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def http() -> Iterator[HttpServer]:
    server = HttpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def channels(settings: Any, smtp: SmtpServer, http: HttpServer) -> None:
    """E-mail over real SMTP, push through the FCM v1 backend, SMS through the HTTP gateway."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.NOTIFY_PUSH_BACKEND = "notifications.transports.push.FCMPushBackend"
    settings.NOTIFY_FCM_PROJECT_ID = FCM_PROJECT
    settings.NOTIFY_FCM_BASE_URL = http.url
    settings.NOTIFY_FCM_TOKEN_PROVIDER = "tests.notifications.servers.StaticTokenProvider"
    settings.NOTIFY_SMS_BACKEND = "notifications.transports.sms.HttpSmsBackend"
    settings.NOTIFY_SMS_URL = http.url + SMS_PATH
    settings.NOTIFY_SMS_TOKEN = "sms-gateway-token"
    settings.NOTIFY_HTTP_TIMEOUT = 3
    settings.NOTIFY_DASHBOARD_BASE_URL = "https://tracker.example"


@pytest.fixture
def webhook(clinic: Clinic, http: HttpServer) -> ClinicAlertPolicy:
    return ClinicAlertPolicy.objects.create(
        clinic=clinic, webhook_url=http.url + HOOK_PATH, webhook_secret=HOOK_SECRET
    )


@pytest.fixture
def second_nurse(clinic: Clinic) -> User:
    return make_staff("nina@first.test", clinic, "nurse")


@pytest.fixture
def on_call(clinic: Clinic, alice: Patient) -> User:
    """An on-call clinician outside Alice's care team (created after her)."""
    return make_staff("otto@first.test", clinic, "clinician")


@pytest.fixture
def team(nurse: User, second_nurse: User, clinician: User, alice: Patient) -> dict[str, User]:
    """Alice's care team, each with a phone and one push device; both nurses assigned."""
    CareTeamAssignment.objects.get_or_create(patient=alice, user=second_nurse)
    for n, user in enumerate([nurse, second_nurse, clinician]):
        StaffMembership.objects.filter(user=user).update(phone=f"+3460000000{n}")
        Device.objects.create(user=user, platform="android", token=f"token-{user.email}")
    return {"nurse": nurse, "second_nurse": second_nurse, "clinician": clinician}


def make_alert(
    patient: Patient,
    *,
    severity: str = "urgent",
    rule: str = "cytopenia",
    episode: str = "anc:2026-11-20",
    summary: str = "ANC 0.8 x10^9/L on 2026-11-20 (hold threshold 1.0)",
) -> Alert:
    alert = Alert.objects.create(
        patient=patient,
        clinic=patient.clinic,
        rule=rule,
        episode_key=episode,
        severity=severity,
        severity_rank=SEVERITY_RANK[severity],
        summary=summary,
        evidence={"anc": "0.8", "threshold": "1.0"},
    )
    AlertEvent.objects.create(alert=alert, kind=AlertEvent.Kind.CREATED)
    return alert


@pytest.fixture
def route(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Callable[..., list[Callable[[], None]]]:
    """Run routing.alert_changed in a transaction, as the engine does; return the captured
    on-commit callbacks (not executed)."""

    def run(alert: Alert, change: str = "created") -> list[Callable[[], None]]:
        with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
            routing.alert_changed(alert, change=change)
        return list(callbacks)

    return run


def send_pending() -> list[str]:
    """Run delivery_send_task once for every pending or failed row, as a worker would."""
    ids = NotificationDelivery.objects.filter(
        status__in=[NotificationDelivery.Status.PENDING, NotificationDelivery.Status.FAILED]
    ).values_list("pk", flat=True)
    return [delivery_send_task(pk) for pk in sorted(ids)]
