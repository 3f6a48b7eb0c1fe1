"""Evaluate patients' timelines and upsert alerts by episode key (DESIGN.md section 2).

One code path for a single patient (on commit of a write) and for the sweep (batches of
patients): lock the batch's patient rows (SKIP LOCKED, so concurrent workers split the work
instead of waiting), load the timelines in a fixed number of queries, run the pure rules,
then create or update alerts with a fixed number of queries per batch. Running it twice, or
twice at once, changes nothing the second time: the patient row lock serialises evaluations
of one patient, and the unique (patient, rule, episode_key) backs it up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from celery import shared_task
from django.db import OperationalError, transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.utils import timezone

from notifications import routing
from notifications.models import SEVERITY_RANK, Alert, AlertEvent
from tracker.detection.engine import RULES, TIME_BASED_RULES, EvaluationError, evaluate
from tracker.detection.findings import Finding
from tracker.detection.thresholds import ThresholdError, Thresholds
from tracker.models import ClinicRuleSettings, Patient
from tracker.schedules import local_date
from tracker.timeline_loader import timelines_load

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
# A change younger than this still has its own evaluation task on the way: leave it to that.
CATCH_UP_GRACE = timedelta(seconds=20)
ACTIVE = (Patient.Status.INVITED, Patient.Status.ACTIVE)


@dataclass
class Outcome:
    evaluated: int = 0
    created: list[Alert] = field(default_factory=list)
    raised: list[Alert] = field(default_factory=list)
    updated: int = 0


def _thresholds(clinic_ids: Iterable[int]) -> dict[int, Thresholds]:
    result: dict[int, Thresholds] = {}
    for clinic_id, overrides in ClinicRuleSettings.objects.filter(
        clinic_id__in=set(clinic_ids)
    ).values_list("clinic_id", "overrides"):
        try:
            result[clinic_id] = Thresholds.from_overrides(overrides or {})
        except ThresholdError:
            # The admin validates overrides; a bad row written otherwise must not stop alerts.
            logger.error("clinic %s has invalid thresholds; using defaults", clinic_id)
    return result


_TIME_BASED = {code: rule for code, rule in RULES.items() if code in TIME_BASED_RULES}


def _findings(
    patient: Patient,
    timeline: object,
    thresholds: Thresholds,
    *,
    now: datetime,
    time_based_only: bool,
    failed: set[int],
) -> list[Finding]:
    today = local_date(now, patient.timezone)
    rules = _TIME_BASED if time_based_only else RULES
    try:
        return evaluate(timeline, today, thresholds, rules=rules)  # type: ignore[arg-type]
    except EvaluationError as exc:
        # One broken rule must not hide the others' alerts; the error is logged loudly, and
        # the patient stays due, so a fixed rule runs for them on the next sweep.
        logger.error("rule errors for patient %s: %s", patient.pk, exc)
        failed.add(patient.pk)
        return exc.findings


@transaction.atomic
def patients_evaluate(patient_ids: Sequence[int]) -> Outcome:
    """Evaluate these patients (the ones not locked by another evaluation right now)."""
    outcome = Outcome()
    patients = list(
        Patient.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk__in=patient_ids, status__in=ACTIVE)
        .order_by("pk")
    )
    if not patients:
        return outcome
    # A patient whose data did not change since the last evaluation can only gain findings
    # from the passing of time: run just the time-based rules, on a leaner timeline.
    unchanged = frozenset(
        p.pk for p in patients if p.change_seq == p.evaluated_seq and p.evaluated_at is not None
    )
    timelines = timelines_load(patients, without_symptoms=unchanged)
    thresholds = _thresholds(p.clinic_id for p in patients)
    # One clock for the whole batch: the local date the rules see and the midnight after
    # which the patient is due again must come from the same instant.
    now = timezone.now()
    failed: set[int] = set()
    findings = {
        p.pk: _findings(
            p,
            timelines[p.pk],
            thresholds.get(p.clinic_id, Thresholds()),
            now=now,
            time_based_only=p.pk in unchanged,
            failed=failed,
        )
        for p in patients
    }
    _upsert(patients, findings, outcome)
    # Under our row locks change_seq cannot move, so F("change_seq") is what we evaluated.
    _mark_evaluated(patients, now, failed=failed)
    outcome.evaluated = len(patients)
    return outcome


def next_local_midnight(moment: datetime, tz: str) -> datetime:
    """The first instant after ``moment`` at which the local date of zone ``tz`` changes.

    Computed on the wall clock and then localised, so a daylight-saving change (or a zone
    whose clocks skip midnight) still gives the right instant.
    """
    zone = ZoneInfo(tz)
    tomorrow = moment.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time.min, tzinfo=zone).astimezone(UTC)


def _mark_evaluated(patients: list[Patient], now: datetime, *, failed: set[int]) -> None:
    """One UPDATE for the batch: the change_seq evaluated, and when each patient's local
    date next changes (the earliest moment a time-based rule can give another answer).
    Patients for whom a rule raised get no such moment: they stay due."""
    zones = sorted({p.timezone for p in patients})
    stay_due = [When(pk__in=sorted(failed), then=Value(None))] if failed else []
    Patient.objects.filter(pk__in=[p.pk for p in patients]).update(
        evaluated_seq=F("change_seq"),
        evaluated_at=now,
        evaluate_after=Case(
            *stay_due,
            *(When(timezone=tz, then=Value(next_local_midnight(now, tz))) for tz in zones),
            output_field=DateTimeField(),
        ),
    )


def _upsert(patients: list[Patient], findings: dict[int, list[Finding]], outcome: Outcome) -> None:
    by_pk = {p.pk: p for p in patients}
    wanted = {(pid, f.rule, f.episode_key): f for pid, items in findings.items() for f in items}
    if not wanted:
        return
    existing = {
        (a.patient_id, a.rule, a.episode_key): a
        for a in Alert.objects.select_for_update().filter(patient_id__in=list(findings))
        if (a.patient_id, a.rule, a.episode_key) in wanted
    }
    now = timezone.now()
    new: list[Alert] = []
    changed: list[Alert] = []
    events: list[AlertEvent] = []
    for key, f in wanted.items():
        alert = existing.get(key)
        rank = SEVERITY_RANK[f.severity]
        if alert is None:
            patient = by_pk[key[0]]
            new.append(
                Alert(
                    patient=patient,
                    clinic_id=patient.clinic_id,
                    rule=f.rule,
                    episode_key=f.episode_key[:200],
                    severity=f.severity,
                    severity_rank=rank,
                    summary=f.summary[:300],
                    evidence=f.evidence,
                    routed_at=now,  # routed below, in this transaction
                )
            )
            continue
        if alert.status == Alert.Status.RESOLVED or alert.evidence == f.evidence:
            continue  # a resolved episode never reopens on the same episode key
        raised = rank > alert.severity_rank
        events.append(
            AlertEvent(
                alert=alert,
                kind=AlertEvent.Kind.SEVERITY_RAISED if raised else AlertEvent.Kind.EVIDENCE_ADDED,
                data={"from": alert.severity, "to": f.severity} if raised else {},
            )
        )
        alert.evidence = f.evidence
        alert.summary = f.summary[:300]
        if raised:
            alert.severity, alert.severity_rank = f.severity, rank
            alert.routed_at = now  # the escalation clock restarts at the new severity
            outcome.raised.append(alert)
        alert.updated_at = now
        changed.append(alert)
    if new:
        # ignore_conflicts: a concurrent evaluation that slipped past the row lock (e.g. the
        # patient row was deleted and recreated) cannot make a second alert for an episode.
        Alert.objects.bulk_create(new, ignore_conflicts=True)
        created = list(
            Alert.objects.filter(
                patient_id__in=[a.patient_id for a in new],
                public_id__in=[a.public_id for a in new],
            )
        )
        events.extend(AlertEvent(alert=a, kind=AlertEvent.Kind.CREATED) for a in created)
        outcome.created.extend(created)
    if changed:
        Alert.objects.bulk_update(
            changed,
            ["evidence", "summary", "severity", "severity_rank", "routed_at", "updated_at"],
        )
        outcome.updated += len(changed)
    if events:
        AlertEvent.objects.bulk_create(events)
    for alert in outcome.created:
        routing.alert_changed(alert, change="created", now=now)
    for alert in outcome.raised:
        routing.alert_changed(alert, change="severity_raised", now=now)


def patient_evaluate(patient_id: int) -> Outcome:
    return patients_evaluate([patient_id])


def evaluation_sweep(*, batch_size: int = BATCH_SIZE, everyone: bool = False) -> Outcome:
    """Every active patient that is due, in batches: those whose data changed since their last
    evaluation (an evaluation a broker outage lost: all rules), and those whose local date
    moved on since (the time-based rules: overdue tests, missing check-ins, doses not logged,
    non-response). Nobody else can have a finding change, so a sweep between two local
    midnights is one query. Queries: one, then a fixed number per batch.

    ``everyone`` evaluates every active patient, due or not (the evaluate_patients command).
    """
    active = Patient.objects.filter(status__in=ACTIVE)
    if not everyone:
        active = active.filter(
            Q(evaluate_after__isnull=True)
            | Q(evaluate_after__lte=timezone.now())
            | Q(change_seq__gt=F("evaluated_seq"))
        )
    ids = list(active.order_by("pk").values_list("pk", flat=True))
    return _in_batches(ids, batch_size)


def evaluation_catch_up(*, batch_size: int = BATCH_SIZE) -> Outcome:
    """Only the patients changed since their last evaluation (change_seq ahead of
    evaluated_seq) more than CATCH_UP_GRACE ago: the evaluations whose task a broker outage,
    an emptied queue or a killed worker lost. One cheap query when there are none, so beat
    runs it every minute: a lost evaluation costs a minute, not the full sweep's five."""
    ids = list(
        Patient.objects.filter(
            status__in=ACTIVE,
            change_seq__gt=F("evaluated_seq"),
            changed_at__lt=timezone.now() - CATCH_UP_GRACE,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return _in_batches(ids, batch_size)


def _in_batches(ids: list[int], batch_size: int) -> Outcome:
    total = Outcome()
    for start in range(0, len(ids), batch_size):
        part = patients_evaluate(ids[start : start + batch_size])
        total.evaluated += part.evaluated
        total.created.extend(part.created)
        total.raised.extend(part.raised)
        total.updated += part.updated
    return total


@shared_task(
    name="notifications.evaluation.patient_evaluate_task",
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)
def patient_evaluate_task(*, patient_id: int) -> int:
    """Evaluate one patient; a missing or inactive patient is a no-op. Returns alerts created."""
    return len(patient_evaluate(patient_id).created)


@shared_task(name="notifications.evaluation.evaluation_sweep_task")
def evaluation_sweep_task() -> int:
    return evaluation_sweep().evaluated


@shared_task(name="notifications.evaluation.evaluation_catch_up_task")
def evaluation_catch_up_task() -> int:
    return evaluation_catch_up().evaluated
