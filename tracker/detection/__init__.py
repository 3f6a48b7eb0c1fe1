"""Detection rules: pure functions from a patient's Timeline to Findings.

No Django, no ORM, no clock, no I/O. See docs/rules.md for each rule's thresholds and sources,
and ``tracker.detection.timeline`` for the data the loader must provide.
"""

from __future__ import annotations

from tracker.detection.engine import (
    RULES,
    TIME_BASED_RULES,
    EvaluationError,
    Rule,
    evaluate,
    sort_findings,
)
from tracker.detection.findings import SEVERITIES, Finding
from tracker.detection.thresholds import ThresholdError, Thresholds
from tracker.detection.timeline import (
    CheckIn,
    ClasiScore,
    DoseLog,
    LabResult,
    PatientFacts,
    RegimenStep,
    SymptomAnswer,
    Timeline,
)

__all__ = [
    "RULES",
    "SEVERITIES",
    "TIME_BASED_RULES",
    "CheckIn",
    "ClasiScore",
    "DoseLog",
    "EvaluationError",
    "Finding",
    "LabResult",
    "PatientFacts",
    "RegimenStep",
    "Rule",
    "SymptomAnswer",
    "ThresholdError",
    "Thresholds",
    "Timeline",
    "evaluate",
    "sort_findings",
]
