"""Every bad request gets an RFC 9457 problem+json answer, and none of them a 500."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD
from tracker.models import User

TOKEN_URL = "/api/v1/auth/token/"
ME_URL = "/api/v1/me/"
PATIENTS_URL = "/api/v1/patients/"
PROBLEM = "application/problem+json"

pytestmark = pytest.mark.django_db


@pytest.fixture
def web() -> Client:
    """A client that returns the 500 page instead of re-raising, as a real server would."""
    return Client(raise_request_exception=False)


def post_raw(client: Client, path: str, body: bytes | str, content_type: str, **extra: Any) -> Any:
    return client.generic("POST", path, body, content_type=content_type, **extra)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["type"].endswith(body["code"])
    assert {"title", "detail", "errors", "request_id"} <= body.keys()
    assert body["request_id"] == response["X-Request-ID"]
    return body


# --- bodies ----------------------------------------------------------------------------------


def test_malformed_json_is_400_parse_error(web: Client) -> None:
    body = assert_problem(post_raw(web, TOKEN_URL, '{"email": ', "application/json"), 400)

    assert body["code"] == "parse_error"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"email": "\xff\xfe@x.test", "password": "x"}',
        b"\xc3\x28\xa0\xa1",
        b'\xef\xbb\xbf{"email": "bom@x.test"',
    ],
)
def test_body_that_is_not_utf8_is_400(web: Client, raw: bytes) -> None:
    body = assert_problem(post_raw(web, TOKEN_URL, raw, "application/json"), 400)

    assert body["code"] == "parse_error"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/x-www-form-urlencoded", "image/png"],
)
def test_unsupported_content_type_is_415(web: Client, content_type: str) -> None:
    response = post_raw(web, TOKEN_URL, "email=a@x.test&password=x", content_type)

    body = assert_problem(response, 415)
    assert body["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 10_000 + "]" * 10_000,
        '{"a":' * 10_000 + "1" + "}" * 10_000,
        '{"email": ' + "[" * 100_000,
    ],
)
def test_deeply_nested_json_is_400_not_500(web: Client, raw: str) -> None:
    body = assert_problem(post_raw(web, TOKEN_URL, raw, "application/json"), 400)

    assert body["code"] == "parse_error"


@pytest.mark.parametrize(
    "raw",
    [
        '{"email": NaN, "password": Infinity}',
        '{"email": 1' + "0" * 5000 + ', "password": "x"}',
        "",
        "null",
        "[1, 2, 3]",
        '"just a string"',
        '{"email": "a\\u0000@x.test", "password": "x"}',
        '{"email": "\\ud800@x.test", "password": "x"}',
    ],
)
def test_odd_but_wellformed_json_is_a_4xx_problem(web: Client, raw: str) -> None:
    response = post_raw(web, TOKEN_URL, raw, "application/json")

    assert_problem(response, 400)


def test_oversized_json_body_is_refused_without_a_500(web: Client) -> None:
    padding = "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    raw = '{"email": "x@x.test", "password": "' + padding + '"}'

    body = assert_problem(post_raw(web, TOKEN_URL, raw, "application/json"), 413)

    assert body["code"] == "payload_too_large"


def test_oversized_multipart_body_is_refused_without_a_500(web: Client) -> None:
    padding = "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)

    response = web.post(TOKEN_URL, {"email": "x@x.test", "password": padding})

    assert assert_problem(response, 413)["code"] == "payload_too_large"


def test_too_many_form_fields_are_refused_without_a_500(web: Client) -> None:
    fields = {f"f{i}": "x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 10)}

    assert_problem(web.post(TOKEN_URL, fields), 413)


def test_multipart_without_boundary_is_400(web: Client) -> None:
    response = post_raw(web, TOKEN_URL, b"--x\r\n\r\n", "multipart/form-data")

    assert assert_problem(response, 400)["code"] == "parse_error"


def test_validation_errors_name_each_field(web: Client) -> None:
    response = post_raw(web, TOKEN_URL, '{"email": ["a"], "password": {}}', "application/json")

    body = assert_problem(response, 400)
    assert body["code"] == "validation_error"
    assert {e["attr"] for e in body["errors"]} == {"email", "password"}
    assert all(e["code"] and e["detail"] for e in body["errors"])


# --- URLs and methods ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/v1/no-such-thing/", "/api/nothing", "/api/v2/patients/", "/api/v1/patients/not-a-uuid/"],
)
def test_unknown_url_under_api_is_404_problem(web: Client, path: str) -> None:
    body = assert_problem(web.get(path), 404)

    assert body["code"] == "not_found"


def test_wrong_method_is_405_problem(web: Client, nurse: User) -> None:
    client = APIClient()
    client.force_authenticate(nurse)

    body = assert_problem(client.delete(ME_URL), 405)

    assert body["code"] == "method_not_allowed"


def test_disallowed_host_is_400_problem(web: Client) -> None:
    assert_problem(web.get(ME_URL, HTTP_HOST="evil.example"), 400)


# --- Authorization headers -------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer x.y.z",
        "Bearer a b c",
        "Bearer " + "a" * 100_000,
        "Bearer " + "eyJhbGciOiJIUzI1NiJ9." * 3,
        # WSGI hands header bytes over as latin-1 text (PEP 3333): UTF-8 arrives like this.
        "Bearer " + "é中文".encode().decode("latin-1"),
        "Bearer \x00\x01\x7f",
        "Basic " + base64.b64encode(f"nora@first.test:{PASSWORD}".encode()).decode(),
        "Basic !!!not-base64!!!",
        "Token abc",
        "x" * 20_000,
    ],
)
def test_garbage_authorization_header_is_401(web: Client, nurse: User, header: str) -> None:
    body = assert_problem(web.get(ME_URL, HTTP_AUTHORIZATION=header), 401)

    assert body["code"] in {"not_authenticated", "token_not_valid", "authentication_failed"}


def test_garbage_authorization_header_on_a_write_is_401(web: Client) -> None:
    response = post_raw(web, PATIENTS_URL, "{}", "application/json", HTTP_AUTHORIZATION="Bearer x")

    assert_problem(response, 401)


def test_unauthenticated_problem_says_how_to_authenticate(web: Client) -> None:
    response = web.get(ME_URL)

    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
