"""patients/{id}/fhir/: a valid FHIR R4(B) Bundle, scoped like every patient read."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from tracker.models import ClasiAssessment, LabResult, RegimenStep


def _history(patient, clinician, nurse) -> None:
    today = timezone.localdate()
    for days, dose, pattern, extra in (
        (60, "5", "daily", {}),
        (30, "5", "weekdays", {"weekdays": [0, 2, 4]}),
        (10, "0", "stopped", {}),
    ):
        RegimenStep.objects.create(
            patient=patient,
            starts_on=today - timedelta(days=days),
            dose_mg=Decimal(dose),
            pattern=pattern,
            reason="start",
            created_by=clinician,
            **extra,
        )
    LabResult.objects.create(
        patient=patient,
        test="anc",
        value=Decimal("1.2"),
        unit="10^9/L",
        collected_at=timezone.now(),
        ctcae_grade=2,
        ctcae_version="5.0",
        entered_by=nurse,
    )
    LabResult.objects.create(
        patient=patient,
        test="pregnancy_hcg",
        result="negative",
        collected_at=timezone.now(),
        entered_by=nurse,
    )
    ClasiAssessment.objects.create(
        patient=patient,
        assessed_on=today,
        activity_score=0,
        damage_score=2,
        activity_band="mild",
        assessed_by=clinician,
    )


def test_bundle_is_valid_fhir_with_every_resource(client_for, clinician, nurse, alice):
    _history(alice, clinician, nurse)
    response = client_for(clinician).get(f"/api/v1/patients/{alice.public_id}/fhir/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(response.json())  # raises on any schema violation
    kinds = [e.resource.__resource_type__ for e in bundle.entry]
    assert kinds.count("Patient") == 1
    assert kinds.count("MedicationRequest") == 3
    assert kinds.count("Observation") == 3
    body = response.json()
    statuses = [
        e["resource"]["status"]
        for e in body["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
    ]
    assert statuses == ["active", "active", "stopped"]
    anc = next(
        e["resource"]
        for e in body["entry"]
        if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "751-8"
    )
    assert anc["valueQuantity"]["value"] == 1.2


def test_bundle_is_refused_out_of_scope(client_for, other_nurse, bob, alice):
    assert (
        client_for(other_nurse).get(f"/api/v1/patients/{alice.public_id}/fhir/").status_code == 404
    )
    assert client_for(bob.user).get(f"/api/v1/patients/{alice.public_id}/fhir/").status_code == 404
    assert (
        client_for(alice.user).get(f"/api/v1/patients/{alice.public_id}/fhir/").status_code == 200
    )
