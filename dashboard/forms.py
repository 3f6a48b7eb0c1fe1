"""Forms of the dashboard: sign-in, queue filters, alert actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.http import HttpRequest

from notifications.messages import RULE_LABELS
from notifications.models import Alert
from tracker.models import User

RESOLUTION_LABELS = {
    "confirmed_relapse": "Confirmed relapse",
    "not_a_relapse": "Not a relapse",
    "adverse_event_managed": "Adverse event managed",
    "other": "Other",
}


class LoginForm(forms.Form):
    """E-mail and password, passed to `authenticate` as `email=`.

    The field is named `email` on purpose: django-axes keys its per-account lock-out on the
    credential called `email` (AXES_USERNAME_FORM_FIELD, api.auth.axes_username), so a form
    sending `username` would count every failure against an empty account name.
    """

    email = forms.EmailField(
        label="E-mail",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        "invalid_login": "Wrong e-mail or password.",
        "inactive": "This account is inactive.",
    }

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        self.request = request
        self.user_cache: User | None = None
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        email, password = cleaned.get("email"), cleaned.get("password")
        if email and password:
            user = authenticate(self.request, email=email, password=password)
            if user is None:
                raise forms.ValidationError(self.error_messages["invalid_login"], "invalid_login")
            if not user.is_active:
                raise forms.ValidationError(self.error_messages["inactive"], "inactive")
            assert isinstance(user, User)
            self.user_cache = user
        return cleaned

    def get_user(self) -> User | None:
        return self.user_cache


STATUS_CHOICES = [
    ("active", "Not resolved"),
    ("open", "Open (unacknowledged)"),
    ("acknowledged", "Acknowledged"),
    ("resolved", "Resolved"),
    ("all", "All"),
]


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    severity = forms.ChoiceField(
        choices=[("", "Any severity"), *Alert.Severity.choices], required=False
    )
    rule = forms.ChoiceField(
        choices=[("", "Any rule"), *sorted(RULE_LABELS.items(), key=lambda kv: kv[1])],
        required=False,
    )
    mine = forms.BooleanField(label="Assigned to me", required=False)

    def filters(self) -> dict[str, Any]:
        """Valid values, with the defaults of an empty form (not resolved, everything)."""
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "status": data.get("status") or "active",
            "severity": data.get("severity") or "",
            "rule": data.get("rule") or "",
            "mine": bool(data.get("mine")),
        }


class ResolveForm(forms.Form):
    resolution = forms.ChoiceField(choices=list(RESOLUTION_LABELS.items()))
    note = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))


class NoteForm(forms.Form):
    note = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class PatientSearchForm(forms.Form):
    q = forms.CharField(max_length=100, required=False, label="Name or MRN")
