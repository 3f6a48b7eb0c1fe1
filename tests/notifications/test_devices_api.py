"""devices/: push tokens for staff and patients, idempotent by token, scoped to the owner."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from notifications.models import Device
from tracker.models import Patient, User

pytestmark = pytest.mark.django_db
Client = Callable[[User | None], APIClient]
URL = "/api/v1/devices/"


@pytest.mark.parametrize("who", ["nurse", "alice"])
def test_register_is_idempotent_by_token(
    request: pytest.FixtureRequest, client_for: Client, who: str
) -> None:
    user = request.getfixturevalue(who)
    user = user.user if isinstance(user, Patient) else user
    client = client_for(user)

    first = client.post(URL, {"platform": "ios", "token": "apns-token-1"}, format="json")
    again = client.post(URL, {"platform": "ios", "token": "apns-token-1"}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Device.objects.filter(token="apns-token-1").count() == 1
    assert [d["token"] for d in client.get(URL).json()["results"]] == ["apns-token-1"]


def test_re_registering_moves_the_token_and_reactivates_it(
    client_for: Client, nurse: User, alice: Patient
) -> None:
    client_for(nurse).post(URL, {"platform": "android", "token": "shared"}, format="json")
    Device.objects.filter(token="shared").update(active=False)

    moved = client_for(alice.user).post(URL, {"platform": "android", "token": "shared"})

    assert moved.status_code == 200
    device = Device.objects.get(token="shared")
    assert (device.user, device.active) == (alice.user, True)
    assert client_for(nurse).get(URL).json()["results"] == []


def test_delete_deactivates_own_device_and_404s_for_others(
    client_for: Client, nurse: User, alice: Patient
) -> None:
    mine = client_for(alice.user).post(URL, {"platform": "web", "token": "w1"}).json()["id"]

    assert client_for(nurse).delete(f"{URL}{mine}/").status_code == 404
    assert client_for(alice.user).delete(f"{URL}{mine}/").status_code == 204
    assert Device.objects.get(token="w1").active is False


def test_anonymous_and_invalid_input(client_for: Client, nurse: User) -> None:
    assert client_for(None).get(URL).status_code == 401
    assert client_for(None).post(URL, {"platform": "ios", "token": "t"}).status_code == 401
    bad = client_for(nurse).post(URL, {"platform": "blackberry", "token": "t"}, format="json")
    assert bad.status_code == 400
