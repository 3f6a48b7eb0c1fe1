"""A database that goes away mid-request is a 503 with Retry-After, not a 500.

The fault is real: another connection terminates this test's PostgreSQL backend with
pg_terminate_backend, as a restart or a failover would, before the request runs.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from api.errors import database_down
from tracker.models import DoseLog, Patient


def _terminate_our_backend() -> None:
    pid = connection.cursor().connection.info.backend_pid
    db = settings.DATABASES["default"]
    dsn = f"host={db['HOST']} port={db['PORT']} user={db['USER']} dbname={db['NAME']}"
    with psycopg.connect(dsn, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/me/", None),
        (
            "post",
            "/api/v1/dose-logs/",
            {"client_id": str(uuid.uuid4()), "scheduled_date": "2026-01-05", "status": "missed"},
        ),
    ],
)
def test_a_lost_database_connection_is_a_503_problem_with_retry_after(
    alice: Patient, method: str, path: str, body: dict | None
) -> None:
    # A 5xx is still reported (logged) as an exception; the test client would re-raise it.
    client = APIClient(raise_request_exception=False)
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(alice.user).access_token}"
    )
    _terminate_our_backend()

    response = getattr(client, method)(path, body, format="json")

    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "database_unavailable"
    # Django's request_started handler replaces a broken connection (the test client turns
    # that handler off, so it runs here); then the next request works.
    close_old_connections()
    assert client.get("/api/v1/me/").status_code == 200
    # Nothing half-written was left.
    assert not DoseLog.objects.exists()


@pytest.mark.django_db
def test_a_statement_timeout_is_a_server_error_not_unavailable() -> None:
    """A slow query is a bug to fix, not a database that is away: no retry advice."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 1")
        with pytest.raises(OperationalError) as info:
            cursor.execute("SELECT pg_sleep(1)")
    assert info.value.__cause__.sqlstate == "57014"
    assert not database_down(info.value)
    assert database_down(InterfaceError("connection already closed"))
