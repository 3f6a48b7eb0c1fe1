"""Run the cohort and the invariant against a private database, from another process.

The PostgreSQL restart proof talks to a private cluster that the test's own Django
connection does not use; it runs this module with DATABASE_URL pointing at that cluster:

    python -m tests.faults.private_db seed <patients>             -> JSON: patients, tokens
    python -m tests.faults.private_db check <sink> <max_resends>  -> JSON: the verdict
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.faults.settings")
    import django

    django.setup()
    from rest_framework_simplejwt.tokens import RefreshToken

    from tests.faults import world

    command = argv[0]
    if command == "seed":
        cohort = world.cohort(int(argv[1]))
        for patient in cohort.patients:
            world.dose(patient)
        out = {
            "patients": [
                {
                    "id": patient.pk,
                    "token": str(RefreshToken.for_user(patient.user).access_token),
                    "timezone": patient.timezone,
                }
                for patient in cohort.patients
            ]
        }
    elif command == "check":
        verdict = world.check_invariant(
            world.load_cohort(), Path(argv[1]), max_resends=int(argv[2])
        )
        out = asdict(verdict)
    else:
        raise SystemExit(f"unknown command {command!r}")
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
