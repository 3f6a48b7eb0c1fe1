"""A patient's record as a FHIR R4 Bundle (type "collection").

Resources: Patient; one MedicationRequest per regimen step (lenalidomide, RxNorm 337535,
with the step's timing); one Observation per lab result (LOINC, UCUM units, CTCAE grade as
an interpretation note) and per CLASI assessment (activity and damage as components).
Identifiers are our public ids under urn:uuid so a receiver can de-duplicate re-exports.
"""

from __future__ import annotations

from typing import Any

from tracker import schedules
from tracker.models import ClasiAssessment, LabResult, Patient, RegimenStep

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
LENALIDOMIDE = {"system": RXNORM, "code": "337535", "display": "lenalidomide"}

# LOINC code, display, UCUM unit for each lab test we store.
LAB_CODES: dict[str, tuple[str, str, str]] = {
    "anc": ("751-8", "Neutrophils [#/volume] in Blood by Automated count", "10*9/L"),
    "platelets": ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*9/L"),
    "wbc": ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*9/L"),
    "hemoglobin": ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL"),
    "creatinine": ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL"),
    "pregnancy_hcg": ("2106-3", "Choriogonadotropin (pregnancy test) [Presence] in Urine", ""),
}

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _ref(kind: str, public_id: object) -> str:
    return f"urn:uuid:{public_id}"


def _patient(p: Patient) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": str(p.public_id),
        "identifier": [{"system": f"urn:tracker:clinic:{p.clinic.public_id}:mrn", "value": p.mrn}],
        "name": [{"family": p.last_name, "given": [p.first_name]}],
        "gender": p.sex,
        "birthDate": p.date_of_birth.isoformat(),
    }


def _timing(step: RegimenStep) -> dict[str, Any]:
    bounds = {"boundsPeriod": {"start": step.starts_on.isoformat()}}
    if step.pattern == "daily":
        return {"repeat": {**bounds, "frequency": 1, "period": 1, "periodUnit": "d"}}
    if step.pattern == "alternate_days":
        return {"repeat": {**bounds, "frequency": 1, "period": 2, "periodUnit": "d"}}
    if step.pattern == "weekdays":
        return {"repeat": {**bounds, "dayOfWeek": [_WEEKDAYS[d] for d in step.weekdays]}}
    return {
        "repeat": bounds,
        "code": {"text": f"{step.cycle_days_on} days on, cycle of {step.cycle_length} days"},
    }


def _medication_request(step: RegimenStep, patient_ref: str) -> dict[str, Any]:
    stopped = step.pattern in ("hold", "stopped")
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": str(step.public_id),
        "status": "stopped" if step.pattern == "stopped" else "on-hold" if stopped else "active",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [LENALIDOMIDE], "text": "Lenalidomide"},
        "subject": {"reference": patient_ref},
        "authoredOn": step.created_at.isoformat(),
        "note": [
            {
                "text": f"reason: {step.reason}; weekly dose "
                f"{schedules.weekly_dose_mg(_step(step))} mg"
            }
        ],
    }
    if not stopped:
        resource["dosageInstruction"] = [
            {
                "timing": _timing(step),
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": float(step.dose_mg),
                            "unit": "mg",
                            "system": UCUM,
                            "code": "mg",
                        }
                    }
                ],
            }
        ]
    return resource


def _step(step: RegimenStep) -> schedules.Step:
    return schedules.Step(
        starts_on=step.starts_on,
        dose_mg=step.dose_mg,
        pattern=step.pattern,
        weekdays=tuple(step.weekdays or ()),
        cycle_days_on=step.cycle_days_on,
        cycle_length=step.cycle_length,
        reason=step.reason,
    )


def _lab(lab: LabResult, patient_ref: str) -> dict[str, Any]:
    code, display, unit = LAB_CODES[lab.test]
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(lab.public_id),
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": lab.collected_at.isoformat(),
    }
    if lab.value is not None:
        resource["valueQuantity"] = {
            "value": float(lab.value),
            "unit": unit,
            "system": UCUM,
            "code": unit,
        }
    else:
        resource["valueCodeableConcept"] = {"text": lab.result}
    if lab.ctcae_grade is not None:
        resource["note"] = [{"text": f"CTCAE v{lab.ctcae_version} grade {lab.ctcae_grade}"}]
    return resource


def _clasi(a: ClasiAssessment, patient_ref: str) -> dict[str, Any]:
    def component(text: str, value: int) -> dict[str, Any]:
        return {"code": {"text": text}, "valueInteger": value}

    return {
        "resourceType": "Observation",
        "id": str(a.public_id),
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "exam",
                    }
                ]
            }
        ],
        "code": {"text": f"{a.instrument} ({a.instrument_version})"},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": a.assessed_on.isoformat(),
        "component": [
            component("CLASI activity", a.activity_score),
            component("CLASI damage", a.damage_score),
        ],
        "interpretation": [{"text": a.activity_band}],
    }


def patient_bundle(patient: Patient) -> dict[str, Any]:
    """The patient's Bundle: a fixed number of queries, whatever the history's length."""
    patient_ref = _ref("Patient", patient.public_id)
    resources: list[dict[str, Any]] = [_patient(patient)]
    steps = RegimenStep.objects.filter(patient=patient, superseded_at__isnull=True)
    resources += [_medication_request(s, patient_ref) for s in steps.order_by("starts_on")]
    labs = LabResult.objects.filter(patient=patient).order_by("collected_at", "id")
    resources += [_lab(lab, patient_ref) for lab in labs]
    clasi = ClasiAssessment.objects.filter(patient=patient).order_by("assessed_on", "id")
    resources += [_clasi(a, patient_ref) for a in clasi]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": _ref(r["resourceType"], r["id"]), "resource": r} for r in resources],
    }
