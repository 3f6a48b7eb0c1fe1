"""python manage.py seed_demo [--password P] [--patients N]

Creates the demo clinics, staff and patients with months of study-like history, then prints
the logins. Idempotent: running it twice changes nothing. --patients N instead builds a
synthetic cohort of N patients for load and benchmark work, with a progress bar.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from tracker import demo


class Command(BaseCommand):
    help = "Create demo clinics, staff and patients with history (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default=None, help="Password for every demo login.")
        parser.add_argument(
            "--patients", type=int, default=0, help="Build a synthetic cohort of N patients."
        )
        parser.add_argument("--days", type=int, default=90, help="History length for --patients.")

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or settings.DEMO_PASSWORD
        if options["patients"]:
            created = demo.seed_cohort(
                n=options["patients"], days=options["days"], password=password, progress=True
            )
            self.stdout.write(self.style.SUCCESS(f"Cohort ready: {created} new patients."))
            return
        logins = demo.seed_demo(password=password)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Logins (password for all):"))
        self.stdout.write(f"  password: {password}")
        for email, role, clinic in logins:
            self.stdout.write(f"  {email:32} {role:13} {clinic}")
