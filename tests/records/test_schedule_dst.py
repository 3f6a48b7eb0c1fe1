"""Schedules per local date across daylight-saving changes, and adherence for a constructed week.

Europe/Madrid leaves summer time on 2026-10-25 (+02:00 -> +01:00); America/New_York enters
it on 2026-03-08 (-05:00 -> -04:00) and leaves it on 2026-11-01. A dose stays at 09:00 on
the wall clock and on its local date; only its UTC instant moves.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.conftest import make_patient
from tests.records.factories import ClientFor, step, url
from tracker.models import Clinic, Patient, User

PATTERNS: dict[str, dict[str, Any]] = {
    "daily": {"pattern": "daily"},
    "alternate_days": {"pattern": "alternate_days"},
    "weekdays": {"pattern": "weekdays", "weekdays": [0, 2, 4, 6]},
    "cycle": {"pattern": "cycle", "cycle_days_on": 3, "cycle_length": 5},
    "hold": {"pattern": "hold"},
    "stopped": {"pattern": "stopped"},
}

# zone, first date, last date, (date, UTC offset in hours) before and after the change
CHANGES = {
    "madrid-autumn": ("Europe/Madrid", date(2026, 10, 21), date(2026, 10, 29), 2, 1),
    "new-york-spring": ("America/New_York", date(2026, 3, 4), date(2026, 3, 12), -5, -4),
    "new-york-autumn": ("America/New_York", date(2026, 10, 28), date(2026, 11, 5), -4, -5),
}
CHANGE_DAY = {
    "madrid-autumn": date(2026, 10, 25),
    "new-york-spring": date(2026, 3, 8),
    "new-york-autumn": date(2026, 11, 1),
}


def expected_dose_day(fields: dict[str, Any], starts_on: date, day: date) -> bool:
    offset = (day - starts_on).days
    match fields["pattern"]:
        case "daily":
            return True
        case "alternate_days":
            return offset % 2 == 0
        case "weekdays":
            return day.weekday() in fields["weekdays"]
        case "cycle":
            return offset % fields["cycle_length"] < fields["cycle_days_on"]
    return False


@pytest.fixture
def patient_in(clinic: Clinic, nurse: User) -> Any:
    def build(zone: str) -> Patient:
        return make_patient("zoe@patient.test", clinic, mrn="Z001", timezone=zone)

    return build


@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_schedule_across_a_daylight_saving_change(
    client_for: ClientFor, nurse: User, patient_in: Any, pattern: str, change: str
) -> None:
    zone, first, last, before, after = CHANGES[change]
    patient = patient_in(zone)
    fields = PATTERNS[pattern]
    starts_on = first - timedelta(days=3)
    dose = "0" if pattern in ("hold", "stopped") else "5"
    step(patient, starts_on, dose, reason="start", **fields)

    response = client_for(nurse).get(
        url("patients", patient.public_id, "schedule"), {"from": str(first), "to": str(last)}
    )

    assert response.status_code == 200, response.content
    days = response.json()
    assert [d["date"] for d in days] == [
        str(first + timedelta(days=n)) for n in range((last - first).days + 1)
    ]
    for d in days:
        day = date.fromisoformat(d["date"])
        is_dose_day = expected_dose_day(fields, starts_on, day)
        assert d["is_dose_day"] is is_dose_day, d
        assert d["pattern"] == fields["pattern"]
        if not is_dose_day:
            assert (Decimal(d["dose_mg"]), d["due_at"]) == (0, None)
            continue
        assert Decimal(d["dose_mg"]) == 5
        due = datetime.fromisoformat(d["due_at"])
        assert (due.date(), due.hour, due.minute) == (day, 9, 0)
        hours = before if day < CHANGE_DAY[change] else after
        assert due.utcoffset() == timedelta(hours=hours), d
        assert due == datetime(day.year, day.month, day.day, 9, tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize(
    ("change", "gap_hours"),
    [("madrid-autumn", 25), ("new-york-spring", 23), ("new-york-autumn", 25)],
)
def test_daily_doses_keep_the_wall_clock_so_the_utc_gap_changes(
    client_for: ClientFor, nurse: User, patient_in: Any, change: str, gap_hours: int
) -> None:
    zone, *_ = CHANGES[change]
    patient = patient_in(zone)
    step(patient, date(2026, 1, 1), "5")
    change_day = CHANGE_DAY[change]

    days = (
        client_for(nurse)
        .get(
            url("patients", patient.public_id, "schedule"),
            {
                "from": str(change_day - timedelta(days=1)),
                "to": str(change_day + timedelta(days=1)),
            },
        )
        .json()
    )

    instants = [datetime.fromisoformat(d["due_at"]).astimezone(UTC) for d in days]
    assert instants[1] - instants[0] == timedelta(hours=gap_hours)
    assert instants[2] - instants[1] == timedelta(hours=24)


def test_a_taper_on_the_change_day_takes_effect_on_that_local_date(
    client_for: ClientFor, nurse: User, patient_in: Any
) -> None:
    patient = patient_in("Europe/Madrid")
    step(patient, date(2026, 10, 1), "10")
    step(patient, date(2026, 10, 25), "5", "alternate_days", reason="taper")

    days = (
        client_for(nurse)
        .get(
            url("patients", patient.public_id, "schedule"),
            {"from": "2026-10-23", "to": "2026-10-28"},
        )
        .json()
    )

    assert [(d["date"][-2:], d["dose_mg"], d["pattern"]) for d in days] == [
        ("23", "10.00", "daily"),
        ("24", "10.00", "daily"),
        ("25", "5.00", "alternate_days"),
        ("26", "0", "alternate_days"),
        ("27", "5.00", "alternate_days"),
        ("28", "0", "alternate_days"),
    ]


def test_a_patient_sees_their_own_schedule_before_the_first_step(
    client_for: ClientFor, alice: Patient
) -> None:
    step(alice, date(2026, 11, 10), "5")

    days = (
        client_for(alice.user)
        .get(
            url("patients", alice.public_id, "schedule"), {"from": "2026-11-08", "to": "2026-11-10"}
        )
        .json()
    )

    assert [(d["is_dose_day"], d["pattern"]) for d in days] == [
        (False, None),
        (False, None),
        (True, "daily"),
    ]


@pytest.mark.parametrize(
    ("zone", "moment", "local_today"),
    [
        # 23:30 UTC on the 24th is already the 25th in Madrid, still the 24th in New York.
        ("Europe/Madrid", datetime(2026, 10, 24, 22, 30, tzinfo=UTC), date(2026, 10, 25)),
        ("America/New_York", datetime(2026, 10, 24, 22, 30, tzinfo=UTC), date(2026, 10, 24)),
        ("America/New_York", datetime(2026, 11, 1, 3, 30, tzinfo=UTC), date(2026, 10, 31)),
    ],
)
def test_default_schedule_starts_on_the_patients_local_today(
    client_for: ClientFor, patient_in: Any, zone: str, moment: datetime, local_today: date
) -> None:
    patient = patient_in(zone)
    step(patient, date(2026, 1, 1), "5")

    with time_machine.travel(moment, tick=False):
        days = client_for(patient.user).get(url("patients", patient.public_id, "schedule")).json()

    assert days[0]["date"] == str(local_today)
    assert len(days) == 28


@pytest.mark.parametrize(
    ("zone", "allowed"), [("Europe/Madrid", True), ("America/New_York", False)]
)
def test_a_dose_belongs_to_the_patients_local_date(
    client_for: ClientFor, patient_in: Any, zone: str, allowed: bool
) -> None:
    patient = patient_in(zone)
    step(patient, date(2026, 1, 1), "5")
    body = {
        "client_id": "7d6c5b4a-3928-4716-8a5b-4c3d2e1f0a9b",
        "scheduled_date": "2026-10-25",
        "status": "taken",
    }

    with time_machine.travel(datetime(2026, 10, 24, 22, 30, tzinfo=UTC), tick=False):
        response = client_for(patient.user).post(url("dose-logs"), body, format="json")

    assert response.status_code == (201 if allowed else 400), response.content
    if allowed:
        assert Decimal(response.json()["expected_dose_mg"]) == 5


# --- adherence -------------------------------------------------------------------------------

# Mon 16 .. Sun 22 November 2026; doses due Mon, Wed, Thu, Fri and Sun, 5 mg.
WEEK = {"from": "2026-11-16", "to": "2026-11-22"}
DOSE_DAYS = [0, 2, 3, 4, 6]


def log(client: Any, day: str, status: str, dose_mg: str | None = None, n: int = 0) -> Any:
    body = {
        "client_id": f"00000000-0000-4000-8000-{day.replace('-', '')}{n:04d}",
        "scheduled_date": day,
        "status": status,
    }
    if dose_mg is not None:
        body["dose_mg"] = dose_mg
    response = client.post(url("dose-logs"), body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def log_week(client: Any, until: date) -> None:
    entries = [
        ("2026-11-16", "taken", None),
        ("2026-11-17", "taken", "5"),  # an off-day: extra
        ("2026-11-18", "taken", None),  # corrected to missed below
        ("2026-11-20", "skipped", None),
        ("2026-11-22", "taken", "10"),  # above the prescribed 5 mg
    ]
    for day, status, dose in entries:
        if date.fromisoformat(day) <= until:
            first = log(client, day, status, dose)
            if day == "2026-11-18":
                response = client.patch(
                    url("dose-logs", first["id"]),
                    {"client_id": "00000000-0000-4000-8000-000000000018", "status": "missed"},
                    format="json",
                )
                assert response.status_code == 201, response.content


@pytest.fixture
def week_patient(alice: Patient) -> Patient:
    step(alice, date(2026, 11, 1), "5", "weekdays", weekdays=DOSE_DAYS)
    return alice


def test_adherence_states_and_summary_for_a_week(
    client_for: ClientFor, week_patient: Patient, nurse: User
) -> None:
    with time_machine.travel(datetime(2026, 11, 28, 10, tzinfo=UTC), tick=False):
        log_week(client_for(week_patient.user), until=date(2026, 11, 22))
        response = client_for(nurse).get(url("patients", week_patient.public_id, "adherence"), WEEK)

    assert response.status_code == 200, response.content
    body = response.json()
    days = [
        (d["date"][-2:], d["state"], d["expected_mg"], d["logged_mg"], d["above_prescribed"])
        for d in body["days"]
    ]
    assert days == [
        ("16", "taken", "5.00", "5.00", False),
        ("17", "extra", "0", "5.00", False),
        ("18", "missed", "5.00", None, False),
        ("19", "not_logged", "5.00", None, False),
        ("20", "skipped", "5.00", None, False),
        ("21", "no_dose", "0", None, False),
        ("22", "taken", "5.00", "10.00", True),
    ]
    assert body["summary"] == {
        "expected_doses": 5,
        "taken": 2,
        "missed": 1,
        "skipped": 1,
        "not_logged": 1,
        "extra_doses": 1,
        "above_prescribed": 1,
        "share_taken": "0.400",
        "longest_missed_streak": 3,
        "current_missed_streak": 0,
    }


def test_adherence_leaves_days_after_the_patients_today_out(
    client_for: ClientFor, week_patient: Patient
) -> None:
    # Friday 20 November, 12:00 in Madrid: the weekend is still to come.
    with time_machine.travel(datetime(2026, 11, 20, 11, tzinfo=UTC), tick=False):
        client = client_for(week_patient.user)
        log_week(client, until=date(2026, 11, 20))
        body = client.get(url("patients", week_patient.public_id, "adherence"), WEEK).json()

    assert [d["state"] for d in body["days"]] == [
        "taken",
        "extra",
        "missed",
        "not_logged",
        "skipped",
        "upcoming",
        "upcoming",
    ]
    summary = body["summary"]
    assert (summary["expected_doses"], summary["taken"], summary["share_taken"]) == (4, 1, "0.250")
    assert (summary["longest_missed_streak"], summary["current_missed_streak"]) == (3, 3)


def test_adherence_has_one_day_per_local_date_across_the_change(
    client_for: ClientFor, alice: Patient
) -> None:
    step(alice, date(2026, 10, 1), "5", "alternate_days")

    body = (
        client_for(alice.user)
        .get(
            url("patients", alice.public_id, "adherence"),
            {"from": "2026-10-23", "to": "2026-10-27"},
        )
        .json()
    )

    assert [d["date"] for d in body["days"]] == [f"2026-10-{n}" for n in range(23, 28)]
    assert [d["is_dose_day"] for d in body["days"]] == [True, False, True, False, True]
    assert body["summary"]["expected_doses"] == 3
    assert body["summary"]["not_logged"] == 3
