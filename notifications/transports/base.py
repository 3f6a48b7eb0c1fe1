"""The transport interface (Healthchecks' shape): `send(message)` or raise TransportError.

Invariants:
- A transport never touches the database: the caller (`notifications.dispatch`) owns the
  delivery row, the retry decision and any side effect such as deactivating a device.
- Every network call has a timeout (settings.NOTIFY_HTTP_TIMEOUT), so a hung provider costs
  one attempt, not a worker.
- Error messages carry status codes, provider error codes and exception class names only:
  they are stored in `last_error` and logged, so they must never echo message content.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from django.conf import settings


class TransportError(Exception):
    """A send that did not happen.

    `permanent`: retrying cannot help (bad address, revoked token, 4xx): give up now.
    `invalid_recipient`: the address itself is dead (e.g. FCM UNREGISTERED), so the caller
    should stop using it (deactivate the device).
    """

    def __init__(
        self, message: str, *, permanent: bool = False, invalid_recipient: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message[:300]
        self.permanent = permanent
        self.invalid_recipient = invalid_recipient


@dataclass(frozen=True, slots=True)
class Message:
    """What one delivery sends, already rendered for its channel.

    `to` is an e-mail address, a device token, a phone number or a webhook URL. For push and
    SMS, `subject` and `body` are lock-screen safe (no patient name, no clinical values).
    `payload` is the webhook's JSON body; `data` the push data map (strings only, as FCM
    requires). `key` is the delivery's public id, for the receiver to de-duplicate.
    """

    to: str
    subject: str
    body: str
    link: str = ""
    key: str = ""
    event: str = ""
    data: Mapping[str, str] = field(default_factory=dict)
    payload: Mapping[str, Any] | None = None
    secret: str = ""


class Transport(Protocol):
    def send(self, message: Message) -> None:
        """Send or raise TransportError; return normally only when the provider accepted."""


def http_timeout() -> float:
    return float(getattr(settings, "NOTIFY_HTTP_TIMEOUT", 10))


def http_post(
    url: str, *, body: bytes, headers: Mapping[str, str], service: str
) -> requests.Response:
    """POST with a timeout; network failures become transient TransportErrors."""
    try:
        return requests.post(
            url, data=body, headers=dict(headers), timeout=http_timeout(), allow_redirects=False
        )
    except requests.Timeout:
        raise TransportError(f"{service}: timeout") from None
    except requests.RequestException as exc:
        raise TransportError(f"{service}: {type(exc).__name__}") from None


def raise_for_http_status(response: requests.Response, *, service: str, detail: str = "") -> None:
    """2xx passes; 408, 429 and 5xx are transient; any other status is permanent.

    A 3xx is permanent too: we never follow redirects with a signed or authorised body, and
    a moved endpoint is a configuration error that retries cannot fix.
    """
    code = response.status_code
    if 200 <= code < 300:
        return
    suffix = f" {detail}" if detail else ""
    transient = code in (408, 429) or code >= 500
    raise TransportError(f"{service}: HTTP {code}{suffix}", permanent=not transient)
