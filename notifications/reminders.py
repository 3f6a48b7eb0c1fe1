"""Patient reminders: dose, weekly check-in, blood count and pregnancy test.

Two steps, both run by `reminders_sweep_task`:
- plan: for each active patient's *local* today, insert a PatientReminder per kind due that
  day. The unique (patient, local_date, kind) makes this idempotent, so re-running the sweep,
  regenerating the regimen or a clock change never re-sends (DESIGN.md section 9).
- send: reminders whose `due_at` has passed become push deliveries to the patient's active
  devices, after re-checking that they still apply (a regimen put on hold this morning must
  not remind the patient to take a dose).

When (DESIGN.md section 5 defaults, or the clinic's threshold overrides):
- dose: on dose days only (tracker.schedules.expand), at the clinic's dose_reminder_time in
  the patient's zone, whatever the UTC offset that day;
- check-in: weekly, on the weekday treatment started, unless one was done in the last 6 days;
- blood count: weekly for the first 8 weeks, then every 35 days, counted from the last count;
- pregnancy test (female of reproductive potential): weekly for 4 weeks, then every 28 days
  (14 with irregular cycles), and for 28 days after stopping;
- an overdue test is reminded on its due date and then every 7 days until one is recorded.
Quiet hours (clinic policy, patient's local time): a reminder due inside them waits until
they end. A reminder more than 12 hours late is skipped: yesterday's dose reminder is noise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.utils import timezone

from notifications import outbox
from notifications.models import ClinicAlertPolicy, Device, NotificationDelivery, PatientReminder
from tracker.detection.thresholds import ThresholdError, Thresholds
from tracker.models import CheckIn, ClinicRuleSettings, LabResult, Patient, RegimenStep
from tracker.schedules import Step, expand

logger = logging.getLogger(__name__)

Kind = PatientReminder.Kind
BLOOD_COUNT_TESTS = ("anc", "wbc", "platelets")
STALE_AFTER = timedelta(hours=12)
BATCH = 500


def wall_clock(day: date, at: time, zone: ZoneInfo) -> datetime:
    """Aware datetime for a local wall-clock time; a time inside a spring-forward gap moves
    forward by the gap (as tracker.schedules does for dose times)."""
    local = datetime.combine(day, at.replace(tzinfo=None, fold=0)).replace(tzinfo=zone)
    return local.astimezone(UTC).astimezone(zone)


def in_quiet_hours(local: datetime, start: int, end: int) -> bool:
    """start == end means no quiet hours; start > end wraps midnight (22 -> 7)."""
    if start == end:
        return False
    if start < end:
        return start <= local.hour < end
    return local.hour >= start or local.hour < end


def out_of_quiet_hours(moment: datetime, zone: ZoneInfo, policy: ClinicAlertPolicy) -> datetime:
    """`moment` if outside quiet hours, else the local end of the quiet hours it falls in."""
    local = moment.astimezone(zone)
    start, end = policy.quiet_hours_start, policy.quiet_hours_end
    if not in_quiet_hours(local, start, end):
        return moment
    day = local.date() if local.hour < end else local.date() + timedelta(days=1)
    return wall_clock(day, time(end), zone)


@dataclass(frozen=True, slots=True)
class Context:
    policy: ClinicAlertPolicy
    thresholds: Thresholds


def _due_on(day: date, due: date) -> bool:
    return day >= due and (day - due).days % 7 == 0


def _local(moment: datetime | None, zone: ZoneInfo) -> date | None:
    return moment.astimezone(zone).date() if moment is not None else None


def plan_for(patient: Patient, day: date, ctx: Context) -> dict[str, datetime]:
    """{kind: due_at} of the reminders due on local `day` (due_at not yet moved out of quiet
    hours). `patient` must come from `patients_with_facts()`."""
    rows: list[RegimenStep] = getattr(patient, "current_steps", [])
    if not rows or day < rows[0].starts_on:
        return {}
    steps = [
        Step(
            starts_on=r.starts_on,
            dose_mg=r.dose_mg,
            pattern=r.pattern,
            weekdays=tuple(r.weekdays or ()),
            cycle_days_on=r.cycle_days_on,
            cycle_length=r.cycle_length,
            reason=r.reason,
        )
        for r in rows
    ]
    zone = ZoneInfo(patient.timezone)
    at = ctx.policy.dose_reminder_time
    th = ctx.thresholds
    start = steps[0].starts_on
    current = next(s for s in reversed(steps) if s.starts_on <= day)
    stopped = current.pattern == "stopped"
    planned: dict[str, datetime] = {}

    expected = expand(steps, day, day, patient.timezone, dose_time=at)[0]
    if expected.is_dose_day and expected.due_at is not None:
        planned[Kind.DOSE] = expected.due_at

    last_check_in: date | None = getattr(patient, "last_check_in_on", None)
    weekly = day > start and (day - start).days % 7 == 0
    if weekly and (last_check_in is None or last_check_in <= day - timedelta(days=7)):
        planned[Kind.CHECKIN] = wall_clock(day, at, zone)

    if not stopped:
        last_count = _local(getattr(patient, "last_count_at", None), zone)
        early = day < start + timedelta(weeks=th.early_phase_weeks)
        interval = th.cbc_interval_early_days if early else th.cbc_interval_days
        if _due_on(day, (last_count or start) + timedelta(days=interval)):
            planned[Kind.CBC] = wall_clock(day, at, zone)

    if patient.sex == "female" and patient.reproductive_potential:
        stopped_long = stopped and (day - current.starts_on).days > th.pregnancy_after_stop_days
        positive = getattr(patient, "last_pregnancy_result", None) == "positive"
        if not stopped_long and not positive:
            last_test = _local(getattr(patient, "last_pregnancy_at", None), zone)
            if last_test is None:
                due = start
            elif last_test < start + timedelta(weeks=th.pregnancy_early_weeks):
                due = last_test + timedelta(days=th.pregnancy_interval_early_days)
            elif patient.irregular_cycles:
                due = last_test + timedelta(days=th.pregnancy_interval_irregular_days)
            else:
                due = last_test + timedelta(days=th.pregnancy_interval_days)
            if _due_on(day, due):
                planned[Kind.PREGNANCY] = wall_clock(day, at, zone)
    return planned


def patients_with_facts(now: datetime) -> QuerySet[Patient]:
    """Active patients with their current steps and latest test dates as of `now`, in a
    fixed number of queries whatever the number of patients."""
    labs = LabResult.objects.filter(patient=OuterRef("pk"), collected_at__lte=now).order_by(
        "-collected_at", "-pk"
    )
    counts = labs.filter(test__in=BLOOD_COUNT_TESTS, value__isnull=False)
    pregnancy = labs.filter(test="pregnancy_hcg", result__in=["positive", "negative"])
    check_ins = CheckIn.objects.filter(patient=OuterRef("pk"), answered_at__lte=now).order_by(
        "-local_date"
    )
    steps = RegimenStep.objects.filter(superseded_at__isnull=True).order_by("starts_on", "pk")
    return (
        Patient.objects.filter(status=Patient.Status.ACTIVE)
        .annotate(
            last_count_at=Subquery(counts.values("collected_at")[:1]),
            last_pregnancy_at=Subquery(pregnancy.values("collected_at")[:1]),
            last_pregnancy_result=Subquery(pregnancy.values("result")[:1]),
            last_check_in_on=Subquery(check_ins.values("local_date")[:1]),
        )
        .prefetch_related(Prefetch("steps", queryset=steps, to_attr="current_steps"))
        .order_by("pk")
    )


class _Contexts:
    """Per-clinic policy and thresholds, loaded once per clinic per sweep."""

    def __init__(self) -> None:
        self._cache: dict[int, Context] = {}

    def __call__(self, clinic_id: int) -> Context:
        if clinic_id not in self._cache:
            overrides = (
                ClinicRuleSettings.objects.filter(clinic_id=clinic_id)
                .values_list("overrides", flat=True)
                .first()
            )
            try:
                thresholds = Thresholds.from_overrides(overrides or {})
            except ThresholdError:
                logger.warning("clinic %s: invalid threshold overrides; defaults used", clinic_id)
                thresholds = Thresholds()
            self._cache[clinic_id] = Context(outbox.alert_policy_for(clinic_id), thresholds)
        return self._cache[clinic_id]


def _plan_safely(patient: Patient, day: date, ctx: Context) -> dict[str, datetime] | None:
    # One patient's bad data (an unknown zone, a malformed step) must not stop everyone
    # else's reminders; None means "could not tell".
    try:
        return plan_for(patient, day, ctx)
    except (ValueError, KeyError) as exc:
        logger.error("reminders: cannot plan patient %s (%s)", patient.pk, type(exc).__name__)
        return None


def reminders_plan(now: datetime | None = None) -> int:
    """Insert today's reminders (patient-local today) for every active patient.

    Idempotent: existing (patient, local_date, kind) rows are left as they are. Returns the
    number of reminders planned for today, whether inserted now or already present.
    """
    now = now or timezone.now()
    contexts = _Contexts()
    rows: list[PatientReminder] = []
    for patient in patients_with_facts(now).iterator(chunk_size=BATCH):
        ctx = contexts(patient.clinic_id)
        try:
            zone = ZoneInfo(patient.timezone)
        except (ValueError, KeyError):
            logger.error("reminders: patient %s has an unknown time zone", patient.pk)
            continue
        today = now.astimezone(zone).date()
        for kind, due_at in (_plan_safely(patient, today, ctx) or {}).items():
            rows.append(
                PatientReminder(
                    patient=patient,
                    kind=kind,
                    local_date=today,
                    due_at=out_of_quiet_hours(due_at, zone, ctx.policy),
                )
            )
    for i in range(0, len(rows), BATCH):
        PatientReminder.objects.bulk_create(rows[i : i + BATCH], ignore_conflicts=True)
    return len(rows)


@transaction.atomic
def reminders_send(now: datetime | None = None) -> int:
    """Turn due reminders into push deliveries (or skip or postpone them). Returns how many
    were queued. Rows are claimed with SKIP LOCKED, so parallel sweeps share the work."""
    now = now or timezone.now()
    due = list(
        PatientReminder.objects.select_for_update(skip_locked=True)
        .filter(status=PatientReminder.Status.PENDING, due_at__lte=now)
        .order_by("due_at", "pk")[:BATCH]
    )
    if not due:
        return 0
    patients = {
        p.pk: p for p in patients_with_facts(now).filter(pk__in={r.patient_id for r in due})
    }
    devices: dict[int, list[Device]] = {}
    user_ids = {p.user_id for p in patients.values()}
    for device in Device.objects.filter(user_id__in=user_ids, active=True).order_by("pk"):
        devices.setdefault(device.user_id, []).append(device)
    contexts = _Contexts()
    queued = 0
    for reminder in due:
        patient = patients.get(reminder.patient_id)
        skip = _skip_reason(reminder, patient, now, contexts)
        if skip == "quiet":
            assert patient is not None
            zone = ZoneInfo(patient.timezone)
            reminder.due_at = out_of_quiet_hours(now, zone, contexts(patient.clinic_id).policy)
            reminder.save(update_fields=["due_at"])
            continue
        targets = (
            [
                outbox.Target(f"device:{d.pk}", NotificationDelivery.Channel.PUSH, d.user, d)
                for d in devices.get(patient.user_id, [])
            ]
            if patient is not None
            else []
        )
        if skip is None and not targets:
            skip = "no active device"
        if skip is not None:
            logger.info("reminder %s skipped: %s", reminder.pk, skip)
            reminder.status = PatientReminder.Status.SKIPPED
            reminder.save(update_fields=["status"])
            continue
        outbox.deliveries_write(
            targets, purpose=NotificationDelivery.Purpose.REMINDER, reminder=reminder
        )
        reminder.status = PatientReminder.Status.QUEUED
        reminder.save(update_fields=["status"])
        queued += 1
    return queued


def _skip_reason(
    reminder: PatientReminder, patient: Patient | None, now: datetime, contexts: _Contexts
) -> str | None:
    if patient is None:
        return "patient not active"
    if now - reminder.due_at > STALE_AFTER:
        return "too late"
    ctx = contexts(patient.clinic_id)
    zone = ZoneInfo(patient.timezone)
    if in_quiet_hours(
        now.astimezone(zone), ctx.policy.quiet_hours_start, ctx.policy.quiet_hours_end
    ):
        return "quiet"
    planned = _plan_safely(patient, reminder.local_date, ctx)
    if planned is None:
        return "cannot plan"
    if reminder.kind not in planned:
        return "no longer due"
    return None
