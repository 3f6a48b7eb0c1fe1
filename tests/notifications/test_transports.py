"""Transport details: FCM OAuth, webhook signatures, and loud start-up configuration errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings

from notifications.transports import Message, TransportError, fcm_auth, transport_for
from notifications.transports.webhook import sign, verify
from tests.notifications.servers import FCM_PATH, HttpServer, StaticTokenProvider

pytestmark = pytest.mark.usefixtures("channels")


def test_service_account_token_is_fetched_once_and_refreshed_after_invalidate(
    http: HttpServer, settings: Any, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    creds = tmp_path / "service-account.json"
    creds.write_text(
        json.dumps(
            {"client_email": "fcm@proj.iam.example", "private_key": pem,
             "token_uri": http.url + "/token"}
        )
    )  # fmt: skip
    assertions: list[dict[str, Any]] = []

    def token_endpoint(request: Any) -> tuple[int, dict[str, Any]]:
        form = parse_qs(request.body.decode())
        claims = jwt.decode(
            form["assertion"][0],
            key.public_key(),
            algorithms=["RS256"],
            audience=http.url + "/token",
        )
        assertions.append(claims)
        return 200, {"access_token": f"ya29.{len(assertions)}", "expires_in": 3600}

    http.responders["/token"] = token_endpoint
    settings.NOTIFY_FCM_CREDENTIALS_FILE = str(creds)
    provider = fcm_auth.ServiceAccountTokenProvider()
    provider.invalidate()

    assert provider.token() == "ya29.1"
    assert provider.token() == "ya29.1"  # cached
    provider.invalidate()
    assert provider.token() == "ya29.2"
    assert assertions[0]["scope"] == fcm_auth.SCOPE
    assert assertions[0]["iss"] == "fcm@proj.iam.example"
    provider.invalidate()


def test_fcm_401_is_transient_and_drops_the_cached_token(http: HttpServer) -> None:
    http.always(FCM_PATH, 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
    before = StaticTokenProvider.invalidated

    with pytest.raises(TransportError) as caught:
        transport_for("push").send(Message(to="tok", subject="t", body="b"))

    assert not caught.value.permanent
    assert StaticTokenProvider.invalidated == before + 1


def test_unreachable_provider_is_transient(settings: Any) -> None:
    settings.NOTIFY_FCM_BASE_URL = "http://127.0.0.1:9"  # discard port: connection refused
    with pytest.raises(TransportError) as caught:
        transport_for("push").send(Message(to="tok", subject="t", body="b"))
    assert not caught.value.permanent
    assert "tok" not in caught.value.message


def test_webhook_signature_recipe() -> None:
    body = b'{"event":"alert.raised"}'
    now = str(int(time.time()))
    signature = sign("secret", now, body)

    assert signature.startswith("sha256=")
    assert verify("secret", now, body, signature)
    assert not verify("other", now, body, signature)
    assert not verify("secret", now, body + b" ", signature)
    stale = str(int(time.time()) - 3600)
    assert not verify("secret", stale, body, sign("secret", stale, body))


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"NOTIFY_PUSH_BACKEND": "notifications.transports.push.FCMPushBackend"},
         "NOTIFY_FCM_PROJECT_ID"),
        ({"NOTIFY_SMS_BACKEND": "notifications.transports.sms.HttpSmsBackend"}, "NOTIFY_SMS_URL"),
    ],
)  # fmt: skip
def test_real_backend_without_its_settings_fails_at_start_up(
    env: dict[str, str], missing: str
) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=django_settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr
