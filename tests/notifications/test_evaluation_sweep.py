"""The sweep is set-based and the engine honours per-clinic thresholds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.evaluation import evaluation_sweep, next_local_midnight, patients_evaluate
from notifications.models import Alert, NotificationDelivery
from tests.conftest import make_patient
from tracker.admin import ClinicRuleSettingsForm
from tracker.jobs import patient_changed
from tracker.models import CheckIn, ClinicRuleSettings, LabResult, Patient, RegimenStep

pytestmark = pytest.mark.django_db


def _history(patient, clinician) -> None:
    today = timezone.localdate()
    RegimenStep.objects.create(
        patient=patient,
        starts_on=today - timedelta(days=30),
        dose_mg=5,
        pattern="daily",
        reason="start",
        created_by=clinician,
    )
    for weeks in (3, 2, 1):
        CheckIn.objects.create(
            patient=patient,
            client_id=uuid.uuid4(),
            fingerprint="x",
            answered_at=timezone.now() - timedelta(weeks=weeks),
            local_date=today - timedelta(weeks=weeks),
            itch=1,
            pain=1,
            global_activity=2,
        )


def _patients(clinic, clinician, n: int, start: int) -> list:
    patients = [
        make_patient(f"p{start + i}@sweep.test", clinic, mrn=f"S{start + i}") for i in range(n)
    ]
    for p in patients:
        _history(p, clinician)
    return patients


def _next_day_queries(batch_size: int) -> int:
    """Queries of the sweep that runs after everyone's local midnight (all of them due)."""
    evaluation_sweep(batch_size=batch_size)  # first run writes whatever alerts there are
    tomorrow = time_machine.travel(timezone.now() + timedelta(days=1))
    with tomorrow, CaptureQueriesContext(connection) as ctx:
        evaluation_sweep(batch_size=batch_size)
    Patient.objects.update(evaluate_after=None)  # back to today: everyone due for the next call
    return len(ctx.captured_queries)


def test_sweep_queries_grow_with_batches_not_patients(clinic, clinician, nurse):
    _patients(clinic, clinician, 3, 0)
    three = _next_day_queries(batch_size=500)
    _patients(clinic, clinician, 9, 100)
    twelve = _next_day_queries(batch_size=500)
    assert twelve == three  # one batch either way
    four_batches = _next_day_queries(batch_size=3)
    assert four_batches > twelve  # more batches, more queries: the cost is per batch


def test_sweep_runs_twice_without_new_alerts(clinic, clinician, nurse):
    _patients(clinic, clinician, 4, 0)
    first = evaluation_sweep()
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        second = evaluation_sweep()
    assert first.evaluated == second.evaluated == 4
    assert second.created == []
    assert Alert.objects.count() == len(first.created)


def test_a_sweep_before_the_next_local_midnight_is_one_query(clinic, clinician, nurse):
    _patients(clinic, clinician, 5, 0)
    evaluation_sweep()
    with CaptureQueriesContext(connection) as ctx:
        again = evaluation_sweep()
    assert again.evaluated == 0
    assert len(ctx.captured_queries) == 1


def test_a_patient_is_due_again_at_their_own_local_midnight(clinic, clinician, nurse):
    # 22:30 UTC on a winter day: 23:30 in Madrid, 17:30 in New York.
    with time_machine.travel(datetime(2026, 1, 14, 22, 30, tzinfo=UTC), tick=False) as clock:
        madrid = make_patient("m@sweep.test", clinic, mrn="M1", timezone="Europe/Madrid")
        new_york = make_patient("n@sweep.test", clinic, mrn="N1", timezone="America/New_York")
        for p in (madrid, new_york):
            _history(p, clinician)
        assert evaluation_sweep().evaluated == 2
        clock.move_to(datetime(2026, 1, 14, 23, 30, tzinfo=UTC))  # 00:30 in Madrid
        assert _swept_ids() == {madrid.pk}
        clock.move_to(datetime(2026, 1, 15, 5, 0, tzinfo=UTC))  # 00:00 in New York
        assert _swept_ids() == {new_york.pk}


def _swept_ids() -> set[int]:
    before = dict(Patient.objects.values_list("pk", "evaluated_at"))
    evaluation_sweep()
    after = dict(Patient.objects.values_list("pk", "evaluated_at"))
    return {pk for pk, at in after.items() if at != before[pk]}


def test_a_changed_patient_is_swept_at_once(clinic, clinician, nurse):
    patient = _patients(clinic, clinician, 1, 0)[0]
    evaluation_sweep()
    _anc(patient, nurse, "0.9")
    patient_changed(patient.pk)  # as the lab service does; its task is lost here
    outcome = evaluation_sweep()
    assert outcome.evaluated == 1
    assert Alert.objects.filter(patient=patient, rule="cytopenia").exists()


@pytest.mark.parametrize(
    ("moment", "tz", "expected"),
    [
        # The night the clocks go forward in Madrid (2026-03-29): midnight is still 23:00 UTC.
        (datetime(2026, 3, 28, 12, 0, tzinfo=UTC), "Europe/Madrid", datetime(2026, 3, 28, 23, 0)),
        # The day after it, midnight is 22:00 UTC (summer time).
        (datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "Europe/Madrid", datetime(2026, 3, 29, 22, 0)),
        # The night the clocks go back in New York (2026-11-01): 04:00 UTC, then 05:00 UTC.
        (datetime(2026, 10, 31, 12, 0, tzinfo=UTC), "America/New_York", datetime(2026, 11, 1, 4)),
        (datetime(2026, 11, 1, 12, 0, tzinfo=UTC), "America/New_York", datetime(2026, 11, 2, 5)),
        # Just before midnight the next midnight is a minute away, not a day.
        (datetime(2026, 6, 1, 21, 59, tzinfo=UTC), "Europe/Madrid", datetime(2026, 6, 1, 22, 0)),
    ],
)
def test_next_local_midnight_follows_the_wall_clock(moment, tz, expected):
    assert next_local_midnight(moment, tz) == expected.replace(tzinfo=UTC)


def _anc(patient, nurse, value: str) -> None:
    LabResult.objects.create(
        patient=patient,
        test="anc",
        value=Decimal(value),
        collected_at=timezone.now() - timedelta(hours=2),
        entered_by=nurse,
    )


def test_clinic_thresholds_override_the_defaults(
    clinic, other_clinic, clinician, nurse, other_clinician
):
    ours = _patients(clinic, clinician, 1, 0)[0]
    theirs = _patients(other_clinic, other_clinician, 1, 50)[0]
    _anc(ours, nurse, "1.7")
    _anc(theirs, nurse, "1.7")
    ClinicRuleSettings.objects.create(clinic=clinic, overrides={"anc_warning": "1.8"})
    patients_evaluate([ours.pk, theirs.pk])
    assert Alert.objects.filter(patient=ours, rule="cytopenia").exists()
    assert not Alert.objects.filter(patient=theirs, rule="cytopenia").exists()


@pytest.mark.parametrize(
    ("overrides", "valid"),
    [
        ({"anc_warning": "1.8"}, True),
        ({"no_such_threshold": 1}, False),
        ({"anc_warning": "-1"}, False),
        ({"taper_watch_days": "soon"}, False),
    ],
)
def test_admin_validates_threshold_overrides(clinic, overrides, valid):
    form = ClinicRuleSettingsForm(
        data={"clinic": clinic.pk, "overrides": overrides and __import__("json").dumps(overrides)}
    )
    assert form.is_valid() is valid


def test_new_thresholds_saved_in_the_admin_reach_unchanged_patients(
    client, clinic, other_clinic, clinician, nurse, other_clinician, django_user_model
):
    ours = _patients(clinic, clinician, 1, 0)[0]
    theirs = _patients(other_clinic, other_clinician, 1, 50)[0]
    _anc(ours, nurse, "1.7")
    _anc(theirs, nurse, "1.7")
    evaluation_sweep()
    assert not Alert.objects.filter(rule="cytopenia").exists()  # 1.7 is above the default 1.5

    admin = django_user_model.objects.create_superuser("root@first.test", "pw-for-admin-42")
    client.force_login(admin)
    response = client.post(
        reverse("admin:tracker_clinicrulesettings_add"),
        {"clinic": clinic.pk, "overrides": '{"anc_warning": "1.8"}'},
    )
    assert response.status_code == 302, response.content[:500]

    outcome = evaluation_sweep()  # same day, nobody's data changed: only the clinic is due
    assert outcome.evaluated == 1
    assert Alert.objects.filter(patient=ours, rule="cytopenia").exists()
    assert not Alert.objects.filter(patient=theirs, rule="cytopenia").exists()


def test_evaluation_starts_the_escalation_clock_and_restarts_it_on_a_raise(
    clinic, clinician, nurse
):
    patient = _patients(clinic, clinician, 1, 0)[0]
    _anc(patient, nurse, "1.2")  # grade 2: warning
    with time_machine.travel(timezone.now(), tick=False) as clock:
        patients_evaluate([patient.pk])
        alert = Alert.objects.get(patient=patient, rule="cytopenia")
        assert (alert.severity, alert.routed_at) == ("warning", timezone.now())
        assert alert.deliveries.filter(purpose="alert", severity="warning").exists()

        clock.shift(timedelta(hours=3))
        _anc(patient, nurse, "0.8")  # below the hold threshold: urgent
        patient_changed(patient.pk)  # as the lab service does
        patients_evaluate([patient.pk])
        alert.refresh_from_db()
        assert (alert.severity, alert.routed_at) == ("urgent", timezone.now())
        assert alert.deliveries.filter(purpose="alert", severity="urgent").exists()


class _Boom(Exception):
    pass


def test_an_alert_rolled_back_takes_its_deliveries_and_their_tasks_with_it(
    clinic, clinician, nurse, django_capture_on_commit_callbacks
):
    patient = _patients(clinic, clinician, 1, 0)[0]
    _anc(patient, nurse, "0.8")  # urgent: the nurse is told at once, by e-mail at least
    patient_changed(patient.pk)
    written: list[int] = []

    def evaluate_then_fail() -> None:
        with transaction.atomic():
            patients_evaluate([patient.pk])
            written.append(NotificationDelivery.objects.count())
            raise _Boom  # the transaction fails after the alert and its outbox rows

    with django_capture_on_commit_callbacks() as published, pytest.raises(_Boom):
        evaluate_then_fail()
    assert written[0] > 0
    assert not Alert.objects.exists()
    assert not NotificationDelivery.objects.exists()
    assert published == []  # no dispatch task for rows that never committed
    patient.refresh_from_db()
    assert patient.change_seq > patient.evaluated_seq  # still due: the sweep tries again


def test_setting_reproductive_potential_raises_the_pregnancy_alerts_at_once(
    clinic, clinician, nurse, client_for
):
    patient = make_patient("rp@sweep.test", clinic, mrn="RP1", reproductive_potential=False)
    _history(patient, clinician)  # on treatment for 30 days, no pregnancy test on file
    evaluation_sweep()
    assert not Alert.objects.filter(patient=patient, rule="pregnancy_risk").exists()

    response = client_for(clinician).patch(
        f"/api/v1/patients/{patient.public_id}/", {"reproductive_potential": True}, format="json"
    )
    assert response.status_code == 200, response.content

    outcome = evaluation_sweep()  # the same day: due because a field the rules read changed
    assert outcome.evaluated == 1
    assert Alert.objects.filter(patient=patient, rule="pregnancy_risk").exists()


def test_deleting_a_clinics_thresholds_re_evaluates_it_with_the_defaults(
    client, clinic, clinician, nurse, django_user_model
):
    patient = _patients(clinic, clinician, 1, 0)[0]
    _anc(patient, nurse, "1.7")
    rules = ClinicRuleSettings.objects.create(clinic=clinic, overrides={"anc_warning": "1.8"})
    evaluation_sweep()
    alert = Alert.objects.get(patient=patient, rule="cytopenia")  # 1.7 < 1.8
    alert.status = Alert.Status.RESOLVED
    alert.save()

    admin = django_user_model.objects.create_superuser("root@first.test", "pw-for-admin-42")
    client.force_login(admin)
    response = client.post(
        reverse("admin:tracker_clinicrulesettings_delete", args=[rules.pk]), {"post": "yes"}
    )
    assert response.status_code == 302, response.content[:500]

    assert evaluation_sweep().evaluated == 1  # same day, but the clinic's rules changed
