"""Push notifications: a logging default and Firebase Cloud Messaging HTTP v1.

Chosen by settings.NOTIFY_PUSH_BACKEND (dotted path). The FCM backend needs
NOTIFY_FCM_PROJECT_ID and an OAuth token provider (NOTIFY_FCM_TOKEN_PROVIDER, by default a
service-account provider reading NOTIFY_FCM_CREDENTIALS_FILE); NOTIFY_FCM_BASE_URL points
it elsewhere (tests run a local server).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from notifications.transports.base import Message, TransportError, http_post

logger = logging.getLogger(__name__)

# FCM v1 error codes (FcmError.errorCode) meaning "this token will never work again".
_DEAD_TOKEN_CODES = frozenset({"UNREGISTERED", "INVALID_ARGUMENT", "SENDER_ID_MISMATCH"})


def token_fingerprint(token: str) -> str:
    """A short, non-reversible handle for logs: tokens are credentials to a person's phone."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


class LoggingPushBackend:
    """The default: logs that a push would have gone out (title only, never the token)."""

    def send(self, message: Message) -> None:
        logger.info(
            "push (logging backend) to device %s: %s",
            token_fingerprint(message.to),
            message.subject,
        )


class FCMPushBackend:
    """POST {base}/v1/projects/{project}/messages:send with an OAuth bearer token.

    UNREGISTERED, INVALID_ARGUMENT and SENDER_ID_MISMATCH are permanent and mark the token
    dead; 401 drops the cached OAuth token and is transient; 429, 5xx and timeouts are
    transient; any other 4xx is permanent.
    """

    def __init__(self) -> None:
        project = getattr(settings, "NOTIFY_FCM_PROJECT_ID", None)
        if not project:
            raise ImproperlyConfigured("FCMPushBackend needs NOTIFY_FCM_PROJECT_ID")
        base = str(getattr(settings, "NOTIFY_FCM_BASE_URL", "https://fcm.googleapis.com"))
        self.url = f"{base.rstrip('/')}/v1/projects/{project}/messages:send"
        provider_path = getattr(settings, "NOTIFY_FCM_TOKEN_PROVIDER", "")
        if not provider_path:
            raise ImproperlyConfigured("FCMPushBackend needs NOTIFY_FCM_TOKEN_PROVIDER")
        self.tokens = import_string(provider_path)()

    def payload(self, message: Message) -> dict[str, Any]:
        link = {"link": message.link} if message.link else {}
        body: dict[str, Any] = {
            "token": message.to,
            "notification": {"title": message.subject, "body": message.body},
            "data": {**message.data, **link},
            "android": {"priority": "HIGH"},
            "apns": {"headers": {"apns-priority": "10"}, "payload": {"aps": {"sound": "default"}}},
        }
        # FCM refuses a non-HTTPS webpush link with INVALID_ARGUMENT, which would read as a
        # dead token: only send it when it is valid.
        if message.link.startswith("https://"):
            body["webpush"] = {"fcm_options": {"link": message.link}}
        return {"message": body}

    def send(self, message: Message) -> None:
        token = self.tokens.token()
        response = http_post(
            self.url,
            body=json.dumps(self.payload(message)).encode(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json; UTF-8",
            },
            service="fcm",
        )
        if 200 <= response.status_code < 300:
            return
        code = _fcm_error_code(response)
        if response.status_code == 401:
            self.tokens.invalidate()
            raise TransportError(f"fcm: HTTP 401 {code}")
        if code in _DEAD_TOKEN_CODES:
            raise TransportError(
                f"fcm: HTTP {response.status_code} {code}", permanent=True, invalid_recipient=True
            )
        transient = response.status_code in (408, 429) or response.status_code >= 500
        raise TransportError(f"fcm: HTTP {response.status_code} {code}", permanent=not transient)


def _fcm_error_code(response: requests.Response) -> str:
    """The FcmError.errorCode if present, else the google.rpc status; "" if unreadable."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        return ""
    if not isinstance(error, dict):
        return ""
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("errorCode"):
            return str(detail["errorCode"])[:40]
    return str(error.get("status", ""))[:40]
