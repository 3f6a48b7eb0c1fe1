from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from notifications.models import Alert


@pytest.mark.django_db
def test_evaluate_patients_raises_the_demo_relapse_once():
    call_command("seed_demo", "--password", "x-demo-pass-123", stdout=StringIO())
    out = StringIO()
    call_command("evaluate_patients", stdout=out)
    assert "Evaluated 12 patients" in out.getvalue()  # 13 seeded, one discontinued
    relapse = Alert.objects.get(
        patient__user__email="patient1@demo.example", rule="possible_relapse"
    )
    assert relapse.severity == "urgent"
    assert "taper" in relapse.summary
    again = StringIO()
    call_command("evaluate_patients", stdout=again)
    assert "Evaluated 0 patients" in again.getvalue()  # nobody is due again before midnight
    call_command("evaluate_patients", "--all", stdout=again)
    assert "Evaluated 12 patients: 0 new alerts" in again.getvalue()
    assert Alert.objects.filter(rule="possible_relapse").count() == 1
