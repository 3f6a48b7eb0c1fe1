"""python manage.py evaluate_patients: run the evaluation sweep now (what beat runs every 5 min)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from notifications.evaluation import evaluation_sweep


class Command(BaseCommand):
    help = "Evaluate every active patient now and raise or update alerts."

    def handle(self, *args: Any, **options: Any) -> None:
        outcome = evaluation_sweep()
        self.stdout.write(
            f"Evaluated {outcome.evaluated} patients: {len(outcome.created)} new alerts, "
            f"{len(outcome.raised)} raised, {outcome.updated} updated."
        )
