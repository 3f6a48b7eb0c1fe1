"""Small presentation helpers: ages, labels and the severity badge (icon + word + colour)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone

from dashboard.evidence import CLASI_AREAS, LAB_LABELS, SYMPTOM_LABELS, num
from dashboard.forms import RESOLUTION_LABELS
from notifications.messages import RULE_LABELS
from notifications.services import ASSIGNABLE_ROLES

register = template.Library()

SEVERITIES = {
    "urgent": {"label": "Urgent", "icon": "urgent"},
    "warning": {"label": "Warning", "icon": "warning"},
    "info": {"label": "Info", "icon": "info"},
}
STATUS_LABELS = {"open": "Open", "acknowledged": "Acknowledged", "resolved": "Resolved"}


@register.filter
def age(value: datetime | None, now: datetime | None = None) -> str:
    """Time since `value` as a nurse says it: "just now", "12 min", "3 h", "2 d"."""
    if value is None:
        return ""
    seconds = int(((now or timezone.now()) - value).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


@register.filter
def ago(value: datetime | None) -> str:
    """Like `age`, for a sentence: "3 h ago", or "just now"."""
    text = age(value)
    return text if text in ("", "just now") else f"{text} ago"


@register.filter
def rule_label(rule: str) -> str:
    return RULE_LABELS.get(rule, rule.replace("_", " ").capitalize())


@register.filter
def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


@register.filter
def resolution_label(value: str) -> str:
    return RESOLUTION_LABELS.get(value, value)


@register.filter
def lab_label(test: str) -> str:
    return LAB_LABELS.get(test, (test, ""))[0]


@register.filter
def lab_unit(test: str) -> str:
    return LAB_LABELS.get(test, ("", ""))[1]


@register.filter
def area_label(area: str) -> str:
    return CLASI_AREAS.get(area, area).capitalize()


@register.filter
def symptom_label(term: str) -> str:
    return SYMPTOM_LABELS.get(term, term)


@register.filter
def number(value: Any) -> str:
    return "" if value is None else num(value)


@register.filter
def person(user: Any) -> str:
    """A staff member's name, or their e-mail when the name is blank."""
    if user is None:
        return ""
    name = f"{user.first_name} {user.last_name}".strip()
    return name or user.email


@register.filter
def assignable(user: Any) -> bool:
    """Whether alerts can be assigned to this user (notifications.services.ASSIGNABLE_ROLES)."""
    return getattr(user, "role", None) in ASSIGNABLE_ROLES


@register.inclusion_tag("dashboard/partials/severity.html")
def severity_badge(severity: str) -> dict[str, Any]:
    meta = SEVERITIES.get(severity, {"label": severity.title(), "icon": "info"})
    return {"severity": severity, **meta}


EVENT_LABELS = {
    "created": "Raised",
    "evidence_added": "New evidence",
    "severity_raised": "Severity raised",
    "acknowledged": "Acknowledged",
    "assigned": "Assigned",
    "commented": "Comment",
    "escalated": "Escalated",
    "resolved": "Resolved",
    "delivery_failed": "Notification failed",
}


@register.filter
def event_label(kind: str) -> str:
    return EVENT_LABELS.get(kind, kind.replace("_", " ").capitalize())
