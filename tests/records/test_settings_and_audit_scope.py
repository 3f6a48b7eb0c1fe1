"""Lab reference limits from settings, strict CLASI items, and whose data a staff list read."""

from __future__ import annotations

from decimal import Decimal

from django.test import override_settings

from tests.records.factories import API
from tracker.models import AuditEvent


def _anc(client, patient, value: str):
    return client.post(
        f"{API}lab-results/",
        {
            "patient": str(patient.public_id),
            "test": "anc",
            "value": value,
            "collected_at": "2026-11-20T08:00:00Z",
        },
        format="json",
    )


def test_lab_grade_follows_the_configured_lower_limit(client_for, nurse, alice):
    client = client_for(nurse)
    assert _anc(client, alice, "1.9").json()["ctcae_grade"] == 1  # default LLN 2.0
    with override_settings(
        LAB_LOWER_LIMITS={
            "anc": Decimal("1.8"),
            "platelets": Decimal("150"),
            "wbc": Decimal("4.0"),
            "hemoglobin": Decimal("12.0"),
        }
    ):
        assert _anc(client, alice, "1.9").json()["ctcae_grade"] == 0


def test_unknown_clasi_item_is_refused(client_for, clinician, alice):
    response = client_for(clinician).post(
        f"{API}clasi-assessments/",
        {
            "patient": str(alice.public_id),
            "assessed_on": "2026-11-20",
            "areas": {"face": {"erythema": 1, "redness": 2}},
        },
        format="json",
    )
    assert response.status_code == 400
    assert any("redness" in (e["attr"] or "") for e in response.json()["errors"])


def test_staff_list_filtered_by_patient_audits_that_patient(client_for, nurse, alice):
    response = client_for(nurse).get(f"{API}dose-logs/?patient={alice.public_id}")
    assert response.status_code == 200
    row = AuditEvent.objects.get(request_id=response["X-Request-ID"])
    assert row.patient_id == alice.pk
    assert row.actor == nurse


def test_clinic_wide_staff_list_audits_no_single_patient(client_for, nurse, alice):
    response = client_for(nurse).get(f"{API}check-ins/")
    row = AuditEvent.objects.get(request_id=response["X-Request-ID"])
    assert row.patient_id is None
    assert row.action.startswith("read:list")
