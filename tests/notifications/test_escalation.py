"""Escalation of unacknowledged alerts, with time travel (time-machine)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from notifications.models import Alert, AlertEvent, ClinicAlertPolicy, NotificationDelivery
from notifications.services import alert_acknowledge
from notifications.tasks import escalation_sweep_task
from tests.notifications.conftest import make_alert, send_pending
from tests.notifications.servers import SmtpServer
from tracker.models import Patient, User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("channels")]
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def escalation_targets(alert: Alert) -> set[tuple[str, str]]:
    return set(
        NotificationDelivery.objects.filter(alert=alert, purpose="escalation").values_list(
            "channel", "target"
        )
    )


def test_unacknowledged_urgent_alert_escalates_after_30_minutes_and_not_before(
    alice: Patient,
    team: dict[str, User],
    on_call: User,
    route: Callable[..., list[Any]],
    smtp: SmtpServer,
) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        alert = make_alert(alice)
        route(alert)
        send_pending()  # the nurses are told at once
        smtp.inbox.mails.clear()

        clock.move_to(T0 + timedelta(minutes=29, seconds=59))
        assert escalation_sweep_task() == 0
        assert escalation_targets(alert) == set()

        clock.move_to(T0 + timedelta(minutes=30))
        assert escalation_sweep_task() == 1
        assert escalation_sweep_task() == 0  # once

    alert.refresh_from_db()
    assert alert.escalated_at == T0 + timedelta(minutes=30)
    event = AlertEvent.objects.get(alert=alert, kind="escalated")
    assert event.actor is None
    assert event.data == {"reason": "unacknowledged"}
    clinician = team["clinician"]
    assert escalation_targets(alert) == {
        ("email", f"user:{clinician.pk}"),
        ("sms", f"user:{clinician.pk}"),
        ("push", f"device:{clinician.devices.get().pk}"),
        ("email", f"user:{on_call.pk}"),  # on call, no phone and no device
    }
    send_pending()
    assert {m.rcpt_tos[0] for m in smtp.inbox.mails} == {clinician.email, on_call.email}
    assert all("Escalated" in m.message["Subject"] for m in smtp.inbox.mails)


def test_warning_escalates_after_24_hours(
    alice: Patient, team: dict[str, User], route: Callable[..., list[Any]]
) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        alert = make_alert(alice, severity="warning")
        route(alert)
        clock.move_to(T0 + timedelta(hours=23, minutes=59))
        assert escalation_sweep_task() == 0
        clock.move_to(T0 + timedelta(hours=24, minutes=1))
        assert escalation_sweep_task() == 1

    assert {c for c, _ in escalation_targets(alert)} == {"email", "push"}


def test_acknowledged_alert_does_not_escalate(
    alice: Patient, team: dict[str, User], route: Callable[..., list[Any]]
) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        alert = make_alert(alice)
        route(alert)
        clock.move_to(T0 + timedelta(minutes=10))
        alert_acknowledge(alert=alert, actor=team["nurse"])
        clock.move_to(T0 + timedelta(hours=5))
        assert escalation_sweep_task() == 0


def test_info_alerts_never_escalate(
    alice: Patient, team: dict[str, User], route: Callable[..., list[Any]]
) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        route(make_alert(alice, severity="info", rule="insomnia"))
        clock.move_to(T0 + timedelta(days=10))
        assert escalation_sweep_task() == 0


def test_clinic_policy_sets_the_delay(
    alice: Patient, team: dict[str, User], route: Callable[..., list[Any]]
) -> None:
    ClinicAlertPolicy.objects.create(clinic=alice.clinic, urgent_escalation_minutes=10)
    with time_machine.travel(T0, tick=False) as clock:
        route(make_alert(alice))
        clock.move_to(T0 + timedelta(minutes=9))
        assert escalation_sweep_task() == 0
        clock.move_to(T0 + timedelta(minutes=10))
        assert escalation_sweep_task() == 1


def test_warning_raised_to_urgent_escalates_30_minutes_after_the_raise(
    alice: Patient, team: dict[str, User], route: Callable[..., list[Any]]
) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        alert = make_alert(alice, severity="warning")
        route(alert)
        clock.move_to(T0 + timedelta(hours=25))
        assert escalation_sweep_task() == 1  # the warning escalates

        raised_at = T0 + timedelta(hours=30)
        clock.move_to(raised_at)
        Alert.objects.filter(pk=alert.pk).update(severity="urgent", severity_rank=3)
        alert.refresh_from_db()
        route(alert, change="severity_raised")
        clock.move_to(raised_at + timedelta(minutes=29))
        assert escalation_sweep_task() == 0
        clock.move_to(raised_at + timedelta(minutes=30))
        assert escalation_sweep_task() == 1  # and the urgent one again, with SMS

    assert NotificationDelivery.objects.filter(
        alert=alert, purpose="escalation", severity="urgent", channel="sms"
    ).exists()
    assert AlertEvent.objects.filter(alert=alert, kind="escalated").count() == 2


def test_clinic_policy_sets_the_warning_delay_and_leaves_other_clinics_alone(
    alice: Patient,
    carol: Patient,
    team: dict[str, User],
    route: Callable[..., list[Any]],
) -> None:
    ClinicAlertPolicy.objects.create(clinic=alice.clinic, warning_escalation_hours=4)
    with time_machine.travel(T0, tick=False) as clock:
        ours = make_alert(alice, severity="warning")
        theirs = make_alert(carol, severity="warning")
        route(ours)
        route(theirs)
        clock.move_to(T0 + timedelta(hours=3, minutes=59))
        assert escalation_sweep_task() == 0
        clock.move_to(T0 + timedelta(hours=4))
        assert escalation_sweep_task() == 1  # ours only: the other clinic keeps 24 h
        assert AlertEvent.objects.filter(alert=ours, kind="escalated").exists()
        assert not AlertEvent.objects.filter(alert=theirs, kind="escalated").exists()
        clock.move_to(T0 + timedelta(hours=24))
        assert escalation_sweep_task() == 1
    assert AlertEvent.objects.filter(alert=theirs, kind="escalated").exists()
