"""End to end: a nurse works the queue, a clinician reads a patient, another clinic sees nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from notifications.models import Alert, AlertEvent
from tests.conftest import PASSWORD
from tests.dashboard.builders import build_history, make_alert
from tracker.models import Patient, User

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHARTS = ("taper", "clasi", "symptoms", "anc", "platelets")


def sign_in(page: Page, base: str, user: User) -> None:
    page.goto(f"{base}/dashboard/login/")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")


@pytest.fixture
def seeded(alice: Patient, bob: Patient, nurse: User, clinician: User) -> dict[str, Any]:
    data = build_history(alice, clinician=clinician, nurse=nurse)
    # Older but less severe alerts: the urgent one must still come first.
    make_alert(
        bob,
        rule="cytopenia",
        severity="warning",
        age=timedelta(days=2),
        summary="Low neutrophil count 1.3 x10^9/L (below 1.5)",
        evidence={
            "test": "anc",
            "value": "1.3",
            "ctcae_grade": 2,
            "thresholds": {"anc_warning": "1.5", "anc_hold": "1.0"},
        },
    )
    make_alert(
        alice,
        rule="insomnia",
        severity="info",
        age=timedelta(days=5),
        summary="Insomnia severe on the latest check-in",
    )
    make_alert(
        bob,
        rule="adherence",
        severity="info",
        age=timedelta(hours=30),
        summary="3 expected doses in a row not taken",
        assigned_to=nurse,
    )
    return data


def test_nurse_acknowledges_and_resolves_the_urgent_alert_without_reload(
    live_server: Any,
    new_page: Callable[..., Page],
    seeded: dict[str, Any],
    nurse: User,
    screenshots: Path,
) -> None:
    alert: Alert = seeded["alert"]
    page = new_page()
    page.goto(f"{live_server.url}/dashboard/")
    expect(page.locator("input[name=email]")).to_be_visible()  # redirected to sign in
    page.screenshot(path=str(screenshots / "login-1366x768.png"))
    sign_in(page, live_server.url, nurse)

    first = page.locator("table.queue-table tbody tr").first
    expect(first).to_have_attribute("data-alert", str(alert.public_id))
    expect(first).to_have_attribute("data-severity", "urgent")
    expect(first).to_contain_text("UNACKNOWLEDGED")
    expect(page.locator("table.queue-table tbody tr")).to_have_count(4)
    page.screenshot(path=str(screenshots / "queue-1366x768.png"))

    # A marker on window survives htmx swaps and dies with a page load.
    page.evaluate("window.__sameDocument = true")
    row = page.locator(f"#alert-{alert.public_id}")
    row.locator("[data-action=acknowledge]").click()
    row = page.locator(f"#alert-{alert.public_id}")
    expect(row).to_have_attribute("data-status", "acknowledged")
    expect(row).not_to_contain_text("UNACKNOWLEDGED")
    expect(row).to_contain_text("Acknowledged")

    row.locator("summary[data-action=open-resolve]").click()
    row.locator("select[name=resolution]").select_option("confirmed_relapse")
    row.locator("textarea[name=note]").fill("Seen in clinic; taper stepped back to 5 mg daily.")
    row.locator("[data-action=resolve]").click()
    row = page.locator(f"#alert-{alert.public_id}")
    expect(row).to_have_attribute("data-status", "resolved")
    expect(row).to_contain_text("Confirmed relapse")
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    page.screenshot(path=str(screenshots / "queue-after-resolve-1366x768.png"))

    alert.refresh_from_db()
    assert alert.status == Alert.Status.RESOLVED
    assert alert.resolution == "confirmed_relapse"
    events = list(alert.events.order_by("at", "pk").values_list("kind", "actor_id"))
    assert (AlertEvent.Kind.ACKNOWLEDGED, nurse.pk) in events
    assert (AlertEvent.Kind.RESOLVED, nurse.pk) in events

    page.goto(f"{live_server.url}/dashboard/alerts/{alert.public_id}/")
    expect(page.locator("#alert-summary")).to_have_attribute("data-status", "resolved")
    expect(page.locator(".timeline")).to_contain_text("Resolved")
    page.screenshot(path=str(screenshots / "alert-detail-1366x768.png"), full_page=True)


def test_clinician_sees_every_chart_with_data(
    live_server: Any,
    new_page: Callable[..., Page],
    seeded: dict[str, Any],
    alice: Patient,
    clinician: User,
    screenshots: Path,
) -> None:
    page = new_page()
    sign_in(page, live_server.url, clinician)
    page.goto(f"{live_server.url}/dashboard/patients/{alice.public_id}/")
    for key in CHARTS:
        canvas = page.locator(f"canvas#chart-{key}")
        expect(canvas).to_be_visible()
        assert int(canvas.get_attribute("data-points") or 0) > 0, key
        drawn = page.evaluate(
            """key => {
                const chart = Chart.getChart(document.getElementById('chart-' + key));
                if (!chart) return -1;
                return chart.data.datasets.reduce((n, d) => n + d.data.length, 0);
            }""",
            key,
        )
        assert drawn > 0, f"chart {key} has no Chart.js instance or no data ({drawn})"
    expect(page.locator("table.calendar td.day")).to_have_count(84)
    expect(page.locator(".pill-watch")).to_contain_text("Taper watch")
    assert_fits_the_width(page)
    page.screenshot(path=str(screenshots / "patient-1366x768.png"))
    page.screenshot(path=str(screenshots / "patient-full-1366.png"), full_page=True)

    page.goto(f"{live_server.url}/dashboard/patients/")
    expect(page.locator("tr.patient-row")).to_have_count(2)
    page.screenshot(path=str(screenshots / "patients-1366x768.png"))

    tablet = new_page({"width": 820, "height": 1180})
    sign_in(tablet, live_server.url, clinician)
    assert_fits_the_width(tablet)
    tablet.screenshot(path=str(screenshots / "queue-tablet-820x1180.png"))
    tablet.goto(f"{live_server.url}/dashboard/patients/{alice.public_id}/")
    expect(tablet.locator("canvas#chart-taper")).to_be_visible()
    assert_fits_the_width(tablet)
    tablet.screenshot(path=str(screenshots / "patient-tablet-820x1180.png"))


def assert_fits_the_width(page: Page) -> None:
    """Usable without sideways scrolling: nothing wider than the viewport (tables may
    scroll inside their own box, which does not widen the page)."""
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the {page.viewport_size} view"


def test_nurse_of_another_clinic_sees_none_of_these_patients(
    live_server: Any,
    new_page: Callable[..., Page],
    seeded: dict[str, Any],
    alice: Patient,
    other_nurse: User,
    screenshots: Path,
) -> None:
    page = new_page()
    sign_in(page, live_server.url, other_nurse)
    expect(page.locator("table.queue-table tbody tr.alert-row")).to_have_count(0)

    page.goto(f"{live_server.url}/dashboard/patients/")
    expect(page.locator("tr.patient-row")).to_have_count(0)
    expect(page.locator("table.patient-table")).to_contain_text("No patients")

    response = page.goto(f"{live_server.url}/dashboard/patients/{alice.public_id}/")
    assert response is not None
    assert response.status == 404
    response = page.goto(f"{live_server.url}/dashboard/alerts/{seeded['alert'].public_id}/")
    assert response is not None
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    page.screenshot(path=str(screenshots / "not-found-1366x768.png"))


def test_queue_refreshes_itself_every_30_seconds(
    live_server: Any,
    new_page: Callable[..., Page],
    alice: Patient,
    bob: Patient,
    nurse: User,
) -> None:
    make_alert(alice, rule="insomnia", severity="info", age=timedelta(hours=4))
    page = new_page()
    page.clock.install()
    sign_in(page, live_server.url, nurse)
    expect(page.locator("tr.alert-row")).to_have_count(1)
    page.evaluate("window.__sameDocument = true")

    fresh = make_alert(
        bob,
        rule="thrombosis_red_flag",
        severity="urgent",
        age=timedelta(minutes=1),
        summary="Possible blood clot warning signs: chest pain",
    )
    page.clock.fast_forward(31_000)
    expect(page.locator("tr.alert-row")).to_have_count(2)
    expect(page.locator("tr.alert-row").first).to_have_attribute("data-alert", str(fresh.public_id))
    assert page.evaluate("window.__sameDocument === true")

    # An open resolve form holds the refresh back, so a note being typed is not lost.
    page.locator(f"#alert-{fresh.public_id} summary[data-action=open-resolve]").click()
    page.locator(f"#alert-{fresh.public_id} textarea[name=note]").fill("typing...")
    make_alert(bob, rule="cytopenia", severity="warning", age=timedelta(minutes=1))
    page.clock.fast_forward(31_000)
    page.wait_for_timeout(500)
    expect(page.locator("tr.alert-row")).to_have_count(2)
    expect(page.locator(f"#alert-{fresh.public_id} textarea[name=note]")).to_have_value("typing...")
