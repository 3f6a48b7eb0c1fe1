"""OAuth 2.0 access tokens for FCM HTTP v1 from a Google service-account key.

The JWT-bearer grant (RFC 7523) that Google's client libraries perform: sign an assertion
with the service account's private key (RS256), exchange it at the key's `token_uri`, and
cache the access token until shortly before it expires. One cache per process, shared by
threads; a 401 from FCM calls `invalidate()` so the next send fetches a fresh token.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import jwt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from notifications.transports.base import TransportError, http_post, raise_for_http_status

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
_lock = threading.Lock()
_cache: dict[str, tuple[str, float]] = {}


class ServiceAccountTokenProvider:
    def __init__(self) -> None:
        path = getattr(settings, "NOTIFY_FCM_CREDENTIALS_FILE", None)
        if not path:
            raise ImproperlyConfigured("The FCM token provider needs NOTIFY_FCM_CREDENTIALS_FILE")
        self.path = str(path)

    def _credentials(self) -> dict[str, str]:
        try:
            data = json.loads(Path(self.path).read_text())
            return {k: str(data[k]) for k in ("client_email", "private_key", "token_uri")}
        except (OSError, ValueError, KeyError) as exc:
            raise TransportError(
                f"fcm auth: unreadable credentials ({type(exc).__name__})"
            ) from None

    def token(self) -> str:
        with _lock:
            cached = _cache.get(self.path)
            if cached and cached[1] > time.time():
                return cached[0]
            creds = self._credentials()
            now = int(time.time())
            assertion = jwt.encode(
                {
                    "iss": creds["client_email"],
                    "scope": SCOPE,
                    "aud": creds["token_uri"],
                    "iat": now,
                    "exp": now + 3600,
                },
                creds["private_key"],
                algorithm="RS256",
            )
            body = (
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                f"&assertion={assertion}"
            ).encode()
            response = http_post(
                creds["token_uri"],
                body=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                service="fcm auth",
            )
            raise_for_http_status(response, service="fcm auth")
            try:
                data = response.json()
                token, expires_in = str(data["access_token"]), int(data.get("expires_in", 3600))
            except (ValueError, KeyError, TypeError):
                raise TransportError("fcm auth: malformed token response") from None
            _cache[self.path] = (token, now + max(expires_in - 60, 0))
            return token

    def invalidate(self) -> None:
        with _lock:
            _cache.pop(self.path, None)
