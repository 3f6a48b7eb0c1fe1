"""Run every detection rule over one patient's timeline.

``evaluate`` is pure: the caller (a Celery task) loads the Timeline, passes the patient's local
``today`` and the clinic's Thresholds, and upserts the returned findings by
(patient, rule, episode_key). Findings come back sorted (most severe first, then rule, then
episode key) so two evaluations of the same data compare equal.

A rule that raises does not stop the others: a bug in, say, the adherence rule must not swallow
an urgent thrombosis finding. ``evaluate`` runs every rule and then raises ``EvaluationError``
carrying both the findings of the rules that worked and the errors, so the caller can upsert
the former and log the latter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from types import MappingProxyType

from tracker.detection.adherence_rule import adherence
from tracker.detection.adverse import (
    cytopenia,
    gi_intolerance,
    insomnia,
    systemic_flare,
    thrombosis_red_flag,
)
from tracker.detection.findings import SEVERITY_RANK, Finding
from tracker.detection.relapse import possible_relapse
from tracker.detection.response import non_response
from tracker.detection.safety import monitoring_due, pregnancy_risk
from tracker.detection.thresholds import Thresholds
from tracker.detection.timeline import Timeline

__all__ = ["RULES", "TIME_BASED_RULES", "EvaluationError", "Rule", "evaluate", "sort_findings"]

Rule = Callable[[Timeline, date, Thresholds], list[Finding]]

RULES: Mapping[str, Rule] = MappingProxyType(
    {
        "possible_relapse": possible_relapse,
        "gi_intolerance": gi_intolerance,
        "cytopenia": cytopenia,
        "thrombosis_red_flag": thrombosis_red_flag,
        "pregnancy_risk": pregnancy_risk,
        "adherence": adherence,
        "insomnia": insomnia,
        "systemic_flare": systemic_flare,
        "monitoring_due": monitoring_due,
        "non_response": non_response,
    }
)

# Rules whose result can change with the passing of days alone, without new data: a sweep must
# re-run these for every active patient, not only for patients whose data changed.
# (pregnancy_risk: the overdue test; adherence: doses not logged.)
TIME_BASED_RULES: frozenset[str] = frozenset(
    {"monitoring_due", "non_response", "pregnancy_risk", "adherence"}
)

_DEFAULT_THRESHOLDS = Thresholds()


class EvaluationError(Exception):
    """One or more rules raised; ``findings`` holds the results of the rules that did not."""

    def __init__(self, findings: list[Finding], errors: dict[str, Exception]) -> None:
        super().__init__(
            "; ".join(f"{rule}: {type(exc).__name__}: {exc}" for rule, exc in errors.items())
        )
        self.findings = findings
        self.errors = errors


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by rule code and episode key: a total, stable order."""
    return sorted(findings, key=lambda f: (-SEVERITY_RANK[f.severity], f.rule, f.episode_key))


def evaluate(
    timeline: Timeline,
    today: date,
    thresholds: Thresholds = _DEFAULT_THRESHOLDS,
    *,
    rules: Mapping[str, Rule] = RULES,
) -> list[Finding]:
    """Every finding for this patient as of the local date ``today``.

    ``rules`` lets a sweep run a subset (e.g. only TIME_BASED_RULES). Raises EvaluationError
    after running all rules if any of them raised.
    """
    known = timeline.as_of(today)
    findings: list[Finding] = []
    errors: dict[str, Exception] = {}
    for code, rule in rules.items():
        try:
            findings.extend(rule(known, today, thresholds))
        except Exception as exc:  # isolated so one broken rule cannot hide the others' alerts
            errors[code] = exc
    ordered = sort_findings(findings)
    if errors:
        raise EvaluationError(ordered, errors)
    return ordered
