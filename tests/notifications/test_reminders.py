"""Patient reminders: local days across a daylight-saving change, idempotency, quiet hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from notifications.models import ClinicAlertPolicy, Device, NotificationDelivery, PatientReminder
from notifications.tasks import reminders_sweep_task
from tests.notifications.conftest import send_pending
from tests.notifications.servers import FCM_PATH, HttpServer
from tracker.models import LabResult, Patient, RegimenStep, User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("channels")]


def step(patient: Patient, by: User, starts_on: date, pattern: str = "daily") -> RegimenStep:
    return RegimenStep.objects.create(
        patient=patient,
        starts_on=starts_on,
        dose_mg=Decimal("5"),
        pattern=pattern,
        reason="start",
        created_by=by,
    )


def reminders(kind: str = "dose") -> list[tuple[date, datetime, str]]:
    return list(
        PatientReminder.objects.filter(kind=kind)
        .order_by("local_date")
        .values_list("local_date", "due_at", "status")
    )


@pytest.fixture
def bob_phone(bob: Patient) -> Device:
    return Device.objects.create(user=bob.user, platform="ios", token="bob-phone")


def run_sweeps_at(*moments: datetime) -> None:
    for moment in moments:
        with time_machine.travel(moment, tick=False):
            reminders_sweep_task()
            reminders_sweep_task()  # a second run (another worker, a retry) changes nothing
            send_pending()


def test_alternate_day_dose_reminders_across_the_october_dst_change(
    bob: Patient, clinician: User, bob_phone: Device, http: HttpServer
) -> None:
    # Madrid leaves summer time on Sunday 2026-10-25 at 03:00 CEST (01:00 UTC).
    step(bob, clinician, date(2026, 10, 22), "alternate_days")
    moments = []
    for day in range(21, 30):
        for hour in (5, 7, 9, 21, 23):  # UTC; 23:00 UTC is already tomorrow in Madrid
            moments.append(datetime(2026, 10, day, hour, 30, tzinfo=UTC))

    run_sweeps_at(*moments)

    assert reminders() == [
        (date(2026, 10, 22), datetime(2026, 10, 22, 7, 0, tzinfo=UTC), "sent"),  # 09:00 CEST
        (date(2026, 10, 24), datetime(2026, 10, 24, 7, 0, tzinfo=UTC), "sent"),
        (date(2026, 10, 26), datetime(2026, 10, 26, 8, 0, tzinfo=UTC), "sent"),  # 09:00 CET
        (date(2026, 10, 28), datetime(2026, 10, 28, 8, 0, tzinfo=UTC), "sent"),
        (date(2026, 10, 30), datetime(2026, 10, 30, 8, 0, tzinfo=UTC), "pending"),
    ]
    pushes = [r.json()["message"] for r in http.at(FCM_PATH)]
    pushes = [p for p in pushes if p["data"]["reminder"] == "dose"]
    assert len(pushes) == 4  # once per dose day, however often the sweep ran
    assert {p["token"] for p in pushes} == {"bob-phone"}
    assert {p["data"]["local_date"] for p in pushes} == {
        "2026-10-22",
        "2026-10-24",
        "2026-10-26",
        "2026-10-28",
    }
    assert all("mg" not in p["notification"]["body"] for p in pushes)


def test_weekday_dose_reminders_across_the_march_dst_change(
    bob: Patient, clinician: User, bob_phone: Device, http: HttpServer
) -> None:
    # Madrid moves to summer time on Sunday 2026-03-29 at 02:00 CET (01:00 UTC): 09:00 local
    # is 08:00 UTC before and 07:00 UTC after. Doses on Monday, Wednesday and Friday only.
    RegimenStep.objects.create(
        patient=bob,
        starts_on=date(2026, 3, 23),
        dose_mg=Decimal("5"),
        pattern="weekdays",
        weekdays=[0, 2, 4],
        reason="taper",
        created_by=clinician,
    )
    moments = [
        datetime(2026, 3, day, hour, 30, tzinfo=UTC)
        for day in range(22, 32)
        for hour in (0, 6, 7, 8, 22, 23)
    ]

    run_sweeps_at(*moments)

    assert reminders() == [
        (date(2026, 3, 23), datetime(2026, 3, 23, 8, 0, tzinfo=UTC), "sent"),  # 09:00 CET
        (date(2026, 3, 25), datetime(2026, 3, 25, 8, 0, tzinfo=UTC), "sent"),
        (date(2026, 3, 27), datetime(2026, 3, 27, 8, 0, tzinfo=UTC), "sent"),
        (date(2026, 3, 30), datetime(2026, 3, 30, 7, 0, tzinfo=UTC), "sent"),  # 09:00 CEST
        (date(2026, 4, 1), datetime(2026, 4, 1, 7, 0, tzinfo=UTC), "pending"),
    ]
    pushes = [r.json()["message"] for r in http.at(FCM_PATH)]
    days = sorted(p["data"]["local_date"] for p in pushes if p["data"]["reminder"] == "dose")
    assert days == ["2026-03-23", "2026-03-25", "2026-03-27", "2026-03-30"]  # once each


def test_regenerating_the_schedule_never_resends(
    bob: Patient, clinician: User, bob_phone: Device, http: HttpServer
) -> None:
    first = step(bob, clinician, date(2026, 11, 2))
    run_sweeps_at(datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
    # The regimen is re-entered (a correction): same day, same dose, new row.
    RegimenStep.objects.filter(pk=first.pk).update(superseded_at=timezone.now())
    step(bob, clinician, date(2026, 11, 2))

    run_sweeps_at(
        datetime(2026, 11, 2, 11, 0, tzinfo=UTC), datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    )

    assert len(reminders()) == 1
    assert len(http.at(FCM_PATH)) == 1
    assert NotificationDelivery.objects.filter(purpose="reminder").count() == 1


def test_reminder_due_inside_quiet_hours_waits_until_they_end(
    bob: Patient, clinician: User, bob_phone: Device, http: HttpServer
) -> None:
    ClinicAlertPolicy.objects.create(clinic=bob.clinic, dose_reminder_time=time(6, 0))
    step(bob, clinician, date(2026, 11, 2))
    # Winter in Madrid is UTC+1: 06:00 local is 05:00 UTC, quiet hours end at 07:00 local.
    run_sweeps_at(
        datetime(2026, 11, 2, 5, 10, tzinfo=UTC), datetime(2026, 11, 2, 5, 50, tzinfo=UTC)
    )
    assert reminders() == [(date(2026, 11, 2), datetime(2026, 11, 2, 6, 0, tzinfo=UTC), "pending")]
    assert http.at(FCM_PATH) == []

    run_sweeps_at(datetime(2026, 11, 2, 6, 0, tzinfo=UTC))

    assert reminders()[0][2] == "sent"
    assert len(http.at(FCM_PATH)) == 1


def test_late_sweep_inside_quiet_hours_postpones_to_the_morning(
    bob: Patient, clinician: User, bob_phone: Device, http: HttpServer
) -> None:
    ClinicAlertPolicy.objects.create(clinic=bob.clinic, dose_reminder_time=time(21, 50))
    step(bob, clinician, date(2026, 11, 2))
    run_sweeps_at(datetime(2026, 11, 2, 20, 0, tzinfo=UTC))  # 21:00 local: planned, not due
    # The workers were down at 21:50; they come back at 22:30 local, inside quiet hours.
    run_sweeps_at(datetime(2026, 11, 2, 21, 30, tzinfo=UTC))
    assert reminders()[0] == (date(2026, 11, 2), datetime(2026, 11, 3, 6, 0, tzinfo=UTC), "pending")

    run_sweeps_at(datetime(2026, 11, 3, 6, 1, tzinfo=UTC))

    assert len(http.at(FCM_PATH)) == 1  # at 07:00 local, when quiet hours end
    assert [r[2] for r in reminders()] == ["sent", "pending"]  # today's is due at 21:50


def test_no_dose_reminder_once_the_regimen_is_put_on_hold(
    bob: Patient, clinician: User, bob_phone: Device, http: HttpServer
) -> None:
    step(bob, clinician, date(2026, 11, 1))
    run_sweeps_at(datetime(2026, 11, 2, 6, 0, tzinfo=UTC))  # planned for 09:00 local
    step(bob, clinician, date(2026, 11, 2), "hold")

    run_sweeps_at(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))

    assert reminders()[-1][2] == "skipped"
    assert http.at(FCM_PATH) == []


def test_blood_count_pregnancy_and_check_in_reminders_fall_when_due(
    alice: Patient, clinician: User, http: HttpServer, settings: Any
) -> None:
    Device.objects.create(user=alice.user, platform="android", token="alice-phone")
    start = date(2026, 9, 7)  # a Monday
    step(alice, clinician, start)
    LabResult.objects.create(
        patient=alice,
        test="pregnancy_hcg",
        result="negative",
        collected_at=datetime(2026, 9, 7, 8, 0, tzinfo=UTC),
        entered_by=clinician,
    )
    LabResult.objects.create(
        patient=alice,
        test="anc",
        value=Decimal("2.1"),
        collected_at=datetime(2026, 9, 16, 8, 0, tzinfo=UTC),
        entered_by=clinician,
    )

    run_sweeps_at(*(datetime(2026, 9, d, 10, 0, tzinfo=UTC) for d in range(7, 31)))

    days = lambda kind: [r[0].day for r in reminders(kind)]  # noqa: E731
    # Weekly check-in on the weekday treatment started (Mondays), none on day 0.
    assert days("checkin") == [14, 21, 28]
    # CBC: a week after the start (none recorded), then a week after the count of the 16th.
    assert days("cbc") == [14, 23, 30]
    # Pregnancy test: weekly in the first 4 weeks after the negative test on day 0.
    assert days("pregnancy") == [14, 21, 28]
    assert len(http.at(FCM_PATH)) == PatientReminder.objects.filter(status="sent").count()
    bodies = {r.json()["message"]["notification"]["body"] for r in http.at(FCM_PATH)}
    assert not any("pregnan" in b.lower() for b in bodies)  # lock screens stay discreet


def test_patient_without_device_is_skipped_not_retried(bob: Patient, clinician: User) -> None:
    step(bob, clinician, date(2026, 11, 2))
    run_sweeps_at(
        datetime(2026, 11, 2, 10, 0, tzinfo=UTC), datetime(2026, 11, 2, 11, 0, tzinfo=UTC)
    )
    assert [r[2] for r in reminders()] == ["skipped"]


def test_one_patients_bad_data_does_not_stop_the_others(
    alice: Patient, bob: Patient, clinician: User, bob_phone: Device
) -> None:
    step(alice, clinician, date(2026, 11, 2))
    step(bob, clinician, date(2026, 11, 2))
    RegimenStep.objects.filter(patient=alice).update(pattern="cycle")  # no cycle lengths

    run_sweeps_at(datetime(2026, 11, 2, 10, 0, tzinfo=UTC))

    assert list(PatientReminder.objects.values_list("patient_id", flat=True).distinct()) == [bob.pk]
