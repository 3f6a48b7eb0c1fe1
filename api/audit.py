"""One append-only audit row per successful API request that touches patient data."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from tracker.audit import audit_record

_METHOD_ACTION = {
    "GET": "read",
    "HEAD": "read",
    "POST": "create",
    "PUT": "update",
    "PATCH": "update",
    "DELETE": "delete",
}


class AuditedMixin:
    """Views set `audit_patient_id` / `audit_object_id` as they resolve objects.

    The row records the actor, role, action (e.g. "read:dose-logs:list"), the patient and
    object ids and the request id, never field values.
    """

    audit_object_type: str = ""
    audit_patient_id: int | None = None
    audit_object_id: str = ""

    def audit(self, *, patient_id: int | None = None, object_id: Any = "") -> None:
        if patient_id is not None:
            self.audit_patient_id = patient_id
        if object_id:
            self.audit_object_id = str(object_id)

    _audit_written: bool = False

    def audit_now(self, request: Request, response: Response) -> None:
        """Append this request's row now, in the caller's transaction, so that a write and
        its audit row commit together (one commit instead of two); finalize_response then
        appends none. As there, only a 2xx response of an authenticated user is audited."""
        if not self._audit_written:
            self._audit_written = self._append_audit(request, response)

    def _append_audit(self, request: Request, response: Response) -> bool:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not 200 <= response.status_code < 300:
            return False
        action = getattr(self, "action", None) or ""
        audit_record(
            actor=user,
            action=f"{_METHOD_ACTION.get(request.method or '', 'other')}:{action}",
            patient_id=self.audit_patient_id,
            object_type=self.audit_object_type,
            object_id=self.audit_object_id,
            request_id=getattr(request._request, "request_id", ""),
        )
        return True

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if not self._audit_written:
            self._audit_written = self._append_audit(request, response)
        return response
