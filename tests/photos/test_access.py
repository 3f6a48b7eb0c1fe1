"""Reading photos: who sees what, how files are served, and the list as a lesion's course."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from tests import fixtures_images as fx
from tests.photos.conftest import API, assert_problem, make_photo, photo_url, post_photo
from tests.records.factories import ClientFor
from tracker.models import AuditEvent, LesionPhoto, Patient, User
from tracker.services.photos import photo_process

ACTORS = ("self", "other_patient", "nurse", "clinician", "clinic_admin", "other_nurse", "anonymous")
# Seen from Alice's photo. Other clinics and other patients must not learn it exists: 404.
EXPECTED = {
    "self": 200,
    "other_patient": 404,
    "nurse": 200,
    "clinician": 200,
    "clinic_admin": 200,
    "other_nurse": 404,
    "anonymous": 401,
}
FILE_ENDPOINTS = ("image", "thumbnail")


@pytest.fixture
def actors(
    alice: Patient,
    bob: Patient,
    nurse: User,
    clinician: User,
    clinic_admin: User,
    other_nurse: User,
) -> dict[str, User | None]:
    return {
        "self": alice.user,
        "other_patient": bob.user,
        "nurse": nurse,
        "clinician": clinician,
        "clinic_admin": clinic_admin,
        "other_nurse": other_nurse,
        "anonymous": None,
    }


@pytest.fixture
def ready_photo(alice: Patient, client_for: ClientFor) -> LesionPhoto:
    photo = make_photo(client_for, alice, fx.jpeg_bytes((400, 300)))
    assert photo_process(photo.pk) == "ready"
    photo.refresh_from_db()
    return photo


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("endpoint", ["detail", *FILE_ENDPOINTS])
def test_permission_matrix_for_one_photo(
    actor: str,
    endpoint: str,
    actors: dict[str, User | None],
    ready_photo: LesionPhoto,
    client_for: ClientFor,
) -> None:
    path = photo_url(ready_photo) if endpoint == "detail" else photo_url(ready_photo, endpoint)

    response = client_for(actors[actor]).get(path)

    assert response.status_code == EXPECTED[actor], (actor, endpoint, response.content[:200])
    if response.status_code != 200:
        assert response["Content-Type"].startswith("application/problem+json")
    elif endpoint == "detail":
        assert response.json()["id"] == str(ready_photo.public_id)
    else:
        assert response["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize("actor", ACTORS)
def test_permission_matrix_for_the_list(
    actor: str,
    actors: dict[str, User | None],
    ready_photo: LesionPhoto,
    carol: Patient,
    client_for: ClientFor,
) -> None:
    make_photo(client_for, carol, fx.png_bytes())

    response = client_for(actors[actor]).get(API)

    if actor == "anonymous":
        assert_problem(response, 401)
        return
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    sees_alice = EXPECTED[actor] == 200
    assert (str(ready_photo.public_id) in ids) is sees_alice
    # Carol's photo is seen by her own clinic only.
    patients = {row["patient"] for row in response.json()["results"]}
    assert (str(carol.public_id) in patients) is (actor == "other_nurse")


def test_staff_filter_by_patient(
    alice: Patient, bob: Patient, nurse: User, client_for: ClientFor
) -> None:
    make_photo(client_for, alice, fx.jpeg_bytes())
    theirs = make_photo(client_for, bob, fx.png_bytes())

    response = client_for(nurse).get(API, {"patient": str(bob.public_id)})

    assert [r["id"] for r in response.json()["results"]] == [str(theirs.public_id)]


@pytest.mark.parametrize("endpoint", FILE_ENDPOINTS)
def test_files_are_served_with_fixed_safe_headers(
    endpoint: str, ready_photo: LesionPhoto, nurse: User, client_for: ClientFor
) -> None:
    response = client_for(nurse).get(
        photo_url(ready_photo, endpoint), HTTP_ACCEPT="text/html,image/jpeg"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    disposition = response["Content-Disposition"]
    assert disposition.startswith("inline; filename=")
    assert str(ready_photo.public_id) in disposition
    assert ".." not in disposition
    img = Image.open(io.BytesIO(response.content))
    assert img.format == "JPEG"
    if endpoint == "thumbnail":
        assert max(img.size) <= 320
    else:
        assert img.size == (400, 300)


def test_files_are_served_whatever_the_accept_header(
    ready_photo: LesionPhoto, alice: Patient, client_for: ClientFor
) -> None:
    response = client_for(alice.user).get(photo_url(ready_photo, "image"), HTTP_ACCEPT="image/png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"


def test_viewing_a_photo_is_audited(
    ready_photo: LesionPhoto, nurse: User, client_for: ClientFor
) -> None:
    client_for(nurse).get(photo_url(ready_photo, "image"))

    event = AuditEvent.objects.filter(actor=nurse).latest("pk")
    assert (event.action, event.object_id, event.patient_id) == (
        "read:image",
        str(ready_photo.public_id),
        ready_photo.patient_id,
    )


def test_thumbnail_of_a_photo_still_processing_is_not_ready(
    alice: Patient, client_for: ClientFor
) -> None:
    photo = make_photo(client_for, alice)
    client = client_for(alice.user)

    assert_problem(client.get(photo_url(photo, "thumbnail")), 409, "not_ready")
    assert client.get(photo_url(photo, "image")).status_code == 200  # the image is there


def test_the_detail_links_to_the_api_never_to_storage(
    ready_photo: LesionPhoto, alice: Patient, client_for: ClientFor
) -> None:
    body = client_for(alice.user).get(photo_url(ready_photo)).json()

    assert body["status"] == "ready"
    assert body["image_url"] == f"http://testserver{photo_url(ready_photo, 'image')}"
    assert body["thumbnail_url"] == f"http://testserver{photo_url(ready_photo, 'thumbnail')}"


@pytest.mark.parametrize("bad", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
@pytest.mark.parametrize("endpoint", ["", "image", "thumbnail"])
def test_unknown_ids_are_404(
    bad: str, endpoint: str, alice: Patient, client_for: ClientFor
) -> None:
    path = photo_url(bad, endpoint) if endpoint else photo_url(bad)

    assert_problem(client_for(alice.user).get(path), 404)


def _photo_at(client_for: ClientFor, patient: Patient, area: str, days_ago: int, n: int) -> Any:
    taken = datetime.now(UTC) - timedelta(days=days_ago)
    return make_photo(
        client_for,
        patient,
        fx.jpeg_bytes((16 + n, 16)),  # distinct bytes per photo
        body_area=area,
        taken_at=taken.isoformat(),
    )


def test_list_per_body_area_runs_oldest_to_newest(
    alice: Patient, nurse: User, client_for: ClientFor
) -> None:
    # Uploaded out of order, as a phone syncing a backlog would.
    made = {
        (area, days): _photo_at(client_for, alice, area, days, i)
        for i, (area, days) in enumerate(
            [("face", 3), ("arms", 9), ("face", 30), ("face", 1), ("arms", 2), ("face", 14)]
        )
    }

    response = client_for(nurse).get(API, {"patient": str(alice.public_id), "body_area": "face"})

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["id"] for r in rows] == [str(made[("face", d)].public_id) for d in (30, 14, 3, 1)]
    taken = [r["taken_at"] for r in rows]
    assert taken == sorted(taken)
    everything = client_for(alice.user).get(API).json()["results"]
    assert [r["taken_at"] for r in everything] == sorted(r["taken_at"] for r in everything)
    assert len(everything) == 6


def test_an_unknown_body_area_filter_is_refused(alice: Patient, client_for: ClientFor) -> None:
    assert_problem(client_for(alice.user).get(API, {"body_area": "elbow"}), 400)


@pytest.mark.parametrize("viewer", ["nurse", "patient"])
def test_list_query_count_does_not_grow_with_the_number_of_photos(
    viewer: str, alice: Patient, nurse: User, client_for: ClientFor
) -> None:
    from tests.records.factories import check_in

    link = check_in(alice)
    for n in range(30):
        photo = _photo_at(client_for, alice, "face", n + 1, n)
        if n % 2:
            LesionPhoto.objects.filter(pk=photo.pk).update(check_in=link)
    client = client_for(nurse if viewer == "nurse" else alice.user)

    def count(page_size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(API, {"page_size": page_size})
        assert len(response.json()["results"]) == page_size
        return len(ctx.captured_queries)

    assert count(3) == count(30)


def test_a_rejected_photo_is_listed_but_not_served(alice: Patient, client_for: ClientFor) -> None:
    photo = make_photo(client_for, alice)
    LesionPhoto.objects.filter(pk=photo.pk).update(status=LesionPhoto.Status.REJECTED)
    client = client_for(alice.user)

    body = client.get(photo_url(photo)).json()
    assert (body["status"], body["image_url"], body["thumbnail_url"]) == ("rejected", None, None)
    assert_problem(client.get(photo_url(photo, "image")), 409, "photo_rejected")


def test_post_to_a_photo_action_is_not_allowed(
    ready_photo: LesionPhoto, alice: Patient, client_for: ClientFor
) -> None:
    response = client_for(alice.user).post(photo_url(ready_photo, "image"))

    assert response.status_code == 405


def test_upload_then_list_shows_the_patient_their_photo(
    alice: Patient, client_for: ClientFor
) -> None:
    client = client_for(alice.user)
    created = post_photo(client).json()

    rows = client.get(API).json()["results"]
    assert [r["id"] for r in rows] == [created["id"]]
