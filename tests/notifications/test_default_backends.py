"""Out of the box (no provider configured) push and SMS go to the logging backends: the
delivery is recorded as sent, and the log line names neither the device token nor the
phone number (nor anything clinical beyond the alert's subject)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from notifications.models import Alert, NotificationDelivery
from notifications.transports import transport_for
from notifications.transports.push import LoggingPushBackend
from notifications.transports.sms import LoggingSmsBackend
from tests.notifications.conftest import make_alert, send_pending
from tracker.models import Patient, StaffMembership, User

pytestmark = pytest.mark.django_db


def test_the_defaults_are_the_logging_backends() -> None:
    # config.settings.test leaves NOTIFY_* unset, as a fresh checkout does.
    assert settings.NOTIFY_PUSH_BACKEND == "notifications.transports.push.LoggingPushBackend"
    assert settings.NOTIFY_SMS_BACKEND == "notifications.transports.sms.LoggingSmsBackend"
    assert isinstance(transport_for("push"), LoggingPushBackend)
    assert isinstance(transport_for("sms"), LoggingSmsBackend)


def test_an_urgent_alert_is_sent_through_them_without_tokens_or_numbers_in_the_log(
    alice: Patient,
    team: dict[str, User],
    route: Callable[..., list[Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    alert: Alert = make_alert(alice)
    route(alert)
    with caplog.at_level(logging.INFO, logger="notifications"):
        send_pending()

    rows = NotificationDelivery.objects.filter(alert=alert, channel__in=["push", "sms"])
    assert rows.count() == 4  # each assigned nurse: one push (one device) and one SMS
    assert set(rows.values_list("status", flat=True)) == {"sent"}
    log = caplog.text
    assert log.count("push (logging backend)") == 2
    assert log.count("sms (logging backend)") == 2
    for user in (team["nurse"], team["second_nurse"]):
        phone = StaffMembership.objects.get(user=user).phone
        assert phone
        assert phone not in log
        assert user.devices.get().token not in log
    assert "0.8" not in log  # the lab value stays out of the logs
