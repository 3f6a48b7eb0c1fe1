"""Role checks only. Which patient a user may see is decided by tracker.selectors."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

STAFF_ROLES = frozenset({"nurse", "clinician", "clinic_admin"})


def role_of(request: Request) -> str | None:
    user = request.user
    if not user or not user.is_authenticated:
        return None
    return user.role  # type: ignore[union-attr]


class IsStaff(BasePermission):
    message = "Only care-team staff may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return role_of(request) in STAFF_ROLES


class IsClinician(BasePermission):
    message = "Only a clinician may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return role_of(request) == "clinician"


class IsPatient(BasePermission):
    message = "Only the patient may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return role_of(request) == "patient"


class StaffReadsPatientWrites(BasePermission):
    """Reports the patient posts themself and staff read (dose logs, check-ins, photos)."""

    message = "Only the patient records this; staff may read it."

    def has_permission(self, request: Request, view: Any) -> bool:
        role = role_of(request)
        if request.method in SAFE_METHODS:
            return role in STAFF_ROLES or role == "patient"
        return role == "patient"


class ReadOrRoleWrites(BasePermission):
    """Patient and staff read (scoped by selectors); only `view.write_roles` write."""

    def has_permission(self, request: Request, view: Any) -> bool:
        role = role_of(request)
        if role is None:
            return False
        if request.method in SAFE_METHODS:
            return role in STAFF_ROLES or role == "patient"
        return role in view.write_roles
