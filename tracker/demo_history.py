"""Study-like history for the demo patients, and a synthetic cohort for load work.

The demo course mirrors Cortés-Hernández et al., Arthritis Res Ther 2012;14:R265 (DESIGN.md
section 3): lenalidomide 5 mg daily, 10 mg from week 4 when there is no improvement, complete
response (CR, CLASI activity 0) after a median 6 weeks for discoid/subacute CLE (range 2-12) and
13 weeks for lupus profundus (4-32), monthly tapers after CR (5 mg daily, alternate days, three
times a week, stopped), a relapse 2-8 weeks after a reduction for about three responders in four
(then re-escalation), one stop at week 1 for disabling GI effects and one grade 2 neutropenia.

Rows are written with bulk_create and carry every field the write services compute
(expected_dose_mg, fingerprint, local_date, PRO-CTCAE composite and CTCAE grades, CLASI totals),
so the API, the timelines and the rules read them as if they had been entered one by one. The
evaluation engine is not called: each seeded patient is marked changed and the sweep picks them
up. A patient's history depends only on its index and today's date (_rng(index)), and
always ends today in the patient's time zone.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from tracker import clasi, grading, schedules
from tracker.models import (
    CareTeamAssignment,
    CheckIn,
    ClasiAssessment,
    Clinic,
    DoseLog,
    LabResult,
    Patient,
    Prescription,
    RegimenStep,
    StaffMembership,
    User,
)
from tracker.services.records import fingerprint

__all__ = ["COHORT_CLINIC", "seed_cohort", "seed_patient_history"]

BATCH_SIZE: Final = 2000  # rows per INSERT
COHORT_CHUNK: Final = 250  # cohort patients per transaction
COHORT_CLINIC: Final = "Cohort Clinic"
COHORT_DOMAIN: Final = "cohort.example"
COHORT_TIMEZONE: Final = "Europe/Madrid"

# --------------------------------------------------------------------------- the regimen ladder

# (dose, pattern, weekdays) from the escalated dose down to withdrawal; a taper is one step down.
_LADDER: Final = (
    (Decimal("10"), "daily", ()),
    (Decimal("5"), "daily", ()),
    (Decimal("5"), "alternate_days", ()),
    (Decimal("5"), "weekdays", (0, 2, 4)),
    (Decimal("0"), "stopped", ()),
)
_LEVEL_WORDS: Final = (
    "10 mg daily",
    "5 mg daily",
    "5 mg on alternate days",
    "5 mg three times a week (Mon, Wed, Fri)",
    "stopped",
)
LEVEL_10MG: Final = 0
LEVEL_START: Final = 1
LEVEL_STOPPED: Final = 4


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """A regimen step of a planned course, `day` days after the first dose."""

    day: int
    level: int
    reason: str
    note: str = ""

    @property
    def dose_mg(self) -> Decimal:
        return _LADDER[self.level][0]

    @property
    def pattern(self) -> str:
        return _LADDER[self.level][1]

    @property
    def weekdays(self) -> tuple[int, ...]:
        return _LADDER[self.level][2]


@dataclass(frozen=True, slots=True)
class Relapse:
    """Loss of response: activity rises from `onset` to `peak` until the visit that confirms it
    (`detected`, when the dose goes back up), or stays up when still open (`detected` None)."""

    onset: int
    detected: int | None
    peak: int


@dataclass
class Course:
    """One patient's treatment and disease course in days since the first dose (day 0).

    Today is day `days`. CLASI activity follows straight lines between `knots`; the skin items
    of the check-ins follow the activity. The day lists say when each record is made.
    """

    days: int
    steps: list[PlannedStep]
    knots: list[tuple[int, float]]
    visits: set[int]
    check_in_days: list[int]
    cbc_days: list[int]
    pregnancy_days: list[int]
    creatinine_days: list[int]
    terms: tuple[str, ...]
    relapses: list[Relapse] = field(default_factory=list)
    missed_rate: float = 0.05
    not_logged_rate: float = 0.02
    anc_low: dict[int, Decimal] = field(default_factory=dict)
    gi: dict[int, int] = field(default_factory=dict)  # check-in day -> GI level 0..3
    insomnia: range = range(0)
    skipped: dict[int, str] = field(default_factory=dict)  # dose day -> note
    status: str = Patient.Status.ACTIVE

    def activity(self, day: int) -> int:
        """CLASI activity on `day`: 0 only in remission, at least 1 while any disease shows."""
        value = _interpolate(sorted(self.knots), day)
        return 0 if value <= 0.0 else min(25, max(1, round(value)))

    def relapse_on(self, day: int) -> Relapse | None:
        """The relapse whose lesions are appearing on `day` (new or enlarging), if any."""
        for relapse in self.relapses:
            end = self.days if relapse.detected is None else relapse.detected + 7
            if relapse.onset < day <= end:
                return relapse
        return None


def _interpolate(knots: list[tuple[int, float]], day: int) -> float:
    if day <= knots[0][0]:
        return knots[0][1]
    for (d0, v0), (d1, v1) in itertools.pairwise(knots):
        if d0 <= day <= d1:
            return v0 if d1 == d0 else v0 + (v1 - v0) * (day - d0) / (d1 - d0)
    return knots[-1][1]


def _response_knots(baseline: int, cr_day: int | None, escalate: bool) -> list[tuple[int, float]]:
    """Activity falls from baseline to 0 at CR (to about 40% by week 2, as in the study); without
    improvement at week 4 it has barely moved; a partial responder levels off above 0."""
    b = float(baseline)
    if cr_day is None:
        return [(0, b), (28, 0.85 * b), (84, 0.35 * b)] if escalate else [(0, b), (42, 0.5 * b)]
    if escalate:
        return [(0, b), (28, 0.85 * b), (cr_day, 0.0)]
    if cr_day > 14:
        return [(0, b), (14, 0.4 * b), (cr_day, 0.0)]
    return [(0, b), (cr_day, 0.0)]


def _weekly_back(days: int) -> list[int]:
    """Weekly days ending today (day `days`), plus the baseline day 0."""
    return sorted({0, *range(days, -1, -7)})


def _pregnancy_days(days: int) -> list[int]:
    """REMS: weekly for the first 4 weeks, then every 4 weeks."""
    return [d for d in (0, 7, 14, 21, *range(28, days + 1, 28)) if d <= days]


# --------------------------------------------------------------------------- demo courses


@dataclass(frozen=True, slots=True)
class Profile:
    """How one demo patient's course goes (days after the first dose)."""

    days: int
    cr_day: int | None
    escalate: bool = False
    relapse_after: int | None = None  # the relapse follows the n-th reduction...
    relapse_delay: int = 28  # ...by this many days
    special: str = ""  # "watch", "gi", "neutropenia", "insomnia"


# Index = position in tracker.demo.DEMO_PATIENTS (1-based). 10 of 12 reach CR (the study: 12/14);
# 7 of the 10 relapse after a reduction (the study: 75%); 3 need 10 mg from week 4.
PROFILES: Final[dict[int, Profile]] = {
    1: Profile(0, cr_day=40, relapse_after=1, relapse_delay=20, special="watch"),  # Ana, DLE
    2: Profile(240, cr_day=30, relapse_after=2, relapse_delay=28),  # Marta, SCLE
    3: Profile(180, cr_day=56, relapse_after=1, relapse_delay=42, special="neutropenia"),
    4: Profile(200, cr_day=91, escalate=True),  # Laia, lupus profundus
    5: Profile(120, cr_day=None, special="gi"),  # Pere, SCLE: stopped at week 1
    6: Profile(230, cr_day=14),  # Nuria, DLE: fast CR, tapered off, no relapse
    7: Profile(240, cr_day=42, relapse_after=3, relapse_delay=35),  # Carme: after withdrawal
    8: Profile(120, cr_day=None, escalate=True),  # Jordi, DLE: partial response at 10 mg
    9: Profile(240, cr_day=120, escalate=True, relapse_after=1, relapse_delay=21),  # Rosa, LP
    10: Profile(200, cr_day=35, relapse_after=2, relapse_delay=14, special="insomnia"),
    11: Profile(150, cr_day=70),  # Sergi, chilblain
    12: Profile(180, cr_day=21, relapse_after=1, relapse_delay=50),  # Montse, SCLE
}

_ALL_TERMS: Final = tuple(grading.SYMPTOM_TERMS)


def _generic_profile(subtype: str, rng: random.Random) -> Profile:
    """A study-like profile for an index without a written one."""
    profundus = subtype == Patient.Subtype.LUPUS_PROFUNDUS
    cr_day = rng.randint(28, 224) if profundus else rng.randint(14, 84)
    relapses = rng.random() < 0.75
    return Profile(
        days=rng.randint(90, 240),
        cr_day=cr_day,
        escalate=cr_day > 42 and rng.random() < 0.5,
        relapse_after=rng.choice((1, 2, 3)) if relapses else None,
        relapse_delay=rng.randint(14, 56),
    )


def _visit_grid(days: int) -> set[int]:
    """Clinic visits with a CLASI: baseline, weeks 2, 4 and 8, then every 4 weeks."""
    return {d for d in (0, 14, 28, *range(56, days + 1, 28)) if d <= days}


def _cbc_days(days: int) -> list[int]:
    """Blood counts weekly for the first 8 weeks, then every 4 weeks (label monitoring)."""
    return [d for d in (*range(0, 57, 7), *range(84, days + 1, 28)) if d <= days]


def _demo_course(patient: Patient, index: int, rng: random.Random) -> Course:
    profile = PROFILES.get(index) or _generic_profile(patient.cle_subtype, rng)
    if profile.special == "gi":
        return _gi_course(profile, rng)
    if profile.special == "watch":
        return _watch_course(profile, index, rng)
    return _simulate(profile, rng, profile.days)


def _simulate(profile: Profile, rng: random.Random, days: int) -> Course:
    """Start, escalation at week 4 if planned, then CR, monthly tapers and the planned relapse."""
    profundus_bonus = 2 if profile.cr_day and profile.cr_day > 84 else 0
    baseline = rng.randint(9, 15) + profundus_bonus
    steps = [PlannedStep(0, LEVEL_START, "start", "Lenalidomide 5 mg daily.")]
    if profile.escalate:
        steps.append(
            PlannedStep(28, LEVEL_10MG, "escalation", "No improvement at 4 weeks: 10 mg daily.")
        )
    course = Course(
        days=days,
        steps=steps,
        knots=_response_knots(baseline, profile.cr_day, profile.escalate),
        visits=_visit_grid(days),
        check_in_days=_weekly_back(days),
        cbc_days=_cbc_days(days),
        pregnancy_days=_pregnancy_days(days),
        creatinine_days=list(range(0, days + 1, 84)),
        terms=_ALL_TERMS,
        missed_rate=rng.uniform(0.04, 0.08),
    )
    if profile.special == "neutropenia":
        course.anc_low = {42: Decimal("1.2"), 49: Decimal("1.6")}
    if profile.special == "insomnia":
        course.insomnia = range(7, 36)
    if profile.cr_day is not None:
        _plan_tapers(course, profile, rng)
    return course


def _plan_tapers(course: Course, profile: Profile, rng: random.Random) -> None:
    """Walk the visits: CR is seen at a visit with activity 0; the dose goes one step down at
    each monthly visit from 4 weeks after that; a relapse sends it one step back up."""
    level = course.steps[-1].level
    cr_seen: int | None = None
    reductions = 0
    for day in range(1, course.days + 1):
        relapse = course.relapses[-1] if course.relapses else None
        if relapse is not None and day == relapse.detected:
            level -= 1
            course.steps.append(
                PlannedStep(day, level, "escalation", _relapse_note(relapse, level))
            )
            cr_seen = None
            continue
        if day not in course.visits or course.activity(day) > 0:
            continue
        if cr_seen is None:
            cr_seen = day
            continue
        if day < cr_seen + 28 or level == LEVEL_STOPPED:
            continue
        level += 1
        reductions += 1
        reason = "withdrawal" if level == LEVEL_STOPPED else "taper"
        note = f"In complete response since {cr_seen} days into treatment: {_LEVEL_WORDS[level]}."
        course.steps.append(PlannedStep(day, level, reason, note))
        if reductions == profile.relapse_after:
            _add_relapse(course, day + profile.relapse_delay, rng)


def _relapse_note(relapse: Relapse, level: int) -> str:
    return (
        f"Relapse (CLASI activity up from 0) since day {relapse.onset}: "
        f"back to {_LEVEL_WORDS[level]}."
    )


def _add_relapse(course: Course, onset: int, rng: random.Random, *, open_: bool = False) -> None:
    """Lesions return from `onset`; the next visit within 10 days (or an extra one) confirms it,
    and CR comes back 2-4 weeks after re-escalation. An open relapse is not yet confirmed."""
    peak = rng.randint(4, 8)
    detected: int | None = None
    if not open_:
        near = sorted(v for v in course.visits if onset < v <= onset + 10)
        detected = near[0] if near else onset + rng.randint(6, 10)
        if detected <= course.days:
            course.visits.add(detected)
    plateau = detected if detected is not None else onset + 120
    recovered = plateau + rng.randint(14, 28)
    course.knots += [(onset, 0.0), (onset + 4, float(peak)), (plateau, float(peak))]
    if detected is not None:
        course.knots.append((recovered, 0.0))
    course.relapses.append(Relapse(onset, detected, peak))


def _watch_course(profile: Profile, index: int, rng: random.Random) -> Course:
    """Ana: CR, a relapse after the first taper, CR again, and a second taper 3 weeks ago, with
    lesions returning over the last two weekly check-ins (inside the taper watch window)."""
    trial = _simulate(replace(profile, days=400), _rng(index), 400)
    detected = trial.relapses[0].detected or 0
    again = next(s.day for s in trial.steps if s.reason == "taper" and s.day > detected)
    days = again + 21
    course = _simulate(replace(profile, days=days), rng, days)
    _add_relapse(course, days - 11, rng, open_=True)
    return course


def _gi_course(profile: Profile, rng: random.Random) -> Course:
    """Stopped at week 1 for disabling nausea and diarrhoea (composite grade 3)."""
    baseline = rng.randint(9, 14)
    days = profile.days
    stop = PlannedStep(
        8,
        LEVEL_STOPPED,
        "hold_toxicity",
        "Disabling nausea and diarrhoea (PRO-CTCAE composite grade 3) at week 1: "
        "lenalidomide stopped, patient withdrawn.",
    )
    return Course(
        days=days,
        steps=[PlannedStep(0, LEVEL_START, "start", "Lenalidomide 5 mg daily."), stop],
        knots=[(0, float(baseline)), (28, float(baseline - 1))],
        visits={0, 8, 28},
        check_in_days=[0, 3, 7, 14, 21, 28],
        cbc_days=[0, 7],
        pregnancy_days=[0, 7],
        creatinine_days=[0],
        terms=_ALL_TERMS,
        gi={3: 2, 7: 3, 14: 1},
        skipped={6: "Nausea and diarrhoea", 7: "Could not keep it down"},
        status=Patient.Status.DISCONTINUED,
    )


# --------------------------------------------------------------------------- rows from a course


@dataclass(frozen=True, slots=True)
class Facts:
    """Who the rows belong to and who entered them."""

    patient_id: int
    user_id: int
    nurse_id: int
    clinician_id: int
    mrn: str
    sex: str
    potential: bool
    subtype: str
    tz: str


@dataclass(frozen=True, slots=True)
class Clock:
    """Maps course days to dates and local times; day `days` is today in the patient's zone."""

    start: date
    zone: ZoneInfo
    now: datetime

    @classmethod
    def ending_today(cls, tz: str, days: int, now: datetime) -> Clock:
        today = schedules.local_date(now, tz)
        return cls(today - timedelta(days=days), ZoneInfo(tz), now)

    def date(self, day: int) -> date:
        return self.start + timedelta(days=day)

    def at(self, day: int, minute: int) -> datetime:
        """Local wall-clock time, `minute` minutes after midnight of `day`."""
        return datetime.combine(self.date(day), time(minute // 60, minute % 60), self.zone)

    def past(self, day: int, minute: int) -> datetime:
        """Like `at`, but never in the future (today's record is made just before now)."""
        return min(self.at(day, minute), self.now - timedelta(minutes=1))


@dataclass
class Rows:
    """Unsaved rows of every kind, saved together with bulk_create."""

    steps: list[RegimenStep] = field(default_factory=list)
    prescriptions: list[Prescription] = field(default_factory=list)
    doses: list[DoseLog] = field(default_factory=list)
    check_ins: list[CheckIn] = field(default_factory=list)
    labs: list[LabResult] = field(default_factory=list)
    clasi: list[ClasiAssessment] = field(default_factory=list)

    def extend(self, other: Rows) -> None:
        for name, rows in other.groups():
            getattr(self, name).extend(rows)

    def groups(self) -> list[tuple[str, list[Any]]]:
        return [(name, getattr(self, name)) for name in self.__dataclass_fields__]

    def save(self) -> None:
        for _, rows in self.groups():
            if rows:
                type(rows[0]).objects.bulk_create(rows, batch_size=BATCH_SIZE)


def _rng(seed: int) -> random.Random:
    """The generator of one patient's history: synthetic data, so no secrets involved."""
    return random.Random(seed)  # noqa: S311


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _build_rows(course: Course, facts: Facts, clock: Clock, rng: random.Random) -> Rows:
    """Every record of one course, with the fields the write services would compute."""
    steps = [s for s in course.steps if s.day <= course.days]
    sched = [_schedule_step(s, clock) for s in steps]
    return Rows(
        steps=[_step_row(s, facts, clock) for s in steps],
        prescriptions=_prescription_rows(course, steps, sched, facts, clock),
        doses=_dose_rows(course, sched, facts, clock, rng),
        check_ins=[_check_in_row(course, d, facts, clock, rng) for d in course.check_in_days],
        labs=_lab_rows(course, facts, clock, rng),
        clasi=_clasi_rows(course, facts, clock, rng),
    )


def _schedule_step(step: PlannedStep, clock: Clock) -> schedules.Step:
    sched = schedules.Step(
        starts_on=clock.date(step.day),
        dose_mg=step.dose_mg,
        pattern=step.pattern,
        weekdays=step.weekdays,
        reason=step.reason,
    )
    errors = schedules.validate_step(sched)
    if errors:
        raise ValueError(f"invalid planned step {step}: {errors}")
    return sched


def _step_row(step: PlannedStep, facts: Facts, clock: Clock) -> RegimenStep:
    return RegimenStep(
        patient_id=facts.patient_id,
        starts_on=clock.date(step.day),
        dose_mg=step.dose_mg,
        pattern=step.pattern,
        weekdays=list(step.weekdays),
        reason=step.reason,
        note=step.note,
        created_by_id=facts.clinician_id,
    )


# --- prescriptions


def _risk_category(facts: Facts) -> str:
    if facts.sex == Patient.Sex.MALE:
        return Prescription.RiskCategory.MALE
    if facts.potential:
        return Prescription.RiskCategory.FEMALE_REPRODUCTIVE
    return Prescription.RiskCategory.FEMALE_NOT_REPRODUCTIVE


def _prescription_rows(
    course: Course,
    steps: list[PlannedStep],
    sched: list[schedules.Step],
    facts: Facts,
    clock: Clock,
) -> list[Prescription]:
    """A 28-day REMS prescription at each dosing step and every 28 days while it lasts."""
    rows: list[Prescription] = []
    for i, step in enumerate(steps):
        if step.pattern not in schedules.DOSING_PATTERNS:
            continue
        end = steps[i + 1].day if i + 1 < len(steps) else course.days + 1
        for day in range(step.day, min(end, course.days + 1), 28):
            quantity = sum(
                1 for k in range(28) if schedules.dose_on([sched[i]], clock.date(day + k)) > 0
            )
            rows.append(
                Prescription(
                    patient_id=facts.patient_id,
                    issued_on=clock.date(day),
                    dose_mg=step.dose_mg,
                    quantity=quantity,
                    days_supply=28,
                    authorization_number=f"REMS-{facts.mrn}-{len(rows) + 1:03d}",
                    risk_category=_risk_category(facts),
                    prescribed_by_id=facts.clinician_id,
                )
            )
    return rows


# --- dose logs


def _dose_rows(
    course: Course, sched: list[schedules.Step], facts: Facts, clock: Clock, rng: random.Random
) -> list[DoseLog]:
    """One log per expected dose: mostly taken, some missed, a few never logged."""
    rows: list[DoseLog] = []
    for day in range(course.days + 1):
        expected = schedules.dose_on(sched, clock.date(day))
        if expected > 0:
            row = _dose_row(course, day, expected, facts, clock, rng)
            if row is not None:
                rows.append(row)
    return rows


def _dose_row(
    course: Course,
    day: int,
    expected: Decimal,
    facts: Facts,
    clock: Clock,
    rng: random.Random,
) -> DoseLog | None:
    taken_at = clock.at(day, 8 * 60 + rng.randint(0, 150))
    roll = rng.random()
    if taken_at > clock.now:
        return None  # today's dose is not due yet
    data: dict[str, Any] = {"scheduled_date": clock.date(day)}
    if day in course.skipped:
        data |= {"status": DoseLog.Status.SKIPPED.value, "note": course.skipped[day]}
    elif roll < course.not_logged_rate:
        return None
    elif roll < course.not_logged_rate + course.missed_rate:
        data["status"] = DoseLog.Status.MISSED.value
    else:
        data |= {"status": DoseLog.Status.TAKEN.value, "dose_mg": expected, "taken_at": taken_at}
    client_id = _uuid(rng)
    return DoseLog(
        patient_id=facts.patient_id,
        client_id=client_id,
        fingerprint=fingerprint({"client_id": client_id, **data}),
        scheduled_date=data["scheduled_date"],
        status=data["status"],
        dose_mg=data.get("dose_mg"),
        expected_dose_mg=expected,
        taken_at=data.get("taken_at"),
        note=data.get("note", ""),
        recorded_by_id=facts.user_id,
    )


# --- check-ins

# CLASI areas where each subtype's lesions usually are, most typical first.
_AREAS: Final[dict[str, tuple[str, ...]]] = {
    "dle": ("face", "ears", "scalp", "nose", "arms"),
    "scle": ("v_neck", "chest", "back", "arms", "posterior_neck"),
    "acle": ("nose", "face", "v_neck", "arms", "hands"),
    "lupus_profundus": ("face", "arms", "legs", "back", "chest"),
    "tumid": ("face", "chest", "back", "arms", "v_neck"),
    "chilblain": ("hands", "feet", "ears", "nose", "legs"),
    "other": ("face", "arms", "chest", "back", "legs"),
}

_QUIET: Final[dict[str, dict[str, int | bool]]] = {
    term: {a: (False if a == "present" else 0) for a in attributes}
    for term, attributes in grading.SYMPTOM_TERMS.items()
}

# GI answers by level: 1 mild, 2 moderate (composite 2), 3 disabling (composite 3).
_GI_LEVELS: Final[tuple[dict[str, dict[str, int]], ...]] = (
    {},
    {"nausea": {"frequency": 1, "severity": 1}, "diarrhea": {"frequency": 1}},
    {
        "nausea": {"frequency": 3, "severity": 2},
        "diarrhea": {"frequency": 2},
        "abdominal_pain": {"frequency": 2, "severity": 1, "interference": 1},
    },
    {
        "nausea": {"frequency": 4, "severity": 3},
        "vomiting": {"frequency": 2, "severity": 2},
        "diarrhea": {"frequency": 4},
        "abdominal_pain": {"frequency": 3, "severity": 2, "interference": 3},
    },
)

_RED_FLAGS: Final = (
    "mouth_ulcers",
    "hair_loss",
    "chest_pain",
    "neuro_symptoms",
    "fever",
    "joint_pain",
    "foamy_urine",
    "missed_period",
)


@lru_cache(maxsize=4096)
def _composite(term: str, answers: tuple[tuple[str, int | bool], ...]) -> int | None:
    return grading.composite_grade(term, dict(answers))


def _skin_scores(activity: int, rng: random.Random) -> tuple[int, int, int]:
    """Itch, pain and global skin activity (0-10) that follow CLASI activity; in remission
    they stay at 0-1, so only a real flare rises 2 above the nadir."""

    def jitter() -> int:
        return 1 if rng.random() < 0.25 else 0

    if activity == 0:
        return jitter(), 1 if rng.random() < 0.1 else 0, jitter()
    itch = min(10, round(activity * 0.5) + jitter())
    pain = min(10, round(activity * 0.3) + jitter())
    global_activity = min(10, max(1, round(activity * 0.6)) + jitter())
    return itch, pain, global_activity


def _answers(
    term: str, course: Course, day: int, activity: int, itch: int, facts: Facts, rng: random.Random
) -> dict[str, int | bool]:
    """The PRO-CTCAE answers to one item on one check-in."""
    gi = _GI_LEVELS[course.gi.get(day, 0)]
    if term in gi:
        return {**_QUIET[term], **gi[term]}
    if term == "fatigue":
        severity = rng.choice((0, 0, 1))
        return {"severity": severity, "interference": 0}
    if term == "insomnia" and day in course.insomnia:
        return {"severity": rng.choice((2, 3)), "interference": rng.choice((1, 2))}
    if term == "itchy_skin":
        return {"severity": min(4, (itch + 1) // 2)}
    if term == "rash":
        return {"present": activity > 0}
    if term == "sun_sensitivity":
        return {"present": activity > 0 and facts.subtype == "scle"}
    return dict(_QUIET[term])


def _check_in_row(
    course: Course, day: int, facts: Facts, clock: Clock, rng: random.Random
) -> CheckIn:
    answered_at = clock.past(day, 19 * 60 + rng.randint(0, 150))
    activity = course.activity(day)
    itch, pain, global_activity = _skin_scores(activity, rng)
    new_lesions = day == 0 or (course.relapse_on(day) is not None and activity >= 2)
    areas = _AREAS.get(facts.subtype, _AREAS["other"])
    symptoms = [
        {"term": t, **_answers(t, course, day, activity, itch, facts, rng)} for t in course.terms
    ]
    data: dict[str, Any] = {
        "answered_at": answered_at,
        "symptoms": symptoms,
        "itch": itch,
        "pain": pain,
        "global_activity": global_activity,
        "new_lesions": new_lesions,
        "lesion_areas": sorted(rng.sample(areas[:3], rng.randint(1, 2))) if new_lesions else [],
        **dict.fromkeys(_RED_FLAGS, False),
    }
    client_id = _uuid(rng)
    graded = [
        {**item, "composite_grade": _composite(item["term"], _answer_key(item))}
        for item in symptoms
    ]
    return CheckIn(
        patient_id=facts.patient_id,
        client_id=client_id,
        fingerprint=fingerprint({"client_id": client_id, **data}),
        local_date=schedules.local_date(answered_at, facts.tz),
        **{**data, "symptoms": graded},
    )


def _answer_key(item: dict[str, Any]) -> tuple[tuple[str, int | bool], ...]:
    return tuple((k, v) for k, v in item.items() if k != "term")


# --- labs

_UNITS: Final = {
    "anc": "10^9/L",
    "platelets": "10^9/L",
    "wbc": "10^9/L",
    "hemoglobin": "g/dL",
    "creatinine": "mg/dL",
}


def _lab(facts: Facts, test: str, at: datetime, value: Decimal | None = None) -> LabResult:
    grade = grading.ctcae_grade(test, value) if value is not None else None
    return LabResult(
        patient_id=facts.patient_id,
        test=test,
        value=value,
        result="" if value is not None else LabResult.Result.NEGATIVE,
        unit=_UNITS.get(test, ""),
        collected_at=at,
        ctcae_grade=grade,
        ctcae_version=grading.CTCAE_VERSION if grade is not None else "",
        entered_by_id=facts.nurse_id,
    )


def _lab_rows(course: Course, facts: Facts, clock: Clock, rng: random.Random) -> list[LabResult]:
    """Blood counts (ANC, platelets, WBC, haemoglobin), creatinine and pregnancy tests."""
    anc0, platelets0 = rng.uniform(2.6, 4.6), rng.uniform(190.0, 320.0)
    hb0 = rng.uniform(12.4, 14.0) if facts.sex == Patient.Sex.FEMALE else rng.uniform(13.6, 15.6)
    rows: list[LabResult] = []
    for day in course.cbc_days:
        at = clock.past(day, 8 * 60 + rng.randint(0, 90))
        anc = course.anc_low.get(day) or _q(max(1.6, anc0 * 0.88 + rng.gauss(0, 0.3)), "0.01")
        values = {
            "anc": anc,
            "platelets": _q(max(150.0, platelets0 + rng.gauss(0, 18)), "1"),
            "wbc": _q(float(anc) + rng.uniform(1.5, 2.3), "0.01"),
            "hemoglobin": _q(max(12.0, hb0 + rng.gauss(0, 0.3)), "0.1"),
        }
        rows += [_lab(facts, test, at, value) for test, value in values.items()]
    for day in course.creatinine_days:
        value = _q(rng.uniform(0.6, 1.0), "0.01")
        rows.append(_lab(facts, "creatinine", clock.past(day, 8 * 60 + 30), value))
    if facts.sex == Patient.Sex.FEMALE and facts.potential:
        rows += [_lab(facts, "pregnancy_hcg", clock.past(d, 8 * 60)) for d in course.pregnancy_days]
    return rows


def _q(value: float, places: str) -> Decimal:
    return Decimal(str(value)).quantize(Decimal(places))


# --- CLASI


def _damage(subtype: str, rng: random.Random) -> tuple[dict[str, dict[str, int]], bool, int]:
    """Per-area damage (constant: lenalidomide did not change CLASI damage), whether the
    dyspigmentation lasts >= 12 months, and scalp scarring."""
    if subtype == "dle":
        areas = {"face": {"dyspigmentation": 1, "scarring": 1}, "ears": {"dyspigmentation": 1}}
        return areas, True, rng.choice((0, 3))
    if subtype == "scle":
        return {"v_neck": {"dyspigmentation": 1}, "back": {"dyspigmentation": 1}}, False, 0
    if subtype == "lupus_profundus":
        return {"arms": {"scarring": 2}, "face": {"scarring": 1}}, False, 0
    return {}, False, 0


def _clasi_areas(activity: int, order: tuple[str, ...], damage: dict[str, dict[str, int]]) -> dict:
    """Spread `activity` over the subtype's areas: erythema first (up to 3), then scale (2)."""
    areas: dict[str, dict[str, int]] = {a: dict(items) for a, items in damage.items()}
    remaining = min(activity, 5 * len(order))
    for key, cap in (("erythema", 3), ("scale", 2)):
        for _ in range(cap):
            for area in order:
                if remaining:
                    items = areas.setdefault(area, {})
                    items[key] = items.get(key, 0) + 1
                    remaining -= 1
    keys = ("erythema", "scale", "dyspigmentation", "scarring")
    return {a: {k: items.get(k, 0) for k in keys} for a, items in sorted(areas.items())}


def _clasi_rows(
    course: Course, facts: Facts, clock: Clock, rng: random.Random
) -> list[ClasiAssessment]:
    damage, lasting, scalp_scarring = _damage(facts.subtype, rng)
    order = _AREAS.get(facts.subtype, _AREAS["other"])
    rows: list[ClasiAssessment] = []
    for day in sorted(v for v in course.visits if v <= course.days):
        areas = _clasi_areas(course.activity(day), order, damage)
        result = clasi.score(areas, scalp_scarring=scalp_scarring, dyspigmentation_lasting=lasting)
        rows.append(
            ClasiAssessment(
                patient_id=facts.patient_id,
                assessed_on=clock.date(day),
                areas=areas,
                scalp_scarring=scalp_scarring,
                dyspigmentation_lasting=lasting,
                activity_score=result.activity,
                damage_score=result.damage,
                activity_band=result.band,
                instrument=clasi.INSTRUMENT,
                instrument_version=clasi.VERSION,
                assessed_by_id=facts.clinician_id,
            )
        )
    return rows


# --------------------------------------------------------------------------- demo entry point


def _care_staff(patient: Patient) -> tuple[int, int]:
    """(nurse id, clinician id) of the patient's clinic, falling back to whoever exists."""
    found: dict[str, int] = {}
    for role, user_id in (
        StaffMembership.objects.filter(clinic_id=patient.clinic_id, role__in=("nurse", "clinician"))
        .order_by("pk")
        .values_list("role", "user_id")
    ):
        found.setdefault(role, user_id)
    clinician = found.get("clinician") or patient.enrolled_by_id or patient.user_id
    return found.get("nurse", clinician), clinician


def _facts(patient: Patient, nurse_id: int, clinician_id: int) -> Facts:
    return Facts(
        patient_id=patient.pk,
        user_id=patient.user_id,
        nurse_id=nurse_id,
        clinician_id=clinician_id,
        mrn=patient.mrn,
        sex=patient.sex,
        potential=patient.reproductive_potential,
        subtype=patient.cle_subtype,
        tz=patient.timezone,
    )


def seed_patient_history(patient: Patient, *, index: int) -> None:
    """Give a demo patient months of study-like history ending today (see PROFILES).

    Idempotent: a patient who already has regimen steps is left alone. Deterministic for a
    given index and date. The patient is marked changed so the evaluation sweep picks them up.
    """
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        if RegimenStep.objects.filter(patient=locked).exists():
            return
        rng = _rng(index)
        course = _demo_course(locked, index, rng)
        now = timezone.now()
        clock = Clock.ending_today(locked.timezone, course.days, now)
        _build_rows(course, _facts(locked, *_care_staff(locked)), clock, rng).save()
        Patient.objects.filter(pk=patient.pk).update(
            status=course.status, changed_at=now, change_seq=F("change_seq") + 1
        )
    patient.status, patient.changed_at = course.status, now


# --------------------------------------------------------------------------- synthetic cohort

_SUBTYPES: Final = ("dle", "scle", "lupus_profundus", "tumid", "chilblain", "acle")
_SUBTYPE_WEIGHTS: Final = (40, 35, 10, 6, 5, 4)
_FIRST: Final = {
    "female": ("Alba", "Berta", "Clara", "Dolors", "Eva", "Irene", "Julia", "Lucia", "Paula"),
    "male": ("Arnau", "Biel", "David", "Enric", "Hugo", "Marc", "Oriol", "Pau", "Xavier"),
}
_LAST: Final = ("Garcia", "Martinez", "Lopez", "Sanchez", "Perez", "Gomez", "Ruiz", "Diaz")
_COHORT_TERMS: Final = (
    "nausea",
    "vomiting",
    "diarrhea",
    "abdominal_pain",
    "fatigue",
    "insomnia",
    "itchy_skin",
    "rash",
)


@dataclass(frozen=True, slots=True)
class Member:
    """A synthetic cohort patient before it is saved: demographics and course."""

    index: int
    first: str
    last: str
    born: date
    sex: str
    potential: bool
    subtype: str
    course: Course

    @property
    def mrn(self) -> str:
        return f"COH{self.index:06d}"

    @property
    def email(self) -> str:
        return f"coh{self.index:06d}@{COHORT_DOMAIN}"


def _cohort_member(index: int, days: int) -> tuple[Member, random.Random]:
    """Demographics and course of cohort patient `index` (deterministic)."""
    rng = _rng(index)
    subtype = rng.choices(_SUBTYPES, _SUBTYPE_WEIGHTS)[0]
    sex = "female" if rng.random() < 0.8 else "male"
    age = rng.randint(22, 75)
    member = Member(
        index=index,
        first=rng.choice(_FIRST[sex]),
        last=rng.choice(_LAST),
        born=date(2025 - age, rng.randint(1, 12), rng.randint(1, 28)),
        sex=sex,
        potential=sex == "female" and age < 50 and rng.random() < 0.8,
        subtype=subtype,
        course=_cohort_course(subtype, days, rng),
    )
    return member, rng


def _cohort_course(subtype: str, days: int, rng: random.Random) -> Course:
    """A mix: most adherent responders, ~10% poor adherence, ~15% a taper in the last 8 weeks
    followed by rising symptoms, ~3% neutropenia, ~8% GI symptoms."""
    roll = rng.random()
    profundus = subtype == "lupus_profundus"
    cr_day: int | None = rng.randint(28, 224) if profundus else rng.randint(14, 84)
    if rng.random() < 0.14:
        cr_day = None  # no complete response
    escalate = days > 42 and (cr_day is None or cr_day > 42) and rng.random() < 0.5
    course = Course(
        days=days,
        steps=[PlannedStep(0, LEVEL_START, "start")],
        knots=_response_knots(rng.randint(6, 18), cr_day, escalate),
        visits=set(range(0, days + 1, 28)),
        check_in_days=_weekly_back(days),
        cbc_days=list(range(0, days + 1, 14)),
        pregnancy_days=_pregnancy_days(days),
        creatinine_days=[0],
        terms=_COHORT_TERMS,
        missed_rate=rng.uniform(0.02, 0.07),
    )
    if escalate:
        course.steps.append(PlannedStep(28, LEVEL_10MG, "escalation"))
    if roll < 0.15 and days >= 42:
        _cohort_taper_flare(course, rng)
    elif cr_day is not None and cr_day + 56 <= days and rng.random() < 0.5:
        _cohort_routine_taper(course, cr_day)
    _cohort_events(course, roll, rng)
    return course


def _cohort_taper_flare(course: Course, rng: random.Random) -> None:
    """CR, a taper 2-7 weeks ago, and lesions returning over the last two check-ins."""
    taper = course.days - rng.randint(14, min(50, course.days - 28))
    cr_day = rng.randint(14, taper - 7)
    course.steps = [PlannedStep(0, LEVEL_START, "start"), PlannedStep(taper, 2, "taper")]
    course.knots = _response_knots(rng.randint(6, 18), cr_day, False)
    course.visits.add(taper)
    _add_relapse(course, course.days - 11, rng, open_=True)


def _cohort_routine_taper(course: Course, cr_day: int) -> None:
    """One taper at the first monthly visit 4 weeks after CR, without relapse."""
    day = -(-(cr_day + 28) // 28) * 28
    if day <= course.days:
        level = course.steps[-1].level + 1
        course.steps.append(PlannedStep(day, level, "taper"))
        course.visits.add(day)


def _cohort_events(course: Course, roll: float, rng: random.Random) -> None:
    """Poor adherence, neutropenia and GI symptoms, by the patient's behaviour roll."""
    if 0.15 <= roll < 0.25:
        course.missed_rate = rng.uniform(0.2, 0.35)
        course.not_logged_rate = rng.uniform(0.05, 0.15)
    elif 0.25 <= roll < 0.28 and course.cbc_days:
        low = rng.uniform(0.6, 0.95) if rng.random() < 0.2 else rng.uniform(1.0, 1.45)
        course.anc_low = {rng.choice(course.cbc_days[-2:]): _q(low, "0.01")}
    elif 0.28 <= roll < 0.36:
        days = rng.sample(course.check_in_days, min(2, len(course.check_in_days)))
        course.gi = {d: rng.choice((2, 3)) for d in days}


def _cohort_staff(clinic: Clinic, password_hash: Callable[[], str]) -> tuple[int, int]:
    """(nurse id, clinician id) of the cohort clinic, created with the shared hash if missing."""
    ids: dict[str, int] = {}
    for role, first in (("nurse", "Nadia"), ("clinician", "Carles")):
        email = f"cohort-{role}@{COHORT_DOMAIN}"
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create(
                email=email, password=password_hash(), first_name=first, last_name="Cohort"
            )
        StaffMembership.objects.get_or_create(
            user=user, defaults={"clinic": clinic, "role": role, "on_call": role == "clinician"}
        )
        ids[role] = user.pk
    return ids["nurse"], ids["clinician"]


def _missing_indices(clinic: Clinic, n: int) -> list[int]:
    existing = set(
        Patient.objects.filter(clinic=clinic, mrn__startswith="COH").values_list("mrn", flat=True)
    )
    return [i for i in range(1, n + 1) if f"COH{i:06d}" not in existing]


def _ids(model: type[models.Model], key: str, values: Iterable[str]) -> dict[str, int]:
    rows = model.objects.filter(**{f"{key}__in": list(values)}).values_list(key, "pk")  # type: ignore[attr-defined]
    return dict(rows)


@dataclass(frozen=True, slots=True)
class _CohortContext:
    clinic: Clinic
    nurse_id: int
    clinician_id: int
    clock: Clock
    password_hash: str


def _save_people(members: list[Member], ctx: _CohortContext) -> tuple[dict[str, int], ...]:
    """Users (shared password hash), patients and their care team; ({email: id}, {mrn: id})."""
    User.objects.bulk_create(
        [
            User(email=m.email, password=ctx.password_hash, first_name=m.first, last_name=m.last)
            for m in members
        ],
        batch_size=BATCH_SIZE,
        ignore_conflicts=True,
    )
    users = _ids(User, "email", (m.email for m in members))
    Patient.objects.bulk_create(
        [_cohort_patient(m, users[m.email], ctx) for m in members], batch_size=BATCH_SIZE
    )
    patients = _ids(Patient, "mrn", (m.mrn for m in members))
    CareTeamAssignment.objects.bulk_create(
        [
            CareTeamAssignment(patient_id=patients[m.mrn], user_id=staff)
            for m in members
            for staff in (ctx.nurse_id, ctx.clinician_id)
        ],
        batch_size=BATCH_SIZE,
        ignore_conflicts=True,
    )
    return users, patients


def _cohort_patient(member: Member, user_id: int, ctx: _CohortContext) -> Patient:
    return Patient(
        user_id=user_id,
        clinic=ctx.clinic,
        mrn=member.mrn,
        first_name=member.first,
        last_name=member.last,
        date_of_birth=member.born,
        sex=member.sex,
        reproductive_potential=member.potential,
        cle_subtype=member.subtype,
        timezone=ctx.clinic.timezone,
        status=Patient.Status.ACTIVE,
        enrolled_by_id=ctx.clinician_id,
        changed_at=ctx.clock.now,
        change_seq=1,
    )


def _seed_chunk(indices: list[int], days: int, ctx: _CohortContext) -> None:
    """Users, patients, care team and history of some cohort patients, in one transaction."""
    members = [_cohort_member(i, days) for i in indices]
    with transaction.atomic():
        users, patients = _save_people([m for m, _ in members], ctx)
        rows = Rows()
        for member, rng in members:
            facts = Facts(
                patient_id=patients[member.mrn],
                user_id=users[member.email],
                nurse_id=ctx.nurse_id,
                clinician_id=ctx.clinician_id,
                mrn=member.mrn,
                sex=member.sex,
                potential=member.potential,
                subtype=member.subtype,
                tz=ctx.clinic.timezone,
            )
            rows.extend(_build_rows(member.course, facts, ctx.clock, rng))
        rows.save()


def seed_cohort(*, n: int, days: int, password: str, progress: bool) -> int:
    """Create the missing ones of N synthetic patients (MRN COH000001..) at the Cohort Clinic,
    each with `days` days of history ending today. Returns how many were created.

    One password hash is shared by every user; rows go in with bulk_create, COHORT_CHUNK
    patients per transaction, so an interrupted run leaves whole patients only and a rerun
    completes it.
    """
    from tqdm import tqdm

    if n < 0 or days < 1:
        raise ValueError("n must be >= 0 and days >= 1")
    clinic, _ = Clinic.objects.get_or_create(
        name=COHORT_CLINIC, defaults={"timezone": COHORT_TIMEZONE}
    )
    password_hash = cache(lambda: make_password(password))
    nurse_id, clinician_id = _cohort_staff(clinic, password_hash)
    missing = _missing_indices(clinic, n)
    if not missing:
        return 0
    clock = Clock.ending_today(clinic.timezone, days, timezone.now())
    ctx = _CohortContext(clinic, nurse_id, clinician_id, clock, password_hash())
    with tqdm(total=len(missing), unit="patient", desc="Cohort", disable=not progress) as bar:
        for start in range(0, len(missing), COHORT_CHUNK):
            chunk = missing[start : start + COHORT_CHUNK]
            _seed_chunk(chunk, days, ctx)
            bar.update(len(chunk))
    return len(missing)
