from __future__ import annotations

from celery import shared_task


@shared_task(name="api.tasks.idempotency_purge_task")
def idempotency_purge_task() -> int:
    from api.idempotency import purge_expired

    return purge_expired()
