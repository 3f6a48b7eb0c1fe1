"""Celery entry points of the tracker app (thin: each calls one service).

Arguments are ids; a missing row is done; every task is idempotent (row status and a row
lock are the guards), so ``acks_late`` redelivery after a dead worker is safe. Only named
transient database errors are retried; the beat sweeps catch anything else a lost task left.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

_RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name="tracker.tasks.photo_process_task", **_RETRY)
def photo_process_task(photo_id: int) -> str:
    """Check the stored photo's hash, make its thumbnail and mark it ready (or rejected)."""
    from tracker.services.photos import photo_process

    outcome = photo_process(photo_id)
    logger.info("photo_process %s: %s", photo_id, outcome)
    return outcome


@shared_task(name="tracker.tasks.photos_sweep_task", **_RETRY)
def photos_sweep_task() -> dict[str, int]:
    """Process again photos stuck in processing for more than 5 minutes."""
    from tracker.services.photos import photos_sweep

    return photos_sweep()


@shared_task(name="tracker.tasks.orphan_files_sweep_task", **_RETRY)
def orphan_files_sweep_task() -> int:
    """Delete stored photo files older than an hour that no row references."""
    from tracker.services.photos import orphan_files_sweep

    return orphan_files_sweep()
