"""The plain data the detection rules read: one patient's timeline.

The database layer builds a ``Timeline`` (a fixed number of queries) and hands it to
``tracker.detection.engine.evaluate``. Everything here is frozen plain data: no ORM objects, no
clock, no I/O, so every rule can be unit-tested with literals.

History the loader must provide: **all data since treatment start** (the first regimen step or
``PatientFacts.treatment_started_on``, whichever is earlier), for every collection. The rules need
the whole treatment for the personal nadirs (check-in scores, CLASI), the date of complete
response, every dose reduction (relapse watch window) and the last blood count and pregnancy
test, however old. Superseded or archived rows must be left out: a correction replaces its
original. Dates are the patient's local dates; ``today`` passed to a rule is the patient's local
date too.

Invariants (the rules rely on them only through ``Timeline.as_of``, which re-establishes them):
- collections are ordered oldest first (steps by ``starts_on``; check-ins by ``answered_at``;
  labs by ``collected_at``; CLASI by ``assessed_on``; doses by ``day``), ties broken by id;
- data dated after ``today`` is invisible to a rule, so an evaluation "as of" a past date is
  reproducible and a step entered in advance does not count before it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from tracker.schedules import Step, is_reduction, weekly_dose_mg

__all__ = [
    "GI_TERMS",
    "CheckIn",
    "ClasiScore",
    "DoseLog",
    "LabResult",
    "PatientFacts",
    "RegimenStep",
    "SymptomAnswer",
    "Timeline",
]

GI_TERMS: tuple[str, ...] = ("nausea", "vomiting", "diarrhea", "abdominal_pain")


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """Who the patient is, as far as the rules care.

    ``sex`` is "female" or "male"; ``cle_subtype`` one of dle, scle, acle, lupus_profundus, tumid,
    chilblain, other; ``timezone`` an IANA name. ``treatment_started_on`` is the local date of the
    first lenalidomide dose (None: not started; time-based rules then stay silent).
    """

    patient_id: int
    sex: str
    reproductive_potential: bool
    cle_subtype: str
    timezone: str
    treatment_started_on: date | None
    irregular_cycles: bool = False


@dataclass(frozen=True, slots=True)
class RegimenStep:
    """One version of the regimen (see ``tracker.schedules.Step``), with its database id."""

    starts_on: date
    dose_mg: Decimal
    pattern: str
    weekdays: tuple[int, ...] = ()
    cycle_days_on: int | None = None
    cycle_length: int | None = None
    reason: str = ""
    id: int | None = None

    def to_step(self) -> Step:
        return Step(
            starts_on=self.starts_on,
            dose_mg=self.dose_mg,
            pattern=self.pattern,
            weekdays=tuple(self.weekdays),
            cycle_days_on=self.cycle_days_on,
            cycle_length=self.cycle_length,
            reason=self.reason,
        )

    @property
    def weekly_dose_mg(self) -> Decimal:
        return weekly_dose_mg(self.to_step())


@dataclass(frozen=True, slots=True)
class SymptomAnswer:
    """One PRO-CTCAE item of a check-in. Attributes are 0..4 or None when not asked."""

    term: str
    frequency: int | None = None
    severity: int | None = None
    interference: int | None = None
    present: bool | None = None
    composite_grade: int | None = None


@dataclass(frozen=True, slots=True)
class CheckIn:
    """A weekly patient check-in. ``answered_at`` is aware; ``local_date`` is its local date."""

    id: int
    answered_at: datetime
    local_date: date
    symptoms: tuple[SymptomAnswer, ...] = ()
    itch: int | None = None
    pain: int | None = None
    global_activity: int | None = None
    new_lesions: bool = False
    lesion_areas: tuple[str, ...] = ()
    mouth_ulcers: bool = False
    hair_loss: bool = False
    chest_pain: bool = False
    neuro_symptoms: bool = False
    fever: bool = False
    joint_pain: bool = False
    foamy_urine: bool = False
    missed_period: bool = False

    def symptom(self, term: str) -> SymptomAnswer | None:
        """The answer for ``term``, or None when the item was not in this check-in."""
        for answer in self.symptoms:
            if answer.term == term:
                return answer
        return None

    def attribute(self, term: str, attribute: str) -> int:
        """A 0..4 answer, with "not in the check-in" and "not asked" read as 0 (none/never).

        PRO-CTCAE skips later attributes after a 0 answer, so an absent answer means none.
        """
        answer = self.symptom(term)
        value = getattr(answer, attribute, None) if answer is not None else None
        return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True, slots=True)
class LabResult:
    """A lab value (counts in 10^9/L) or a pregnancy test (``result`` positive/negative)."""

    id: int
    test: str
    value: Decimal | None
    result: str | None
    collected_at: datetime
    local_date: date


@dataclass(frozen=True, slots=True)
class ClasiScore:
    """A clinician's CLASI assessment (activity 0-70, damage)."""

    id: int
    assessed_on: date
    activity: int
    damage: int


@dataclass(frozen=True, slots=True)
class DoseLog:
    """A current (not superseded) dose report for one local date: taken, missed or skipped."""

    id: int
    day: date
    status: str
    dose_mg: Decimal | None


@dataclass(frozen=True, slots=True)
class Timeline:
    """Everything the rules know about one patient; see the module docstring for history."""

    patient: PatientFacts
    steps: tuple[RegimenStep, ...] = ()
    check_ins: tuple[CheckIn, ...] = ()
    labs: tuple[LabResult, ...] = ()
    clasi: tuple[ClasiScore, ...] = ()
    doses: tuple[DoseLog, ...] = ()
    # The date this timeline was cut at by as_of(); every rule calls as_of(today) and the
    # engine already did, so a second call with the same date returns self at no cost.
    known_on: date | None = None

    def as_of(self, today: date) -> Timeline:
        """This timeline as known on ``today``: later data dropped, every collection sorted."""
        if self.known_on == today:
            return self
        return Timeline(
            patient=self.patient,
            steps=tuple(
                sorted(
                    (s for s in self.steps if s.starts_on <= today),
                    key=lambda s: (s.starts_on, s.id or 0),
                )
            ),
            check_ins=tuple(
                sorted(
                    (c for c in self.check_ins if c.local_date <= today),
                    key=lambda c: (c.answered_at, c.id),
                )
            ),
            labs=tuple(
                sorted(
                    (lab for lab in self.labs if lab.local_date <= today),
                    key=lambda lab: (lab.collected_at, lab.id),
                )
            ),
            clasi=tuple(
                sorted(
                    (c for c in self.clasi if c.assessed_on <= today),
                    key=lambda c: (c.assessed_on, c.id),
                )
            ),
            doses=tuple(
                sorted((d for d in self.doses if d.day <= today), key=lambda d: (d.day, d.id))
            ),
            known_on=today,
        )

    @property
    def treatment_start(self) -> date | None:
        """The first dose date: the recorded start, else the first regimen step."""
        if self.patient.treatment_started_on is not None:
            return self.patient.treatment_started_on
        return self.steps[0].starts_on if self.steps else None

    def step_on(self, day: date) -> RegimenStep | None:
        """The step in force on ``day`` (the last one starting on or before it)."""
        current = None
        for step in self.steps:
            if step.starts_on > day:
                break
            current = step
        return current

    def reductions(self) -> list[tuple[RegimenStep, RegimenStep]]:
        """(reduction step, the step it reduced from), oldest first.

        Same semantics as ``tracker.schedules.reductions``: each step is compared with the latest
        earlier step that is not a hold, so 10 mg daily -> hold -> 5 mg daily is a taper.
        """
        found: list[tuple[RegimenStep, RegimenStep]] = []
        reference: RegimenStep | None = None
        for step in self.steps:
            if reference is not None and is_reduction(reference.to_step(), step.to_step()):
                found.append((step, reference))
            if step.pattern != "hold":
                reference = step
        return found

    def last_reduction_on_or_before(self, day: date) -> tuple[RegimenStep, RegimenStep] | None:
        """The most recent reduction that started on or before ``day``, with its predecessor."""
        candidates = [pair for pair in self.reductions() if pair[0].starts_on <= day]
        return candidates[-1] if candidates else None

    def is_stopped_on(self, day: date) -> bool:
        """True when the step in force on ``day`` is a withdrawal ("stopped")."""
        step = self.step_on(day)
        return step is not None and step.pattern == "stopped"
