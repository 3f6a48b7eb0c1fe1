"""audit_record(): the one way to append to the audit trail. Never pass patient values."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracker.models import AuditEvent

if TYPE_CHECKING:
    from tracker.models import User


def audit_record(
    *,
    actor: User | None,
    action: str,
    patient_id: int | None = None,
    object_type: str = "",
    object_id: str = "",
    request_id: str = "",
) -> AuditEvent:
    """Append one audit row: who did what to which patient's object, under which request."""
    return AuditEvent.objects.create(
        actor=actor,
        actor_role=(actor.role or "") if actor is not None else "",
        action=action[:40],
        patient_id=patient_id,
        object_type=object_type[:40],
        object_id=str(object_id)[:64],
        request_id=request_id[:64],
    )
