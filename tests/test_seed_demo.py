"""seed_demo: study-like history, idempotent, working logins, and the synthetic cohort.

The demo mirrors Cortés-Hernández 2012 (DESIGN.md section 3); every stored grade, total and
expected dose must equal what the write services would have computed.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db.models import Model
from django.test import RequestFactory
from django.utils import timezone

from tracker import clasi, grading, schedules
from tracker.demo_history import COHORT_CLINIC
from tracker.detection.engine import evaluate
from tracker.models import (
    AuditEvent,
    CareTeamAssignment,
    CheckIn,
    ClasiAssessment,
    Clinic,
    DoseLog,
    LabResult,
    LesionPhoto,
    Patient,
    Prescription,
    RegimenStep,
    StaffMembership,
    User,
)
from tracker.services.records import as_schedule_steps
from tracker.timeline_loader import timelines_load

pytestmark = pytest.mark.django_db

PASSWORD = "x-demo-pass-123"
MODELS: tuple[type[Model], ...] = (
    User,
    Clinic,
    StaffMembership,
    Patient,
    CareTeamAssignment,
    RegimenStep,
    Prescription,
    DoseLog,
    CheckIn,
    LabResult,
    ClasiAssessment,
    LesionPhoto,
    AuditEvent,
)
GI_TERMS = ("nausea", "vomiting", "diarrhea", "abdominal_pain")


def _counts() -> dict[str, int]:
    return {m.__name__: m._default_manager.count() for m in MODELS}


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _today(patient: Patient) -> date:
    return schedules.local_date(timezone.now(), patient.timezone)


def _patient(email: str) -> Patient:
    return Patient.objects.get(user__email=email)


@pytest.fixture
def demo() -> str:
    return _seed("--password", PASSWORD)


def test_second_run_changes_nothing(demo: str) -> None:
    before = _counts()
    changed = dict(Patient.objects.values_list("pk", "change_seq"))
    assert before["DoseLog"] > 1000

    _seed("--password", PASSWORD)

    assert _counts() == before
    assert dict(Patient.objects.values_list("pk", "change_seq")) == changed


def test_every_demo_login_authenticates(demo: str) -> None:
    emails = re.findall(r"^\s+(\S+@\S+)\s", demo, flags=re.MULTILINE)
    assert len(emails) == 6 + 13
    for email in emails:
        request = RequestFactory().post("/")
        user = authenticate(request, username=email, password=PASSWORD)
        assert user is not None, email
        assert user.email == email
    wrong = authenticate(RequestFactory().post("/"), username=emails[0], password="nope-nope")
    assert wrong is None


def test_demo_patients_have_months_of_history_ending_today(demo: str) -> None:
    long_enough = 0
    for patient in Patient.objects.all():
        today = _today(patient)
        first = patient.steps.order_by("starts_on").first()
        last_check_in = patient.check_ins.order_by("-answered_at").first()
        assert first is not None, patient
        assert last_check_in is not None, patient
        assert first.starts_on <= today - timedelta(days=90)
        assert patient.check_ins.filter(local_date__gt=today).count() == 0
        assert patient.doses.filter(scheduled_date__gt=today).count() == 0
        assert patient.changed_at is not None
        assert patient.change_seq >= 1
        if (today - last_check_in.local_date).days <= 7 and patient.doses.count() > 60:
            long_enough += 1
    assert Patient.objects.count() == 13
    assert long_enough >= 12


def test_gi_discontinuation_at_week_1(demo: str) -> None:
    pere = _patient("patient5@demo.example")
    start = pere.steps.order_by("starts_on").first().starts_on
    stop = pere.steps.get(pattern="stopped")
    assert stop.reason in {"hold_toxicity", "withdrawal"}
    assert (stop.starts_on - start).days <= 10
    assert pere.status == Patient.Status.DISCONTINUED
    week_1 = pere.check_ins.filter(
        local_date__gte=start + timedelta(days=5), local_date__lte=start + timedelta(days=9)
    )
    grades = {(item["term"], item["composite_grade"]) for c in week_1 for item in c.symptoms} & {
        (t, 3) for t in GI_TERMS
    }
    assert {"nausea", "diarrhea"} <= {term for term, _ in grades}
    assert not pere.doses.filter(scheduled_date__gte=stop.starts_on).exists()


def test_grade_2_neutropenia_then_recovery(demo: str) -> None:
    low = LabResult.objects.filter(test="anc", ctcae_grade=2).select_related("patient")
    assert low.exists()
    lab = low.first()
    assert lab.value < Decimal("1.5")
    later = LabResult.objects.filter(
        patient=lab.patient, test="anc", collected_at__gt=lab.collected_at
    ).order_by("collected_at")
    assert later.last().ctcae_grade <= 1


def test_study_course_response_tapers_relapses(demo: str) -> None:
    patients = list(Patient.objects.all())
    reached_cr = [p for p in patients if p.clasi.filter(activity_score=0).exists()]
    assert len(reached_cr) >= 9  # most patients (the study: 12/14)
    assert RegimenStep.objects.filter(dose_mg=10, reason="escalation").count() >= 2
    tapered = RegimenStep.objects.filter(reason__in=["taper", "withdrawal"])
    assert {s.pattern for s in tapered} >= {"alternate_days", "weekdays", "stopped"}
    assert all(s.weekdays == [0, 2, 4] for s in tapered.filter(pattern="weekdays"))
    relapsed = [p for p in reached_cr if _lost_cr_after_reduction(p)]
    assert len(relapsed) >= 0.6 * len(reached_cr)


def _lost_cr_after_reduction(patient: Patient) -> bool:
    """A CLASI > 0 after a CLASI 0, 2-8 weeks after a taper or withdrawal."""
    scores = list(patient.clasi.order_by("assessed_on"))
    reductions = [s.starts_on for s in patient.steps.filter(reason__in=["taper", "withdrawal"])]
    return any(
        before.activity_score == 0
        and after.activity_score > 0
        and any(14 <= (after.assessed_on - r).days <= 70 for r in reductions)
        for before, after in itertools.pairwise(scores)
    )


def test_ana_is_in_the_taper_watch_window_with_a_possible_relapse(demo: str) -> None:
    ana = _patient("patient1@demo.example")
    today = _today(ana)
    recent = ana.steps.filter(
        reason__in=["taper", "withdrawal"], starts_on__gte=today - timedelta(weeks=8)
    )
    assert recent.exists()
    assert ana.reproductive_potential
    assert ana.cle_subtype == "dle"
    assert ana.labs.filter(test="pregnancy_hcg", result="negative").count() >= 5

    findings = evaluate(timelines_load([ana])[ana.pk], today)

    relapse = [f for f in findings if f.rule == "possible_relapse"]
    assert relapse
    assert relapse[0].severity == "urgent"
    assert relapse[0].evidence["in_taper_watch_window"] is True
    assert {f.rule for f in findings} & {"pregnancy_risk", "monitoring_due", "cytopenia"} == set()


def test_stored_fields_are_what_the_services_compute(demo: str) -> None:
    steps: dict[int, list[schedules.Step]] = defaultdict(list)
    for patient in Patient.objects.all():
        steps[patient.pk] = as_schedule_steps(list(patient.steps.all()))
    for log in DoseLog.objects.all():
        assert len(log.fingerprint) == 64
        assert log.expected_dose_mg == schedules.dose_on(steps[log.patient_id], log.scheduled_date)
        assert log.expected_dose_mg > 0
        assert (log.dose_mg is not None) == (log.status == "taken")
    for check_in in CheckIn.objects.select_related("patient"):
        assert check_in.local_date == schedules.local_date(
            check_in.answered_at, check_in.patient.timezone
        )
        for item in check_in.symptoms:
            answers = {k: v for k, v in item.items() if k not in {"term", "composite_grade"}}
            assert item["composite_grade"] == grading.composite_grade(item["term"], answers)
    for lab in LabResult.objects.exclude(test="pregnancy_hcg"):
        assert lab.ctcae_grade == grading.ctcae_grade(lab.test, lab.value)
    for score in ClasiAssessment.objects.all():
        result = clasi.score(
            score.areas,
            scalp_scarring=score.scalp_scarring,
            dyspigmentation_lasting=score.dyspigmentation_lasting,
        )
        assert (score.activity_score, score.damage_score) == (result.activity, result.damage)
        assert score.activity_band == result.band
    assert not Prescription.objects.filter(days_supply__gt=28).exists()


def _cohort(n: int) -> str:
    return _seed("--patients", str(n), "--days", "30", "--password", PASSWORD)


def test_cohort_is_built_once_and_grows_on_demand() -> None:
    assert "50 new patients" in _cohort(50)
    cohort = Patient.objects.filter(clinic__name=COHORT_CLINIC)
    assert cohort.count() == 50
    assert not cohort.filter(steps__isnull=True).exists()
    assert not cohort.filter(doses__isnull=True).exists()
    assert not cohort.filter(check_ins__isnull=True).exists()
    assert not cohort.filter(care_team__isnull=True).exists()
    hashes = set(User.objects.filter(email__endswith="@cohort.example").values_list("password"))
    assert len(hashes) == 1  # hashed once, shared by every cohort login
    counts = _counts()

    assert "0 new patients" in _cohort(50)
    assert _counts() == counts

    assert "10 new patients" in _cohort(60)
    assert cohort.count() == 60
    assert list(cohort.order_by("-mrn").values_list("mrn", flat=True)[:1]) == ["COH000060"]
    request = RequestFactory().post("/")
    assert authenticate(request, username="coh000060@cohort.example", password=PASSWORD)
    assert not DoseLog.objects.filter(fingerprint="").exists()
    assert not DoseLog.objects.filter(expected_dose_mg__isnull=True).exists()


def test_building_a_cohort_shows_a_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    assert "30 new patients" in _cohort(30)
    progress = capsys.readouterr().err
    assert "Cohort" in progress
    assert "30/30" in progress  # the bar reached the end
    assert "patient/s" in progress  # with its rate
