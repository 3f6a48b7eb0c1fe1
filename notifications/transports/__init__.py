"""Channels behind one interface: `transport_for(channel).send(message)`.

E-mail uses Django's configured mail backend; push and SMS use the backends named by
settings.NOTIFY_PUSH_BACKEND / NOTIFY_SMS_BACKEND (logging by default); webhooks are signed
HTTP POSTs. Instances are built per send so settings overrides (tests) take effect.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from notifications.transports.base import Message, Transport, TransportError
from notifications.transports.email import EmailTransport
from notifications.transports.webhook import WebhookTransport

__all__ = ["Message", "Transport", "TransportError", "transport_for"]


def transport_for(channel: str) -> Transport:
    if channel == "email":
        return EmailTransport()
    if channel == "push":
        return import_string(settings.NOTIFY_PUSH_BACKEND)()  # type: ignore[no-any-return]
    if channel == "sms":
        return import_string(settings.NOTIFY_SMS_BACKEND)()  # type: ignore[no-any-return]
    if channel == "webhook":
        return WebhookTransport()
    raise ValueError(f"unknown channel {channel!r}")
