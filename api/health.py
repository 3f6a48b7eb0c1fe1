"""/health/ (the process answers) and /ready/ (its database and broker answer within 2 s).

Hand-written rather than django-health-check: two checks with a hard time budget, and the
broker check must work for both Redis and Kombu's filesystem transport.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

_BUDGET_SECONDS = 1.8
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ready")


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> str:
    from django.db import connections

    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connections.close_all()
    return connection.vendor


def _check_broker() -> str:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=0, timeout=_BUDGET_SECONDS)
        return conn.transport_cls if isinstance(conn.transport_cls, str) else "broker"


def ready(request: HttpRequest) -> JsonResponse:
    started = time.monotonic()
    futures = {"database": _pool.submit(_check_database), "broker": _pool.submit(_check_broker)}
    checks: dict[str, dict[str, str]] = {}
    for name, future in futures.items():
        remaining = max(0.05, _BUDGET_SECONDS - (time.monotonic() - started))
        try:
            checks[name] = {"status": "ok", "backend": str(future.result(timeout=remaining))}
        except FutureTimeout:
            checks[name] = {"status": "timeout"}
        except Exception as exc:
            checks[name] = {"status": "error", "error": type(exc).__name__}
    ok = all(c["status"] == "ok" for c in checks.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": checks,
        "broker_url_scheme": settings.CELERY_BROKER_URL.split(":", 1)[0],
    }
    return JsonResponse(body, status=200 if ok else 503)
