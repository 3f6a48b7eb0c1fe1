"""Request ids (one per request, echoed in X-Request-ID, written in logs and audit rows) and
load shedding (off unless LOAD_SHED_MAX_IN_FLIGHT is set)."""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse, JsonResponse

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Take the caller's X-Request-ID when it is a safe token, else make one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = rid  # type: ignore[attr-defined]
        token = request_id_var.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = rid
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class LoadSheddingMiddleware:
    """Answer 503 with Retry-After, at once, when this process is already busy.

    At most LOAD_SHED_MAX_IN_FLIGHT requests run the application at a time in a process. A
    request that finds them all busy waits up to LOAD_SHED_WAIT_MS for a slot (a burst), with
    at most LOAD_SHED_MAX_WAITING others; beyond that (sustained overload) it is refused at
    once, which keeps threads free and the server's own queue short, instead of queueing until
    the client times out. Meant for threaded workers (gunicorn gthread, with more threads than
    slots + waiters); health checks are never shed. Off (removed from the chain) when
    LOAD_SHED_MAX_IN_FLIGHT is 0, the default.
    """

    EXEMPT = ("/health/", "/ready/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        limit = getattr(settings, "LOAD_SHED_MAX_IN_FLIGHT", 0)
        if limit <= 0:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.slots = threading.BoundedSemaphore(limit)
        self.wait = getattr(settings, "LOAD_SHED_WAIT_MS", 50) / 1000
        self.max_waiting = getattr(settings, "LOAD_SHED_MAX_WAITING", 0) or limit
        self.waiting = 0
        self.lock = threading.Lock()
        self.retry_after = str(getattr(settings, "LOAD_SHED_RETRY_AFTER", 1))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path in self.EXEMPT:
            return self.get_response(request)
        if not self.slots.acquire(blocking=False):
            with self.lock:
                if self.waiting >= self.max_waiting:
                    return self.shed()
                self.waiting += 1
            try:
                admitted = self.slots.acquire(timeout=self.wait)
            finally:
                with self.lock:
                    self.waiting -= 1
            if not admitted:
                return self.shed()
        try:
            return self.get_response(request)
        finally:
            self.slots.release()

    def shed(self) -> HttpResponse:
        from api.errors import PROBLEM_CONTENT_TYPE, problem

        body = problem(503, "overloaded", "The service is busy: retry after a moment.")
        response = JsonResponse(body, status=503, content_type=PROBLEM_CONTENT_TYPE)
        response["Retry-After"] = self.retry_after
        response["Cache-Control"] = "no-store"
        return response
