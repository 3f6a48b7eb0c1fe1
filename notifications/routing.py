"""Routing of alert changes to the care team (filled in by the delivery work, issue 6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notifications.models import Alert


def alert_changed(alert: Alert, *, change: str) -> None:
    """Called inside the transaction that created an alert ("created") or raised its
    severity ("severity_raised"): writes the outbox rows for the people to tell."""
    return None
