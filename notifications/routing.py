"""Routing of alert changes to the care team (DESIGN.md section 6).

| severity | now                                                   | not acknowledged in      |
|----------|-------------------------------------------------------|--------------------------|
| urgent   | assigned nurses: e-mail, push (each device), SMS, hook | 30 min: clinicians, on-call |
| warning  | assigned nurses: e-mail, push                         | 24 h: clinicians, on-call |
| info     | nothing now (dashboard, daily digest e-mail)          | never                    |

Timings and the webhook come from the clinic's ClinicAlertPolicy (defaults when absent).
"""

from __future__ import annotations

from datetime import datetime

from notifications import outbox
from notifications.models import Alert

ROUTED_CHANGES = frozenset({"created", "severity_raised"})


def alert_changed(alert: Alert, *, change: str, now: datetime | None = None) -> None:
    """Called inside the transaction that created an alert ("created") or raised its
    severity ("severity_raised"): writes the outbox rows for the people to tell.

    Must run in that transaction (the rows commit with the alert, or not at all); dispatch
    is published on commit. Idempotent: calling it again for the same alert and severity
    writes nothing new. Other changes, and resolved alerts, are ignored.

    A severity raise restarts the escalation clock at the new severity and re-arms the
    escalation of an alert escalated at a lower one: a warning escalated yesterday that
    turns urgent today must reach the on-call list again if nobody acknowledges it.

    ``now`` is the routing time; a caller that already stored it as ``alert.routed_at`` (with
    a batch of alerts) saves one UPDATE per alert.
    """
    if change not in ROUTED_CHANGES or alert.status == Alert.Status.RESOLVED:
        return
    raised = change == "severity_raised"
    if raised and alert.escalated_at is not None and alert.status == Alert.Status.OPEN:
        Alert.objects.filter(pk=alert.pk).update(escalated_at=None)
        alert.escalated_at = None
    outbox.alert_route(alert, now=now)
