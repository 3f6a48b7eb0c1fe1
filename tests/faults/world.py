"""The cohort the faults run against, the writes they make, and the invariant they check.

A triggering event is a check-in reporting sudden neurological symptoms: the
thrombosis_red_flag rule raises exactly one urgent alert for it (episode
`thrombosis:<check-in id>`) and no other rule fires. Benign check-ins and dose logs are load:
they change the patient (change_seq) and raise nothing. Every patient started treatment
today; the cohort logs today's dose as taken once, and the load's dose logs are skipped doses
of days before the start, which the adherence rule ignores (a second "taken" log on one day
would be an extra dose: a triggering event of its own). The nurse has an e-mail address, a
phone and a push device, so each alert makes three deliveries.

The invariant, checked after every fault:
- alerts raised == triggering events (same set of episodes, one `created` event each);
- deliveries unique: per alert exactly its three (target, channel) rows, each sent once
  (one `sent` attempt), and the sink received each key, never a key it should not have;
- no partial writes: each patient's change_seq equals its number of records (each write
  bumps it once, in its own transaction) and was evaluated (evaluated_seq == change_seq).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from notifications.models import Alert, AlertEvent, DeliveryAttempt, Device, NotificationDelivery
from tests.conftest import make_patient, make_staff
from tests.faults import sink
from tracker.models import CheckIn, Clinic, DoseLog, Patient, RegimenStep, User
from tracker.schedules import local_date
from tracker.services.records import check_in_record, dose_log_record

RULE = "thrombosis_red_flag"
DELIVERIES_PER_ALERT = 3  # nurse e-mail, nurse SMS, nurse's device push


@dataclass
class Cohort:
    clinic: Clinic
    nurse: User
    patients: list[Patient]

    def targets(self) -> set[tuple[str, str]]:
        device = Device.objects.get(user=self.nurse)
        return {
            (f"user:{self.nurse.pk}", "email"),
            (f"user:{self.nurse.pk}", "sms"),
            (f"device:{device.pk}", "push"),
        }


def cohort(size: int, *, name: str = "Fault Clinic") -> Cohort:
    clinic = Clinic.objects.create(name=name, timezone="UTC")
    nurse = make_staff(f"nurse@{name.split()[0].lower()}.test", clinic, "nurse")
    nurse.staff_membership.phone = "+34600000000"
    nurse.staff_membership.save(update_fields=["phone"])
    Device.objects.create(user=nurse, platform="android", token=f"token-{uuid.uuid4()}")
    patients = [
        make_patient(f"p{i}@faults.test", clinic, mrn=f"F{i:04d}", sex="male", timezone="UTC")
        for i in range(size)
    ]
    for patient in patients:
        RegimenStep.objects.create(
            patient=patient,
            starts_on=local_date(timezone.now(), patient.timezone),
            dose_mg=5,
            pattern="daily",
            reason="start",
            created_by=nurse,
        )
    return Cohort(clinic, nurse, patients)


def load_cohort(name: str = "Fault Clinic") -> Cohort:
    clinic = Clinic.objects.get(name=name)
    nurse = User.objects.get(staff_membership__clinic=clinic, staff_membership__role="nurse")
    return Cohort(clinic, nurse, list(Patient.objects.filter(clinic=clinic).order_by("pk")))


def check_in_payload(*, red_flag: bool) -> dict[str, Any]:
    return {
        "client_id": str(uuid.uuid4()),
        "answered_at": timezone.now().isoformat(),
        "neuro_symptoms": red_flag,
    }


def dose_payload(patient: Patient, *, days_ago: int = 1) -> dict[str, Any]:
    return skipped_dose(patient.timezone, days_ago=days_ago)


def skipped_dose(zone: str, *, days_ago: int = 1) -> dict[str, Any]:
    """A skipped dose of a day before treatment started (changes the patient, fires nothing)."""
    day = local_date(timezone.now(), zone) - timedelta(days=max(days_ago, 1))
    return {"client_id": str(uuid.uuid4()), "scheduled_date": day.isoformat(), "status": "skipped"}


def report(patient: Patient, *, red_flag: bool) -> CheckIn:
    """A check-in through the service (its own transaction; evaluation published on commit)."""
    return check_in_record(
        patient=patient,
        recorded_by=patient.user,
        client_id=uuid.uuid4(),
        answered_at=timezone.now() - timedelta(seconds=1),
        neuro_symptoms=red_flag,
    ).obj


def dose(patient: Patient) -> DoseLog:
    return dose_log_record(
        patient=patient,
        recorded_by=patient.user,
        client_id=uuid.uuid4(),
        scheduled_date=local_date(timezone.now(), patient.timezone),
        status="taken",
    ).obj


# --------------------------------------------------------------------------- progress


def unevaluated() -> int:
    from django.db.models import F

    return Patient.objects.filter(change_seq__gt=F("evaluated_seq")).count()


def open_deliveries() -> int:
    return NotificationDelivery.objects.filter(status__in=["pending", "sending", "failed"]).count()


def progress(sink_path: Path) -> dict[str, Any]:
    """What is left to do, for failure messages and reports."""
    statuses = Counter(NotificationDelivery.objects.values_list("status", flat=True))
    return {
        "unevaluated_patients": unevaluated(),
        "alerts": dict(Counter(Alert.objects.values_list("rule", flat=True))),
        "triggering_events": CheckIn.objects.filter(neuro_symptoms=True).count(),
        "deliveries": dict(statuses),
        "sink_keys": len(sink.read(sink_path).keys),
    }


def settled(sink_path: Path) -> bool:
    """Every patient evaluated, every expected alert raised, every delivery sent."""
    if unevaluated() or open_deliveries():
        return False
    alerts = Alert.objects.count()
    if alerts != CheckIn.objects.filter(neuro_symptoms=True).count():
        return False
    sent = NotificationDelivery.objects.filter(status="sent").count()
    return sent == alerts * DELIVERIES_PER_ALERT and len(sink.read(sink_path).keys) >= sent


@dataclass
class Verdict:
    triggering_events: int
    alerts: int
    deliveries_sent: int
    sink_lines: int
    resends: int  # messages the receiver saw twice (same key): the documented at-least-once case
    figures: dict[str, Any] = field(default_factory=dict)


def check_invariant(cohort: Cohort, sink_path: Path, *, max_resends: int = 0) -> Verdict:
    """Assert the invariant; return the counts for the report."""
    red_flags = list(CheckIn.objects.filter(neuro_symptoms=True).values_list("patient_id", "id"))
    expected = {(pid, f"thrombosis:{cid}") for pid, cid in red_flags}
    alerts = list(Alert.objects.values_list("patient_id", "episode_key", "rule", "severity"))
    raised = Counter((pid, key) for pid, key, _, _ in alerts)
    assert set(raised) == expected, (
        f"alerts != triggering events: missing {sorted(expected - set(raised))[:5]}, "
        f"unexpected {sorted(set(raised) - expected)[:5]}"
    )
    assert all(n == 1 for n in raised.values())
    assert {(rule, sev) for _, _, rule, sev in alerts} <= {(RULE, "urgent")}
    created = Counter(AlertEvent.objects.filter(kind="created").values_list("alert_id", flat=True))
    assert len(created) == len(alerts), "an alert without its created event"
    assert set(created.values()) <= {1}, "an alert created twice"

    # Deliveries: exactly the expected rows per alert, each sent once.
    targets = cohort.targets()
    rows = list(
        NotificationDelivery.objects.values_list(
            "alert_id", "target", "channel", "purpose", "severity", "status", "public_id"
        )
    )
    per_alert: dict[int, set[tuple[str, str]]] = {}
    for alert_id, target, channel, purpose, severity, status, _ in rows:
        assert (purpose, severity) == ("alert", "urgent")
        assert status == "sent", f"delivery {target} {channel} of alert {alert_id} is {status}"
        per_alert.setdefault(alert_id, set()).add((target, channel))
    keys = Counter((a, t, c, p, s) for a, t, c, p, s, _, _ in rows)
    assert set(keys.values()) <= {1}, "a (alert, target, channel, purpose, severity) twice"
    assert len(per_alert) == len(alerts)
    assert all(found == targets for found in per_alert.values())
    sent_attempts = DeliveryAttempt.objects.values("delivery_id").annotate(
        sent=Count("id", filter=Q(outcome="sent"))
    )
    assert {row["sent"] for row in sent_attempts} <= {1}, "a delivery recorded sent twice"
    assert len(sent_attempts) == len(rows)

    # What the receivers saw: every sent row once; a second copy only for a row whose worker
    # died between the provider's answer and the `sent` mark (it has a lost attempt).
    received = sink.read(sink_path)
    public_ids = {str(pid) for *_, pid in rows}
    assert set(received.keys) == public_ids, (
        f"sink: missing {len(public_ids - set(received.keys))}, "
        f"unknown {len(set(received.keys) - public_ids)}"
    )
    resends = sum(n - 1 for n in received.duplicates.values())
    if resends:
        retried = set(
            NotificationDelivery.objects.filter(
                public_id__in=list(received.duplicates), attempts__gte=2
            ).values_list("public_id", flat=True)
        )
        assert {str(p) for p in retried} == set(received.duplicates), "resend without a lost try"
    assert resends <= max_resends, f"{resends} messages received twice"

    # No partial writes.
    records = Counter(CheckIn.objects.values_list("patient_id", flat=True))
    records.update(DoseLog.objects.values_list("patient_id", flat=True))
    for patient in Patient.objects.filter(clinic=cohort.clinic):
        assert patient.change_seq == records[patient.pk], (
            f"patient {patient.pk}: change_seq {patient.change_seq} != {records[patient.pk]} writes"
        )
        assert patient.evaluated_seq == patient.change_seq, f"patient {patient.pk} unevaluated"
    return Verdict(
        triggering_events=len(expected),
        alerts=len(alerts),
        deliveries_sent=len(rows),
        sink_lines=received.lines,
        resends=resends,
    )
