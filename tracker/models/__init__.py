from tracker.models.accounts import Clinic, StaffMembership, User
from tracker.models.audit import AuditEvent
from tracker.models.clinical import (
    CheckIn,
    ClasiAssessment,
    DoseLog,
    LabResult,
    Prescription,
    RegimenStep,
)
from tracker.models.patients import CareTeamAssignment, ClinicRuleSettings, Patient

__all__ = [
    "AuditEvent",
    "CareTeamAssignment",
    "CheckIn",
    "ClasiAssessment",
    "Clinic",
    "ClinicRuleSettings",
    "DoseLog",
    "LabResult",
    "Patient",
    "Prescription",
    "RegimenStep",
    "StaffMembership",
    "User",
]

from tracker.models.photos import LesionPhoto

__all__ += ["LesionPhoto"]
