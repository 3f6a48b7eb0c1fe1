"""The sweep is set-based and the engine honours per-clinic thresholds."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.evaluation import evaluation_sweep, patients_evaluate
from notifications.models import Alert
from tests.conftest import make_patient
from tracker.admin import ClinicRuleSettingsForm
from tracker.models import CheckIn, ClinicRuleSettings, LabResult, RegimenStep

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


def _steady_queries(batch_size: int) -> int:
    evaluation_sweep(batch_size=batch_size)  # first run writes whatever alerts there are
    with CaptureQueriesContext(connection) as ctx:
        evaluation_sweep(batch_size=batch_size)
    return len(ctx.captured_queries)


def test_sweep_queries_grow_with_batches_not_patients(clinic, clinician, nurse):
    _patients(clinic, clinician, 3, 0)
    three = _steady_queries(batch_size=500)
    _patients(clinic, clinician, 9, 100)
    twelve = _steady_queries(batch_size=500)
    assert twelve == three  # one batch either way
    four_batches = _steady_queries(batch_size=3)
    assert four_batches > twelve  # more batches, more queries: the cost is per batch


def test_sweep_runs_twice_without_new_alerts(clinic, clinician, nurse):
    _patients(clinic, clinician, 4, 0)
    first = evaluation_sweep()
    second = evaluation_sweep()
    assert first.evaluated == second.evaluated == 4
    assert second.created == []
    assert Alert.objects.count() == len(first.created)


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
