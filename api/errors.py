"""RFC 9457 problem details for every API error.

drf-standardized-errors does the hard part (flattening nested serializer errors, turning
unexpected exceptions into a generic 500 without leaking details); we only reshape its
output into `application/problem+json` with machine-readable codes, and add handlers for
the errors Django raises before DRF runs (oversized bodies, unknown URLs).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse
from drf_standardized_errors.formatter import ExceptionFormatter
from drf_standardized_errors.handler import ExceptionHandler
from drf_standardized_errors.types import ErrorResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from api.middleware import request_id_var
from tracker.services.errors import DomainConflict, DomainError, DomainNotFound

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://tracker.invalid/problems/"

_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Server error",
    503: "Service unavailable",
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class DatabaseUnavailable(exceptions.APIException):
    """The database refused or dropped the connection (a restart, a failover): nothing was
    written, and the same request, retried, will succeed once it is back."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is briefly unavailable; retry after the Retry-After delay."
    default_code = "database_unavailable"


# Seconds a client should wait before retrying after a database outage (a restart takes a few).
DATABASE_RETRY_AFTER = "5"
# Server going away (admin shutdown, crash, cannot connect now) and connection exceptions.
_DOWN_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def database_down(exc: BaseException | None) -> bool:
    """True for a lost or refused database connection only: a statement timeout, a deadlock
    or a constraint is a 500 (a bug or a slow query to fix), not "retry in a moment"."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    # None: the driver itself found the connection closed or could not open one.
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in _DOWN_SQLSTATES


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request is well-formed but cannot be processed."
    default_code = "unprocessable"


def problem(
    status_code: int, code: str, detail: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "type": PROBLEM_BASE + code,
        "title": _TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        "code": code,
        "errors": errors or [],
        "request_id": request_id_var.get(),
    }


class ProblemFormatter(ExceptionFormatter):
    def format_error_response(self, error_response: ErrorResponse) -> Any:
        errors = [
            {"code": e.code, "detail": e.detail, "attr": e.attr} for e in error_response.errors
        ]
        if isinstance(self.exc, exceptions.ValidationError):
            code = "validation_error"
            detail = "The request has invalid fields; see errors."
        else:
            code = errors[0]["code"] if errors else "error"
            detail = errors[0]["detail"] if errors else "Error."
        return problem(self.exc.status_code, code, detail, errors)


class ProblemHandler(ExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, DomainConflict):
            return Conflict(detail=exc.message, code=exc.code)
        if isinstance(exc, DomainNotFound):
            return exceptions.NotFound(detail=exc.message, code=exc.code)
        if isinstance(exc, DomainError):
            if exc.field_errors:
                return exceptions.ValidationError(exc.field_errors, code=exc.code)
            return exceptions.ValidationError({"non_field_errors": [exc.message]}, code=exc.code)
        # Django refuses oversized bodies while DRF reads request.data, inside the view.
        if isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
            return PayloadTooLarge()
        # The json module recurses per nesting level: "[[[[...]]]]" is bad input, not a bug.
        if isinstance(exc, RecursionError) and "JSON" in str(exc):
            return exceptions.ParseError("JSON parse error - the document is nested too deeply.")
        if database_down(exc):
            return DatabaseUnavailable()
        return super().convert_known_exceptions(exc)

    def get_response(self, exc: exceptions.APIException, data: Any) -> Response:
        response = super().get_response(exc, data)
        response.content_type = PROBLEM_CONTENT_TYPE
        if isinstance(exc, DatabaseUnavailable):
            response["Retry-After"] = DATABASE_RETRY_AFTER
        return response


def _django_problem(request: HttpRequest, status_code: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(
        problem(status_code, code, detail), status=status_code, content_type=PROBLEM_CONTENT_TYPE
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    # Django raises RequestDataTooBig / TooManyFieldsSent / DisallowedHost before DRF runs.
    name = type(exception).__name__ if exception else ""
    if name in {"RequestDataTooBig", "TooManyFieldsSent", "TooManyFilesSent"}:
        return _django_problem(request, 413, "payload_too_large", "The request body is too large.")
    return _django_problem(request, 400, "bad_request", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _django_problem(request, 403, "permission_denied", "You may not do this.")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _django_problem(request, 404, "not_found", "Not found.")


def server_error(request: HttpRequest) -> JsonResponse:
    # Django calls this while handling the exception, so it is still sys.exception(): a
    # database that went away outside a DRF view (the audit insert, a session) is a 503 too.
    if database_down(sys.exception()):
        response = _django_problem(
            request, 503, DatabaseUnavailable.default_code, str(DatabaseUnavailable.default_detail)
        )
        response["Retry-After"] = DATABASE_RETRY_AFTER
        return response
    return _django_problem(request, 500, "error", "A server error occurred.")
