"""/health/ says the process answers; /ready/ that the database and the broker answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from config.celery import app


def test_health_answers_without_touching_anything(api: APIClient) -> None:
    response = api.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_checks_the_real_database_and_broker(api: APIClient) -> None:
    response = api.get("/ready/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "ok", "backend": "postgresql"}
    assert body["checks"]["broker"]["status"] == "ok"
    assert body["broker_url_scheme"] == "redis"


@pytest.fixture
def broker_on_a_closed_port() -> Iterator[None]:
    """Point the Celery app at a port nothing listens on (a broker that is down)."""
    before = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    try:
        yield
    finally:
        app.conf.broker_url = before


@pytest.mark.django_db
@pytest.mark.usefixtures("broker_on_a_closed_port")
def test_ready_is_503_naming_the_broker_when_it_is_down(api: APIClient) -> None:
    response = api.get("/ready/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"]["status"] in {"error", "timeout"}
