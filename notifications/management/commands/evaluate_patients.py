"""python manage.py evaluate_patients [--all]: run the evaluation sweep now (what beat runs
every 5 minutes): the patients that are due, or with --all every active patient."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from notifications.evaluation import evaluation_sweep


class Command(BaseCommand):
    help = "Evaluate the patients that are due (or --all) now and raise or update alerts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--all", action="store_true", help="every active patient, not only those due"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        outcome = evaluation_sweep(everyone=options["all"])
        self.stdout.write(
            f"Evaluated {outcome.evaluated} patients: {len(outcome.created)} new alerts, "
            f"{len(outcome.raised)} raised, {outcome.updated} updated."
        )
