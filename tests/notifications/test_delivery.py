"""Routing and the delivery outbox against real SMTP and HTTP servers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from notifications.models import Alert, AlertEvent, DeliveryAttempt, Device, NotificationDelivery
from notifications.services import alert_resolve
from notifications.sweeps import deliveries_sweep
from notifications.tasks import delivery_send_task
from tests.notifications.conftest import make_alert, send_pending
from tests.notifications.servers import FCM_PATH, HOOK_PATH, SMS_PATH, HttpServer, SmtpServer
from tracker.models import Patient, User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("channels")]
D = NotificationDelivery


def rows(**filters: Any) -> list[tuple[str, str, str]]:
    return sorted(
        D.objects.filter(**filters).values_list("purpose", "channel", "target").order_by("pk")
    )


def test_urgent_alert_reaches_each_assigned_nurse_once_per_channel(
    alice: Patient,
    team: dict[str, User],
    webhook: Any,
    route: Callable[..., list[Any]],
    smtp: SmtpServer,
    http: HttpServer,
) -> None:
    nurse, second = team["nurse"], team["second_nurse"]
    alert = make_alert(alice)

    callbacks = route(alert)

    assert len(callbacks) == 1  # dispatch is published only after commit
    expected = sorted(
        [("alert", "email", f"user:{u.pk}") for u in (nurse, second)]
        + [("alert", "sms", f"user:{u.pk}") for u in (nurse, second)]
        + [("alert", "push", f"device:{u.devices.get().pk}") for u in (nurse, second)]
        + [("alert", "webhook", f"webhook:{alice.clinic_id}")]
    )
    assert rows() == expected  # the clinician is not paged at once: nurses first
    assert set(send_pending()) == {"sent"}

    assert len(smtp.inbox.mails) == 2
    for user in (nurse, second):
        [mail] = smtp.inbox.to(user.email)
        assert "A001" in mail.message["Subject"]  # e-mail may carry the MRN and summary
        assert "ANC 0.8" in mail.text
        assert f"/dashboard/alerts/{alert.public_id}/" in mail.text
    pushes = [r.json()["message"] for r in http.at(FCM_PATH)]
    assert sorted(p["token"] for p in pushes) == sorted(
        [f"token-{nurse.email}", f"token-{second.email}"]
    )
    texts = [r.json()["text"] for r in http.at(SMS_PATH)]
    assert len(texts) == 2
    for lock_screen in [
        *(p["notification"]["body"] + p["notification"]["title"] for p in pushes),
        *texts,
    ]:
        assert "Alice" not in lock_screen
        assert "A001" not in lock_screen
        assert "0.8" not in lock_screen
    [hook] = http.at(HOOK_PATH)
    assert hook.json()["alert"]["id"] == str(alert.public_id)
    assert hook.json()["event"] == "alert.raised"
    assert set(D.objects.values_list("status", flat=True)) == {"sent"}

    # A second routing of the same change and a second run of every task send nothing more.
    route(alert)
    send_pending()
    for pk in D.objects.values_list("pk", flat=True):
        assert delivery_send_task(pk) == "not_claimed"
    assert (len(smtp.inbox.mails), len(http.requests)) == (2, 5)  # 2 push, 2 sms, 1 hook


def test_warning_goes_to_nurses_by_email_and_push_and_info_to_nobody(
    alice: Patient, team: dict[str, User], webhook: Any, route: Callable[..., list[Any]]
) -> None:
    warning = make_alert(alice, severity="warning", episode="w")
    info = make_alert(alice, severity="info", rule="insomnia", episode="i")

    route(warning)
    assert route(info) == []

    assert {c for _, c, _ in rows(alert=warning)} == {"email", "push"}
    assert len(rows(alert=warning)) == 4
    assert rows(alert=info) == []
    assert Alert.objects.get(pk=info.pk).routed_at is not None


def test_severity_raise_reaches_nurses_again_on_every_channel(
    alice: Patient, team: dict[str, User], route: Callable[..., list[Any]], smtp: SmtpServer
) -> None:
    alert = make_alert(alice, severity="warning")
    route(alert)
    send_pending()
    Alert.objects.filter(pk=alert.pk).update(severity="urgent", severity_rank=3)
    alert.refresh_from_db()

    route(alert, change="severity_raised")

    assert len(rows(alert=alert, severity="urgent")) == 6  # 2 nurses x e-mail, push, sms
    send_pending()
    assert len(smtp.inbox.to(team["nurse"].email)) == 2


def test_task_executed_twice_sends_once(
    alice: Patient, team: dict[str, User], route: Callable[..., list[Any]], smtp: SmtpServer
) -> None:
    route(make_alert(alice))
    email = D.objects.filter(channel="email").first()
    assert email is not None

    assert delivery_send_task(email.pk) == "sent"
    assert delivery_send_task(email.pk) == "not_claimed"
    assert delivery_send_task(email.pk + 10_000) == "not_claimed"  # a missing row is done

    assert len(smtp.inbox.mails) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("sent", 1)
    assert DeliveryAttempt.objects.filter(delivery=email).count() == 1


def test_failing_channel_retries_with_backoff_then_gives_up_and_escalates(
    alice: Patient,
    team: dict[str, User],
    on_call: User,
    route: Callable[..., list[Any]],
    http: HttpServer,
    settings: Any,
) -> None:
    http.always(FCM_PATH, 500, {"error": {"code": 500, "status": "INTERNAL"}})
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        alert = make_alert(alice)
        route(alert)
        push = D.objects.filter(channel="push", recipient=team["nurse"]).get()
        waits = []
        for _ in range(settings.NOTIFY_MAX_ATTEMPTS - 1):
            assert delivery_send_task(push.pk) == "retry"
            push.refresh_from_db()
            waits.append(round((push.next_attempt_at - timezone.now()).total_seconds()))
            assert delivery_send_task(push.pk) == "not_claimed"  # not before its back-off
            clock.shift(timedelta(seconds=waits[-1]))
        assert delivery_send_task(push.pk) == "gave_up"

    assert waits == [30, 60, 120, 240, 480]
    assert max(waits) <= settings.CELERY_MAX_COUNTDOWN
    push.refresh_from_db()
    assert (push.status, push.attempts) == ("gave_up", 6)
    assert push.last_error == "fcm: HTTP 500 INTERNAL"  # codes only, never content
    assert len(http.at(FCM_PATH)) == 6
    failed = AlertEvent.objects.get(alert=alert, kind="delivery_failed")
    assert failed.data["channel"] == "push"
    # The give-up escalates once to the care-team clinician and the on-call clinician.
    gave_up = rows(alert=alert, purpose="gave_up")
    assert {t for _, c, t in gave_up if c == "email"} == {
        f"user:{team['clinician'].pk}",
        f"user:{on_call.pk}",
    }
    other_push = D.objects.filter(channel="push", recipient=team["second_nurse"]).get()
    for _ in range(settings.NOTIFY_MAX_ATTEMPTS):
        D.objects.filter(pk=other_push.pk).update(next_attempt_at=timezone.now())
        delivery_send_task(other_push.pk)
    assert len(rows(alert=alert, purpose="gave_up")) == len(gave_up)  # not twice


def test_dead_push_token_gives_up_at_once_and_deactivates_the_device(
    alice: Patient, team: dict[str, User], route: Callable[..., list[Any]], http: HttpServer
) -> None:
    from tests.notifications.servers import fcm_error

    http.responders[FCM_PATH] = lambda r: fcm_error(404, "UNREGISTERED")
    route(make_alert(alice))
    push = D.objects.filter(channel="push", recipient=team["nurse"]).get()

    assert delivery_send_task(push.pk) == "gave_up"

    assert not Device.objects.get(pk=push.device_id).active
    assert D.objects.get(pk=push.pk).attempts == 1


@pytest.mark.parametrize(
    ("status", "outcome"), [(400, "gave_up"), (410, "gave_up"), (429, "retry"), (503, "retry")]
)
def test_webhook_4xx_is_permanent_except_429_and_5xx_is_transient(
    alice: Patient,
    team: dict[str, User],
    webhook: Any,
    route: Callable[..., list[Any]],
    http: HttpServer,
    status: int,
    outcome: str,
) -> None:
    http.always(HOOK_PATH, status)
    route(make_alert(alice))
    hook = D.objects.get(channel="webhook")

    assert delivery_send_task(hook.pk) == outcome


def test_refused_email_address_is_permanent(
    alice: Patient, team: dict[str, User], route: Callable[..., list[Any]], smtp: SmtpServer
) -> None:
    smtp.inbox.refuse.add(team["nurse"].email)
    route(make_alert(alice))
    email = D.objects.get(channel="email", recipient=team["nurse"])

    assert delivery_send_task(email.pk) == "gave_up"
    assert email.__class__.objects.get(pk=email.pk).last_error.startswith("smtp: recipient refused")


def test_resolved_alert_cancels_what_is_not_sent(
    alice: Patient, team: dict[str, User], route: Callable[..., list[Any]], smtp: SmtpServer
) -> None:
    alert = make_alert(alice)
    route(alert)
    alert_resolve(alert=alert, actor=team["nurse"], resolution="other", note="Seen in clinic")

    assert set(send_pending()) == set()
    assert set(D.objects.values_list("status", flat=True)) == {"cancelled"}
    assert smtp.inbox.mails == []


def test_broker_down_at_commit_is_logged_and_the_sweep_sends_later(
    alice: Patient,
    team: dict[str, User],
    route: Callable[..., list[Any]],
    smtp: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        callbacks = route(make_alert(alice))
        with mock.patch.object(delivery_send_task, "apply_async", side_effect=BrokerError("down")):
            for callback in callbacks:
                callback()  # must not raise: the alert's transaction already committed
        assert "deliveries sweep will send them" in caplog.text
        assert set(D.objects.values_list("status", flat=True)) == {"pending"}

        with mock.patch.object(delivery_send_task, "delay") as delay:
            assert deliveries_sweep() == 0  # still inside the grace of the normal task
            clock.shift(timedelta(seconds=61))
            assert deliveries_sweep() == 6
        for call in delay.call_args_list:
            delivery_send_task(*call.args)

    assert len(smtp.inbox.mails) == 2


def test_sweep_resets_deliveries_stuck_in_sending(
    alice: Patient, team: dict[str, User], route: Callable[..., list[Any]]
) -> None:
    route(make_alert(alice))
    stuck = D.objects.filter(channel="email").first()
    assert stuck is not None
    long_ago = timezone.now() - timedelta(minutes=7)
    D.objects.filter(pk=stuck.pk).update(status="sending", attempts=1, updated_at=long_ago)
    D.objects.exclude(pk=stuck.pk).update(status="sent")

    with mock.patch.object(delivery_send_task, "delay") as delay:
        assert deliveries_sweep() == 1

    delay.assert_called_once_with(stuck.pk)
    assert D.objects.get(pk=stuck.pk).status == "failed"
    assert delivery_send_task(stuck.pk) == "sent"
    assert D.objects.get(pk=stuck.pk).attempts == 2


def test_sent_rows_are_never_picked_up_again(
    alice: Patient, team: dict[str, User], route: Callable[..., list[Any]]
) -> None:
    route(make_alert(alice))
    send_pending()
    D.objects.update(updated_at=timezone.now() - timedelta(hours=1))

    with mock.patch.object(delivery_send_task, "delay") as delay:
        deliveries_sweep(timezone.now() + timedelta(hours=1))

    delay.assert_not_called()


def test_alert_without_assigned_nurse_goes_to_the_escalation_list(
    bob: Patient, nurse: User, clinician: User, route: Callable[..., list[Any]]
) -> None:
    bob.care_team.filter(user=nurse).delete()

    route(make_alert(bob, severity="warning"))

    assert {t for _, c, t in rows() if c == "email"} == {f"user:{clinician.pk}"}


def test_unexpected_error_is_a_failed_attempt_not_a_stuck_row(
    alice: Patient, team: dict[str, User], route: Callable[..., list[Any]]
) -> None:
    route(make_alert(alice))
    email = D.objects.filter(channel="email").first()
    assert email is not None

    with mock.patch(
        "notifications.transports.email.EmailMessage.send", side_effect=RuntimeError("bug")
    ):
        assert delivery_send_task(email.pk) == "retry"

    email.refresh_from_db()
    assert (email.status, email.last_error) == ("failed", "unexpected RuntimeError")


def test_stuck_row_without_attempts_left_gives_up_and_escalates(
    alice: Patient, team: dict[str, User], route: Callable[..., list[Any]], settings: Any
) -> None:
    alert = make_alert(alice)
    route(alert)
    stuck = D.objects.filter(channel="sms").first()
    assert stuck is not None
    D.objects.filter(pk=stuck.pk).update(
        status="sending",
        attempts=settings.NOTIFY_MAX_ATTEMPTS,
        updated_at=timezone.now() - timedelta(minutes=7),
    )

    with mock.patch.object(delivery_send_task, "delay"):
        deliveries_sweep()

    assert D.objects.get(pk=stuck.pk).status == "gave_up"
    assert AlertEvent.objects.filter(alert=alert, kind="delivery_failed").exists()
    assert D.objects.filter(alert=alert, purpose="gave_up").exists()
