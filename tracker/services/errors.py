"""Domain errors: services raise these; the API maps them to problem+json (api/errors.py)."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses (maps to 400 with field errors)."""

    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field_errors: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}
        if code:
            self.code = code


class DomainConflict(DomainError):
    """The request conflicts with what is stored (maps to 409)."""

    code = "conflict"


class DomainNotFound(DomainError):
    """The object does not exist for this caller (maps to 404)."""

    code = "not_found"
