"""The alert detail and the patient page run the same number of queries however much
history the patient has: every collection is one query (or a fixed few), never one per row."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from notifications.models import Alert, AlertEvent
from tests.dashboard.builders import at_noon, make_alert
from tests.dashboard.conftest import BrowserFor
from tracker.models import CheckIn, ClasiAssessment, LabResult, LesionPhoto, Patient, User

pytestmark = pytest.mark.django_db


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _more_history(patient: Patient, *, nurse: User, clinician: User, today: Any, n: int) -> None:
    """n more of everything the two pages show: check-ins, labs, CLASI, photos, alerts, events."""
    for i in range(n):
        day = today - timedelta(days=2 + i)
        CheckIn.objects.create(
            patient=patient,
            client_id=uuid.uuid4(),
            fingerprint="more",
            answered_at=at_noon(day),
            local_date=day,
            symptoms=[{"term": "nausea", "frequency": 1, "severity": 1, "composite_grade": 1}],
            itch=2,
            pain=1,
            global_activity=2,
        )
        for test, value in (("anc", "1.8"), ("platelets", "160"), ("wbc", "4.0")):
            LabResult.objects.create(
                patient=patient,
                test=test,
                value=Decimal(value),
                unit="10^9/L",
                collected_at=at_noon(day),
                entered_by=nurse,
            )
        ClasiAssessment.objects.create(
            patient=patient,
            assessed_on=day,
            areas={"arms": {"erythema": 1}},
            activity_score=1,
            damage_score=0,
            activity_band="mild",
            assessed_by=clinician,
        )
        LesionPhoto.objects.create(
            patient=patient,
            client_id=uuid.uuid4(),
            body_area=("face", "arms", "legs", "back")[i % 4],
            taken_at=at_noon(day),
            status=LesionPhoto.Status.READY,
            image=f"photos/more-{i}.jpg",
            thumbnail=f"photos/more-{i}-t.jpg",
            width=400,
            height=300,
            sha256="0" * 64,
            upload_sha256=f"{i:064d}",
            size_bytes=1000,
            uploaded_by=patient.user,
        )
        other = make_alert(patient, rule="insomnia", severity="info", assigned_to=nurse)
        AlertEvent.objects.create(alert=other, kind=AlertEvent.Kind.ACKNOWLEDGED, actor=nurse)


@pytest.mark.parametrize("page", ["alert", "patient"])
def test_detail_pages_do_not_grow_with_the_patients_history(
    history: dict[str, Any],
    alice: Patient,
    nurse: User,
    clinician: User,
    browser_for: BrowserFor,
    page: str,
) -> None:
    alert: Alert = history["alert"]
    url = (
        f"/dashboard/alerts/{alert.public_id}/"
        if page == "alert"
        else f"/dashboard/patients/{alice.public_id}/"
    )
    client = browser_for(clinician)
    client.get(url)  # warm caches (session, content types) outside the measurement
    few = _queries(client, url)

    _more_history(alice, nurse=nurse, clinician=clinician, today=history["today"], n=12)
    for _ in range(10):  # the alert's own history grows too
        AlertEvent.objects.create(alert=alert, kind=AlertEvent.Kind.COMMENTED, actor=nurse)
    many = _queries(client, url)

    assert many == few, f"{few} queries before, {many} with 12 more of everything"
