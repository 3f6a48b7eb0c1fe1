"""Signed JSON webhooks to a clinic's own system (paging, on-call tools).

Signature: HMAC-SHA256 with the clinic's secret over f"{timestamp}.{body}", sent as
`X-Tracker-Signature: sha256=<hex>` with `X-Tracker-Timestamp: <unix seconds>`. The
receiver recomputes it over the raw body and rejects stale timestamps (replays); see
docs/notifications.md for the recipe. `X-Tracker-Delivery` is stable across retries so the
receiver can de-duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from notifications.transports.base import (
    Message,
    TransportError,
    http_post,
    raise_for_http_status,
)

SIGNATURE_HEADER = "X-Tracker-Signature"
TIMESTAMP_HEADER = "X-Tracker-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The header value for `body` sent at `timestamp`: "sha256=<hex digest>"."""
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: int = 300
) -> bool:
    """What a receiver does: constant-time compare, and refuse timestamps off by > tolerance."""
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookTransport:
    """4xx is permanent except 408 and 429; 5xx, timeouts and connection errors are transient."""

    def send(self, message: Message) -> None:
        if not message.secret:
            raise TransportError("webhook: no secret configured", permanent=True)
        body = json.dumps(message.payload or {}, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "lenalidomide-cle-tracker/1",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(message.secret, timestamp, body),
            "X-Tracker-Event": message.event,
            "X-Tracker-Delivery": message.key,
        }
        response = http_post(message.to, body=body, headers=headers, service="webhook")
        raise_for_http_status(response, service="webhook")
