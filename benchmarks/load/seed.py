"""Seed the load database: one clinic, its care team, phone patients with a month of history,
and probe patients for the alert-latency measurement. Writes the ids and long-lived access
tokens the load generator and the probe use to a JSON file.

Run by run_load.py in a subprocess, with DATABASE_URL pointing at the load database:
    python -m benchmarks.load.seed OUT.json [PATIENTS] [PROBES]
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

TOKEN_LIFETIME = timedelta(hours=3)


def main(out: Path, patients: int = 60, probes: int = 20) -> dict[str, Any]:
    import django

    django.setup()
    from rest_framework_simplejwt.tokens import AccessToken

    from tracker.models import (
        CareTeamAssignment,
        CheckIn,
        Clinic,
        DoseLog,
        Patient,
        RegimenStep,
        StaffMembership,
        User,
    )

    def token(user: User) -> str:
        access = AccessToken.for_user(user)
        access.set_exp(lifetime=TOKEN_LIFETIME)
        return str(access)

    def staff(email: str, role: str, clinic: Clinic) -> User:
        user = User.objects.create_user(email, None, first_name=role.title(), last_name="Load")
        StaffMembership.objects.create(
            user=user, clinic=clinic, role=role, on_call=role == "clinician"
        )
        return user

    clinic = Clinic.objects.create(name="Load Clinic", timezone="Europe/Madrid")
    team = [
        staff("nurse@load.test", "nurse", clinic),
        staff("clinician@load.test", "clinician", clinic),
    ]
    today = datetime.now(UTC).date()
    now = datetime.now(UTC)

    def patient(n: int, prefix: str) -> Patient:
        user = User.objects.create_user(f"{prefix}{n}@load.test", None, first_name=prefix)
        p = Patient.objects.create(
            user=user,
            clinic=clinic,
            mrn=f"{prefix.upper()}{n:05d}",
            first_name=prefix.title(),
            last_name=f"No{n}",
            date_of_birth=datetime(1980, 1, 1, tzinfo=UTC).date(),
            sex="female",
            reproductive_potential=False,
            cle_subtype="scle",
            timezone="Europe/Madrid",
            status=Patient.Status.ACTIVE,
        )
        CareTeamAssignment.objects.bulk_create(
            [CareTeamAssignment(patient=p, user=member) for member in team]
        )
        RegimenStep.objects.create(
            patient=p,
            starts_on=today - timedelta(days=90),
            dose_mg=Decimal(5),
            pattern="daily",
            weekdays=[],
            reason="start",
            created_by=team[1],
        )
        return p

    phone = [patient(n, "phone") for n in range(patients)]
    probe = [patient(n, "probe") for n in range(probes)]
    logs, check_ins = [], []
    for p in phone:
        for day in range(1, 31):
            logs.append(
                DoseLog(
                    patient=p,
                    client_id=uuid.uuid4(),
                    fingerprint="seed",
                    scheduled_date=today - timedelta(days=day),
                    status="taken",
                    dose_mg=Decimal(5),
                    expected_dose_mg=Decimal(5),
                    recorded_by=p.user,
                )
            )
        for week in range(4):
            moment = now - timedelta(days=7 * week + 1)
            check_ins.append(
                CheckIn(
                    patient=p,
                    client_id=uuid.uuid4(),
                    fingerprint="seed",
                    answered_at=moment,
                    local_date=moment.date(),
                    symptoms=[{"term": "nausea", "frequency": 1, "severity": 1}],
                    itch=2,
                )
            )
    DoseLog.objects.bulk_create(logs)
    CheckIn.objects.bulk_create(check_ins)

    def describe(p: Patient) -> dict[str, Any]:
        return {"id": str(p.public_id), "pk": p.pk, "token": token(p.user)}

    data = {
        "patients": [describe(p) for p in phone],
        "probes": [describe(p) for p in probe],
        "nurse_token": token(team[0]),
    }
    out.write_text(json.dumps(data))
    return data


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0]), *(int(a) for a in args[1:3]))
