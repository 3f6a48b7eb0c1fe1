from __future__ import annotations

from celery import shared_task


@shared_task(name="api.tasks.idempotency_purge_task")
def idempotency_purge_task() -> int:
    from api.idempotency import purge_expired

    return purge_expired()


@shared_task(name="api.tasks.sign_in_failures_purge_task")
def sign_in_failures_purge_task() -> int:
    """Drop failed sign-in rows (typed e-mails, addresses, user agents) older than a day:
    the lock-out (api/lockout.py) reads one day back at most."""
    from axes.handlers.proxy import AxesProxyHandler

    return int(AxesProxyHandler.reset_failure_logs(age_days=1))
