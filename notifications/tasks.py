"""Celery entry points for notifications (thin: each calls one service).

All tasks take ids only, are idempotent (status and unique keys are the guards), treat a
missing row as done, retry only named transient database errors, and are routed to the
"alerts" queue by CELERY_TASK_ROUTES so alerts never wait behind photo processing.
Provider failures are not Celery retries: the delivery row records them and schedules its
own back-off (never longer than CELERY_MAX_COUNTDOWN), and the deliveries sweep re-sends
whatever a lost task left behind.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

_TRANSIENT_DB = (OperationalError, InterfaceError)
_RETRY = {
    "autoretry_for": _TRANSIENT_DB,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(**_RETRY)
def delivery_send_task(delivery_id: int) -> str:
    """Send one delivery if this worker wins the claim; a missing or finished row is a no-op.

    Returns the outcome name (sent, retry, gave_up, cancelled, not_claimed) for logs.
    """
    from notifications.dispatch import delivery_send

    return str(delivery_send(delivery_id))


@shared_task(**_RETRY)
def deliveries_sweep_task() -> int:
    """Re-publish pending/failed deliveries past their time and reset stuck "sending" rows."""
    from notifications.sweeps import deliveries_sweep

    return deliveries_sweep()


@shared_task(**_RETRY)
def escalation_sweep_task() -> int:
    """Escalate open alerts not acknowledged within the clinic's policy (once each)."""
    from notifications.sweeps import escalation_sweep

    return escalation_sweep()


@shared_task(**_RETRY)
def reminders_sweep_task() -> int:
    """Plan today's patient reminders (idempotent) and queue those now due."""
    from notifications.reminders import reminders_plan, reminders_send

    reminders_plan()
    return reminders_send()


@shared_task(**_RETRY)
def digest_sweep_task() -> int:
    """Write each clinic's daily digest once, at its local digest hour."""
    from notifications.sweeps import digest_sweep

    return digest_sweep()
