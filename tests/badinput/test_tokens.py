"""Token abuse, as one suite: every forged, stale, misused or misplaced token is a 401 problem.

Some cases repeat tests/api/test_auth.py on purpose (alg none, wrong key, expired, refresh
as access, deactivated user): here they run against several endpoints, reads and writes,
next to the cases that file does not have (algorithm substitution, deleted users, broken
claims signed with the real key, tokens in the query string, cookies and odd headers).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.badinput.conftest import PROBLEM, World
from tests.records.factories import dose_body
from tracker.models import DoseLog, User

KEY = settings.SIMPLE_JWT["SIGNING_KEY"]
ENDPOINTS = [
    ("get", "/api/v1/me/"),
    ("get", "/api/v1/dose-logs/"),
    ("get", "/api/v1/sync/"),
    ("post", "/api/v1/dose-logs/"),
]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(user: User, **changes: Any) -> dict[str, Any]:
    claims = dict(AccessToken.for_user(user).payload)
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def signed(claims: dict[str, Any], *, key: str = KEY, alg: str = "HS256", **header: Any) -> str:
    return jwt.encode(claims, key, algorithm=alg, headers=header or None)


def hmac_signed(claims: dict[str, Any], key: bytes, **header: Any) -> str:
    """HS256 by hand, for keys PyJWT refuses to use (empty ones)."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", **header}).encode())
    body = b64url(json.dumps(claims).encode())
    mac = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


def unsigned(claims: dict[str, Any], alg: str = "none", *, dot: bool = True) -> str:
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    return f"{head}.{body}." if dot else f"{head}.{body}"


Forge = Callable[[World], str]

FORGED: dict[str, Forge] = {
    "alg none": lambda w: unsigned(claims_for(w.users["patient"])),
    "alg none, no trailing dot": lambda w: unsigned(claims_for(w.users["patient"]), dot=False),
    "alg None": lambda w: unsigned(claims_for(w.users["patient"]), "None"),
    "alg NONE": lambda w: unsigned(claims_for(w.users["patient"]), "NONE"),
    "alg HS256, signature stripped": lambda w: (
        signed(claims_for(w.users["patient"])).rsplit(".", 1)[0] + "."
    ),
    "wrong key": lambda w: signed(claims_for(w.users["patient"]), key="k" * 64),
    "empty key": lambda w: hmac_signed(claims_for(w.users["patient"]), b""),
    "right key, HS512 instead of HS256": lambda w: signed(
        claims_for(w.users["patient"]), alg="HS512"
    ),
    "right key, HS384 instead of HS256": lambda w: signed(
        claims_for(w.users["patient"]), alg="HS384"
    ),
    "tampered claims (another user)": lambda w: _tampered(w),
    "expired": lambda w: signed(
        claims_for(w.users["patient"], exp=int(time.time()) - 1, iat=int(time.time()) - 601)
    ),
    "expired long ago": lambda w: signed(claims_for(w.users["patient"], exp=1_000_000_000)),
    "not yet valid (nbf)": lambda w: signed(
        claims_for(w.users["patient"], nbf=int(time.time()) + 3600)
    ),
    "no exp": lambda w: signed({**claims_for(w.users["patient"]), "exp": None}),
    "refresh token as access": lambda w: str(RefreshToken.for_user(w.users["patient"])),
    "no token_type": lambda w: signed({**claims_for(w.users["patient"]), "token_type": None}),
    "token_type id": lambda w: signed(claims_for(w.users["patient"], token_type="id")),
    "no sub": lambda w: signed({**claims_for(w.users["patient"]), "sub": None}),
    "sub of nobody": lambda w: signed(claims_for(w.users["patient"], sub=str(uuid.uuid4()))),
    "sub not a uuid": lambda w: signed(claims_for(w.users["patient"], sub="alice")),
    "sub a number": lambda w: signed(claims_for(w.users["patient"], sub=1)),
    "sub a list": lambda w: signed(claims_for(w.users["patient"], sub=["x"])),
    "sub an object": lambda w: signed(claims_for(w.users["patient"], sub={"$ne": None})),
    "sub SQL": lambda w: signed(claims_for(w.users["patient"], sub="' OR 1=1 --")),
    "sub the primary key": lambda w: signed(
        claims_for(w.users["patient"], sub=str(w.users["patient"].pk))
    ),
    "exp not a number": lambda w: signed(claims_for(w.users["patient"], exp="tomorrow")),
    "exp huge": lambda w: signed(claims_for(w.users["patient"], exp=10**20)),
    "header kid path": lambda w: hmac_signed(claims_for(w.users["patient"]), b"", kid="/dev/null"),
    "garbage": lambda w: "not.a.token",
    "two tokens": lambda w: w.tokens["patient"] + " " + w.tokens["nurse"],
}


def _tampered(world: World) -> str:
    token = world.tokens["patient"]
    head, _, sig = token.split(".")
    claims = claims_for(world.users["patient"], sub=str(world.users["clinician"].public_id))
    return f"{head}.{b64url(json.dumps(claims).encode())}.{sig}"


def assert_401(response: Any) -> dict[str, Any]:
    assert response.status_code == 401, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == 401
    return body


def call(client: APIClient, method: str, path: str, **extra: Any) -> Any:
    if method == "post":
        return client.post(path, dose_body(), format="json", **extra)
    return client.get(path, **extra)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_forged_and_misused_tokens_are_401(world: World, method: str, path: str) -> None:
    failures = []
    rows = DoseLog.objects.count()
    for name, forge in FORGED.items():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {forge(world)}")
        response = call(client, method, path)
        if response.status_code != 401 or not response["Content-Type"].startswith(PROBLEM):
            failures.append(f"{name}: {response.status_code} {response.content[:200]!r}")

    assert not failures, "\n".join(failures)
    assert DoseLog.objects.count() == rows


def test_the_genuine_token_works(world: World) -> None:
    """The control: the same requests with the real token succeed."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens['patient']}")

    for method, path in ENDPOINTS:
        assert call(client, method, path).status_code in (200, 201), path


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_token_outside_the_authorization_header_is_ignored(
    world: World, method: str, path: str
) -> None:
    token = world.tokens["patient"]
    client = APIClient()
    for param in ("access_token", "token", "jwt", "auth", "bearer", "Authorization"):
        sep = "&" if "?" in path else "?"
        assert_401(call(client, method, f"{path}{sep}{param}={token}"))
    for cookie in ("access_token", "token", "jwt", "Authorization"):
        client.cookies[cookie] = token
        assert_401(call(client, method, path))
    client.cookies.clear()
    for header in ("HTTP_X_ACCESS_TOKEN", "HTTP_X_AUTH_TOKEN", "HTTP_TOKEN", "HTTP_X_API_KEY"):
        assert_401(call(client, method, path, **{header: token}))
        assert_401(call(client, method, path, **{header: f"Bearer {token}"}))


@pytest.mark.parametrize(
    "header",
    [
        "bearer {t}",
        "BEARER {t}",
        "JWT {t}",
        "Token {t}",
        "Basic {t}",
        "{t}",
        "Bearer  {t} extra",
        "Bearer {t},Bearer {t}",
        "Bearer\t{t}x",
    ],
)
def test_odd_authorization_schemes_are_401(world: World, header: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.format(t=world.tokens["patient"]))

    assert_401(client.get("/api/v1/me/"))


def test_token_of_a_deleted_user_is_401(world: World) -> None:
    staff = world.users["clinic_admin"]
    token = world.tokens["clinic_admin"]
    # Staff rows refer to the user; deleting the account deletes them (and its devices).
    User.objects.filter(pk=staff.pk).delete()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    body = assert_401(client.get("/api/v1/me/"))
    assert body["code"] in {"user_inactive", "user_not_found", "authentication_failed"}


@pytest.mark.parametrize("role", ["patient", "nurse", "clinician"])
def test_token_of_a_deactivated_user_is_401(world: World, role: str) -> None:
    User.objects.filter(pk=world.users[role].pk).update(is_active=False)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens[role]}")

    for method, path in ENDPOINTS:
        assert_401(call(client, method, path))


def test_refresh_of_a_deleted_user_is_refused(world: World) -> None:
    refresh = str(RefreshToken.for_user(world.users["clinic_admin"]))
    User.objects.filter(pk=world.users["clinic_admin"].pk).delete()

    response = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")

    assert_401(response)


def test_refresh_of_a_deactivated_user_is_refused(world: World) -> None:
    refresh = str(RefreshToken.for_user(world.users["patient"]))
    User.objects.filter(pk=world.users["patient"].pk).update(is_active=False)

    response = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")

    assert_401(response)


def refresh_claims(world: World, **changes: Any) -> dict[str, Any]:
    return {**dict(RefreshToken.for_user(world.users["patient"]).payload), **changes}


@pytest.mark.parametrize(
    "forge",
    [
        lambda w: str(AccessToken.for_user(w.users["patient"])),
        lambda w: unsigned(dict(RefreshToken.for_user(w.users["patient"]).payload)),
        lambda w: signed(dict(RefreshToken.for_user(w.users["patient"]).payload), key="k" * 64),
        lambda w: signed(
            {
                **dict(RefreshToken.for_user(w.users["patient"]).payload),
                "exp": int(time.time()) - 1,
            }
        ),
        lambda w: signed(
            {**dict(RefreshToken.for_user(w.users["patient"]).payload), "exp": 10**20}
        ),
        lambda w: signed({**dict(RefreshToken.for_user(w.users["patient"]).payload), "sub": "x"}),
        lambda w: "garbage",
    ],
    ids=["access as refresh", "alg none", "wrong key", "expired", "exp huge", "bad sub", "garbage"],
)
def test_refresh_endpoint_refuses_bad_refresh_tokens(world: World, forge: Forge) -> None:
    response = APIClient().post(
        "/api/v1/auth/token/refresh/", {"refresh": forge(world)}, format="json"
    )

    assert_401(response)


def test_access_tokens_are_short_lived(world: World) -> None:
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    claims = jwt.decode(world.tokens["patient"], options={"verify_signature": False})

    assert lifetime <= timedelta(minutes=15)
    assert claims["exp"] - claims["iat"] == int(lifetime.total_seconds())
