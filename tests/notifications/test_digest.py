"""The daily digest of open information alerts, once per clinic and local day."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from notifications.models import Alert, ClinicDigest, NotificationDelivery
from notifications.tasks import digest_sweep_task
from tests.notifications.conftest import make_alert, send_pending
from tests.notifications.servers import SmtpServer
from tracker.models import Clinic, Patient, User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("channels")]


def test_digest_is_sent_once_per_clinic_day_at_the_local_hour(
    alice: Patient,
    bob: Patient,
    carol: Patient,
    nurse: User,
    clinician: User,
    clinic_admin: User,
    smtp: SmtpServer,
) -> None:
    make_alert(alice, severity="info", rule="insomnia", episode="i1", summary="Insomnia grade 3")
    make_alert(bob, severity="info", rule="adherence", episode="a1", summary="72% of doses taken")
    make_alert(bob, severity="warning", rule="gi_intolerance", episode="g1")
    resolved = make_alert(alice, severity="info", rule="adherence", episode="a0")
    Alert.objects.filter(pk=resolved.pk).update(status="resolved")

    # Madrid is UTC+1 in November: 07:30 local, before the default digest hour (08).
    with time_machine.travel(datetime(2026, 11, 24, 6, 30, tzinfo=UTC), tick=False):
        assert digest_sweep_task() == 0
    with time_machine.travel(datetime(2026, 11, 24, 7, 5, tzinfo=UTC), tick=False):
        assert digest_sweep_task() == 1  # the first clinic; New York is still at night
        assert digest_sweep_task() == 0
        send_pending()
    with time_machine.travel(datetime(2026, 11, 24, 15, 0, tzinfo=UTC), tick=False):
        assert digest_sweep_task() == 1  # 10:00 in New York: the other clinic's digest
        send_pending()

    first = ClinicDigest.objects.get(clinic=alice.clinic)
    assert len(first.alert_ids) == 2
    assert ClinicDigest.objects.get(clinic=carol.clinic).alert_ids == []
    # One e-mail per nurse and clinician of the clinic; the clinic admin gets none.
    assert sorted(m.rcpt_tos[0] for m in smtp.inbox.mails) == sorted([nurse.email, clinician.email])
    for mail in smtp.inbox.mails:
        assert "Insomnia grade 3" in mail.text
        assert "72% of doses taken" in mail.text
        assert "MRN A001" in mail.text
        assert "gi_intolerance" not in mail.text.lower()
    assert NotificationDelivery.objects.filter(purpose="digest").count() == 2


def test_digest_of_a_clinic_without_info_alerts_sends_nothing(
    clinic: Clinic, nurse: User, smtp: SmtpServer
) -> None:
    with time_machine.travel(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), tick=False):
        assert digest_sweep_task() == 1
        send_pending()
    assert smtp.inbox.mails == []
