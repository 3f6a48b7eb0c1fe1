"""SMS: a logging default and a generic HTTP gateway backend (settings.NOTIFY_SMS_BACKEND).

The HTTP backend POSTs {"to", "from", "text"} as JSON to NOTIFY_SMS_URL with
`Authorization: Bearer NOTIFY_SMS_TOKEN`; most gateways (or a tiny adapter in front of one)
accept this shape. Texts are lock-screen safe: no patient name, no clinical values.
"""

from __future__ import annotations

import hashlib
import json
import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from notifications.transports.base import Message, http_post, raise_for_http_status

logger = logging.getLogger(__name__)


class LoggingSmsBackend:
    """The default: logs that a text would have gone out (never the number)."""

    def send(self, message: Message) -> None:
        number = hashlib.sha256(message.to.encode()).hexdigest()[:12]
        logger.info("sms (logging backend) to %s: %s", number, message.subject)


class HttpSmsBackend:
    """4xx is permanent except 408 and 429; 5xx, timeouts and connection errors are transient."""

    def __init__(self) -> None:
        self.url = getattr(settings, "NOTIFY_SMS_URL", None)
        self.token = getattr(settings, "NOTIFY_SMS_TOKEN", None)
        if not self.url or not self.token:
            raise ImproperlyConfigured("HttpSmsBackend needs NOTIFY_SMS_URL and NOTIFY_SMS_TOKEN")
        self.sender = getattr(settings, "NOTIFY_SMS_SENDER", "") or ""

    def send(self, message: Message) -> None:
        text = f"{message.subject} {message.link}".strip()
        body = json.dumps({"to": message.to, "from": self.sender, "text": text}).encode()
        response = http_post(
            str(self.url),
            body=body,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Idempotency-Key": message.key,
            },
            service="sms",
        )
        raise_for_http_status(response, service="sms")
