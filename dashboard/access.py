"""Who may use the dashboard, and what each page may show them.

Every page is for care-team staff only (a nurse, clinician or clinic admin with a staff
membership, or a superuser). Scoping goes through `tracker.selectors.patients_visible_to`
and nothing else: an alert is visible when its patient is, so another clinic's patient or
alert is a 404, never a 403 that would confirm it exists.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from notifications.models import Alert
from tracker.audit import audit_record
from tracker.models import User
from tracker.selectors import patients_visible_to

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

STAFF_ROLES = frozenset({"nurse", "clinician", "clinic_admin"})

View = Callable[..., HttpResponse]


def is_dashboard_user(user: User | AnonymousUser) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    assert isinstance(user, User)
    return user.is_superuser or user.role in STAFF_ROLES


def alerts_visible_to(user: User | AnonymousUser) -> QuerySet[Alert]:
    """The alerts of the patients this user may see (a subquery, so no duplicate rows)."""
    return Alert.objects.filter(patient__in=patients_visible_to(user))


def forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/403.html", status=403)


def not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/404.html", status=404)


def _zone_of(user: User | AnonymousUser) -> ZoneInfo | None:
    """Times on the pages are the clinic's wall-clock times (one query: the clinic row,
    which the page header reuses for the clinic's name)."""
    membership = user.membership if isinstance(user, User) else None
    if membership is None:
        return None
    try:
        return ZoneInfo(membership.clinic.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def staff_page(view: View) -> View:
    """Login, then staff membership; an Http404 raised by the view renders our HTML page.

    The project's handler404/handler403 answer problem+json for the API; a person in a
    browser gets a page with a way back instead.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            if request.headers.get("HX-Request") == "true":
                # An XHR would follow the redirect and swap the sign-in page into the
                # table: tell htmx to navigate the whole page instead.
                current = urlsplit(request.headers.get("HX-Current-URL", ""))
                target = current.path + (f"?{current.query}" if current.query else "")
                login = redirect_to_login(target or "/dashboard/")["Location"]
                return HttpResponse(status=401, headers={"HX-Redirect": login})
            return redirect_to_login(request.get_full_path())
        if not is_dashboard_user(request.user):
            return forbidden(request)
        try:
            with timezone.override(_zone_of(request.user)):
                return view(request, *args, **kwargs)
        except Http404:
            return not_found(request)

    return wrapper


def audit(
    request: HttpRequest, action: str, *, patient_id: int | None = None, obj: Any = ""
) -> None:
    """One audit row per page that shows patient data (ids only, never values)."""
    user = request.user
    assert isinstance(user, User)
    audit_record(
        actor=user,
        action=f"dashboard:{action}",
        patient_id=patient_id,
        object_type="dashboard",
        object_id=str(obj),
        request_id=getattr(request, "request_id", ""),
    )
