"""Builders for detection tests (imported by the other test_detection_* modules), and the tests
of tracker.detection.timeline itself."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from tracker.detection.findings import Finding, jsonable
from tracker.detection.thresholds import Thresholds
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

START = date(2024, 1, 1)  # a Monday
DEFAULTS = Thresholds()


def day(n: int) -> date:
    """Treatment day n (day 0 is the first dose)."""
    return START + timedelta(days=n)


class TL:
    """A small timeline builder: ``TL().step(0, "5").check_in(7, itch=2).build()``."""

    def __init__(
        self,
        *,
        sex: str = "female",
        reproductive_potential: bool = False,
        subtype: str = "scle",
        start: date | None = START,
        irregular_cycles: bool = False,
    ) -> None:
        self.patient = PatientFacts(
            patient_id=1,
            sex=sex,
            reproductive_potential=reproductive_potential,
            cle_subtype=subtype,
            timezone="Europe/Madrid",
            treatment_started_on=start,
            irregular_cycles=irregular_cycles,
        )
        self._next_id = 100
        self.steps: list[RegimenStep] = []
        self.check_ins: list[CheckIn] = []
        self.labs: list[LabResult] = []
        self.clasi_scores: list[ClasiScore] = []
        self.doses: list[DoseLog] = []

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def step(
        self, n: int, dose: str = "5", pattern: str = "daily", reason: str = "start", **kw: Any
    ) -> TL:
        self.steps.append(
            RegimenStep(day(n), Decimal(dose), pattern, reason=reason, id=self._id(), **kw)
        )
        return self

    def check_in(
        self, n: int, symptoms: Mapping[str, Mapping[str, Any]] | None = None, **fields: Any
    ) -> TL:
        ident = self._id()
        answers = tuple(
            SymptomAnswer(term=term, **dict(values)) for term, values in (symptoms or {}).items()
        )
        answered = datetime.combine(day(n), time(9, ident % 60), tzinfo=UTC)
        if "lesion_areas" in fields:
            fields["lesion_areas"] = tuple(fields["lesion_areas"])
        self.check_ins.append(
            CheckIn(id=ident, answered_at=answered, local_date=day(n), symptoms=answers, **fields)
        )
        return self

    def lab(self, n: int, test: str, value: str | None = None, result: str | None = None) -> TL:
        ident = self._id()
        collected = datetime.combine(day(n), time(8, ident % 60), tzinfo=UTC)
        amount = Decimal(value) if value is not None else None
        self.labs.append(LabResult(ident, test, amount, result, collected, day(n)))
        return self

    def clasi(self, n: int, activity: int, damage: int = 0) -> TL:
        self.clasi_scores.append(ClasiScore(self._id(), day(n), activity, damage))
        return self

    def dose(self, n: int, status: str = "taken", dose_mg: str | None = None) -> TL:
        amount = Decimal(dose_mg) if dose_mg is not None else None
        self.doses.append(DoseLog(self._id(), day(n), status, amount))
        return self

    def doses_taken(self, first: int, last: int) -> TL:
        for n in range(first, last + 1):
            self.dose(n)
        return self

    def last_id(self) -> int:
        return self._next_id

    def build(self) -> Timeline:
        return Timeline(
            patient=self.patient,
            steps=tuple(self.steps),
            check_ins=tuple(self.check_ins),
            labs=tuple(self.labs),
            clasi=tuple(self.clasi_scores),
            doses=tuple(self.doses),
        )


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def assert_json(finding: Finding) -> None:
    """Evidence survives a strict JSON round trip unchanged."""
    assert json.loads(json.dumps(finding.evidence, allow_nan=False)) == finding.evidence


# --------------------------------------------------------------------------- timeline tests


def test_as_of_drops_later_data_and_sorts_each_collection() -> None:
    tl = (
        TL()
        .step(0, "10")
        .step(30, "5", reason="taper")
        .check_in(14, itch=1)
        .check_in(7, itch=2)
        .check_in(21, itch=3)
        .lab(20, "anc", "1.2")
        .lab(10, "anc", "2.0")
        .clasi(25, 0)
        .clasi(5, 8)
        .dose(16)
        .dose(15)
        .build()
    )
    known = tl.as_of(day(15))
    assert [c.itch for c in known.check_ins] == [2, 1]
    assert [s.starts_on for s in known.steps] == [day(0)]
    assert [lab.value for lab in known.labs] == [Decimal("2.0")]
    assert [c.activity for c in known.clasi] == [8]
    assert [d.day for d in known.doses] == [day(15)]


def test_treatment_start_falls_back_to_first_step() -> None:
    tl = TL(start=None).step(3, "5").build()
    assert tl.treatment_start == day(3)
    assert TL(start=None).build().treatment_start is None


def test_reductions_follow_weekly_dose_and_skip_holds() -> None:
    tl = (
        TL()
        .step(0, "5")
        .step(28, "10", reason="escalation")
        .step(56, "10", "alternate_days", reason="taper")  # 70 -> 35 mg/week
        .step(70, "5", "hold", reason="hold_toxicity")
        .step(80, "5", "alternate_days", reason="taper")  # vs the step before the hold
        .step(120, "0", "stopped", reason="withdrawal")
        .build()
    )
    found = [(step.starts_on, previous.starts_on) for step, previous in tl.reductions()]
    assert found == [(day(56), day(28)), (day(80), day(56)), (day(120), day(80))]
    assert tl.last_reduction_on_or_before(day(79)) == tl.reductions()[0]
    assert tl.is_stopped_on(day(120))
    assert not tl.is_stopped_on(day(119))


def test_missing_symptom_attribute_reads_as_zero() -> None:
    check_in = TL().check_in(1, {"nausea": {"frequency": 2}}).build().check_ins[0]
    assert check_in.attribute("nausea", "frequency") == 2
    assert check_in.attribute("nausea", "severity") == 0
    assert check_in.attribute("vomiting", "frequency") == 0


def test_finding_evidence_is_normalised_to_json_types() -> None:
    finding = Finding(
        "cytopenia", "warning", "k", "s", {"v": Decimal("1.50"), "d": day(0), "t": (1, 2)}
    )
    assert finding.evidence == {"v": "1.5", "d": "2024-01-01", "t": [1, 2]}
    assert jsonable(Decimal("10")) == "10"


def test_finding_rejects_unknown_severity() -> None:
    import pytest

    with pytest.raises(ValueError, match="severity"):
        Finding("cytopenia", "critical", "k", "s")
