"""api.middleware.LoadSheddingMiddleware: off by default; when on, a full process answers 503
with Retry-After at once (problem+json), a burst waits briefly, health checks are never shed.
The same middleware under real load: benchmarks/load/run_load.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from api.middleware import LoadSheddingMiddleware


class Blocking:
    """A view that holds its slot until released."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.entered.release()
        self.release.wait(5)
        return HttpResponse("ok")


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    return thread, out


def test_off_by_default(settings: Any) -> None:
    settings.LOAD_SHED_MAX_IN_FLIGHT = 0

    with pytest.raises(MiddlewareNotUsed):
        LoadSheddingMiddleware(lambda r: HttpResponse())


def test_a_full_process_sheds_at_once_with_retry_after(settings: Any) -> None:
    settings.LOAD_SHED_MAX_IN_FLIGHT = 1
    settings.LOAD_SHED_MAX_WAITING = 1
    settings.LOAD_SHED_WAIT_MS = 2000
    view = Blocking()
    middleware = LoadSheddingMiddleware(view)
    rf = RequestFactory()

    busy, busy_out = in_thread(lambda: middleware(rf.get("/api/v1/dose-logs/")))
    assert view.entered.acquire(timeout=5)
    waiter, waiter_out = in_thread(lambda: middleware(rf.get("/api/v1/dose-logs/")))
    time.sleep(0.2)  # the second one is now waiting for the slot

    started = time.monotonic()
    shed = middleware(rf.get("/api/v1/dose-logs/"))
    elapsed = time.monotonic() - started
    health_thread, health_out = in_thread(lambda: middleware(rf.get("/health/")))
    assert view.entered.acquire(timeout=5)  # health went straight to the view
    view.release.set()
    for thread in (busy, waiter, health_thread):
        thread.join(5)
    health = health_out[0]

    assert shed.status_code == 503
    assert elapsed < 0.5  # refused at once, not after the 2 s wait
    assert shed["Retry-After"] == "1"
    assert shed["Content-Type"] == "application/problem+json"
    assert b'"code":"overloaded"' in shed.content.replace(b" ", b"")
    assert busy_out[0].status_code == 200
    assert waiter_out[0].status_code == 200  # the burst waited and got the slot
    assert health.status_code == 200


def test_a_waiter_gives_up_after_the_wait(settings: Any) -> None:
    settings.LOAD_SHED_MAX_IN_FLIGHT = 1
    settings.LOAD_SHED_MAX_WAITING = 4
    settings.LOAD_SHED_WAIT_MS = 100
    view = Blocking()
    middleware = LoadSheddingMiddleware(view)
    rf = RequestFactory()
    busy, _ = in_thread(lambda: middleware(rf.get("/api/v1/me/")))
    assert view.entered.acquire(timeout=5)

    started = time.monotonic()
    response = middleware(rf.get("/api/v1/me/"))
    waited = time.monotonic() - started
    view.release.set()
    busy.join(5)

    assert response.status_code == 503
    assert 0.09 <= waited < 1.0
