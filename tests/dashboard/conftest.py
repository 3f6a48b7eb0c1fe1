"""Fixtures of the dashboard tests: signed-in browsers (Django test client) per persona."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from tests.dashboard.builders import build_history
from tracker.models import Patient, User

BrowserFor = Callable[[User], Client]


@pytest.fixture
def browser_for() -> BrowserFor:
    """A test-client browser with a session for `user` (as after a dashboard sign-in)."""

    def build(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return build


@pytest.fixture
def history(alice: Patient, clinician: User, nurse: User) -> dict[str, object]:
    return build_history(alice, clinician=clinician, nurse=nurse)
