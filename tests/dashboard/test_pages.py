"""Alert detail, patient list and patient page contents, and the adherence CSV."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dashboard.evidence import describe
from notifications.models import Alert
from tests.dashboard.builders import make_alert
from tests.dashboard.conftest import BrowserFor
from tracker.models import DoseLog, LesionPhoto, Patient, User

pytestmark = pytest.mark.django_db


def chart_specs(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, "no embedded chart data"
    return json.loads(match.group(1))


# --------------------------------------------------------------------------- alert detail


def test_alert_detail_puts_the_evidence_in_words(
    history: dict[str, Any], nurse: User, browser_for: BrowserFor
) -> None:
    alert: Alert = history["alert"]
    html = browser_for(nurse).get(f"/dashboard/alerts/{alert.public_id}/").content.decode()
    assert "Possible relapse" in html
    assert alert.summary in html
    # The taper step, in words, and the days since it.
    assert "Taper step" in html
    assert "5 mg on alternate days" in html
    assert "17.5 mg/week" in html
    assert "down from 5 mg daily (35 mg/week)" in html
    assert "19 days</strong> since the reduction" in html
    assert "inside the 56-day taper watch window" in html
    # Values against thresholds.
    assert "4/10, 5/10 on the last 2 check-ins" in html
    assert "fires at 3/10 or more" in html
    assert "rest of face, arms" in html
    assert "Taper watch window (days after a reduction)" in html
    # An unknown key is still shown, in the fallback table.
    assert "mystery_key" in html
    assert "kept in the fallback table" in html


def test_alert_detail_shows_recent_check_ins_labs_and_history(
    history: dict[str, Any], nurse: User, browser_for: BrowserFor
) -> None:
    alert: Alert = history["alert"]
    html = browser_for(nurse).get(f"/dashboard/alerts/{alert.public_id}/").content.decode()
    check_ins = html.split('id="ci-title"')[1].split("</section>")[0]
    assert check_ins.count("<tr>") == 1 + 4  # header + last 4
    assert "new lesions" in check_ins
    assert "5/10" in check_ins
    labs = html.split('id="lab-title"')[1].split("</section>")[0]
    assert labs.count("<tr>") == 1 + 6
    assert "Grade 2" in labs  # platelets 70
    assert "Neutrophils (ANC)" in labs
    history_html = html.split('id="hist-title"')[1].split("</section>")[0]
    assert "Raised" in history_html
    assert "by the system" in history_html
    assert 'name="note"' in history_html
    assert "No photos yet." in html


def test_alert_detail_shows_baseline_beside_latest_photo(
    alice: Patient, nurse: User, browser_for: BrowserFor
) -> None:
    alert = make_alert(alice)
    now = datetime.now(UTC)
    for i, (area, days) in enumerate((("face", 90), ("face", 40), ("face", 2), ("arms", 10))):
        LesionPhoto.objects.create(
            patient=alice,
            client_id=uuid.uuid4(),
            body_area=area,
            taken_at=now - timedelta(days=days),
            status=LesionPhoto.Status.READY,
            image=f"photos/{i}.jpg",
            width=100,
            height=100,
            sha256=f"{i:064}",
            upload_sha256=f"{i + 10:064}",
            size_bytes=1000,
            uploaded_by=alice.user,
        )
    html = browser_for(nurse).get(f"/dashboard/alerts/{alert.public_id}/").content.decode()
    photos = html.split('id="ph-title"')[1].split("</section>")[0]
    face = photos.split("Rest of face")[1].split("photo-pair")[0]
    assert "Baseline" in face
    assert "Latest" in face
    baseline = (now - timedelta(days=90)).strftime("%-d %b %Y")
    latest = (now - timedelta(days=2)).strftime("%-d %b %Y")
    assert baseline in face
    assert latest in face
    assert (now - timedelta(days=40)).strftime("%-d %b %Y") not in face
    assert "Only one photo of this area." in photos  # arms


def test_evidence_fallback_for_an_unknown_rule() -> None:
    view = describe(
        "new_rule", {"level": 3, "nested": {"a": True, "row_id": 9}, "thresholds": {"x_y": 2}}
    )
    assert ("level", "3") in view.other
    assert ("nested.a", "yes") in view.other
    assert all("row_id" not in key for key, _ in view.other)
    assert ("x y", "2") in view.thresholds


def test_evidence_of_a_cytopenia() -> None:
    view = describe(
        "cytopenia",
        {
            "test": "anc",
            "value": "0.8",
            "collected_on": "2026-03-02",
            "ctcae_grade": 3,
            "fever_check_in_ids": [4],
            "thresholds": {"anc_warning": "1.5", "anc_hold": "1.0", "febrile_window_days": 3},
        },
    )
    texts = {f.label: f.text for f in view.facts}
    assert texts["Neutrophils (ANC)"].startswith("0.8 ×10⁹/L: below the hold level 1")
    assert "warning < 1.5, hold < 1" in texts["Neutrophils (ANC)"]
    assert texts["CTCAE v5 grade"] == "grade 3"
    assert texts["Collected on"] == "2 Mar 2026"
    assert "within 3 days" in texts["Fever"]
    assert view.other == []


def test_evidence_of_gi_intolerance() -> None:
    view = describe(
        "gi_intolerance",
        {
            "date": "2026-03-02",
            "at_level": [{"term": "diarrhea", "attribute": "frequency", "value": 4}],
            "rises": [],
            "urgent_reasons": ["diarrhea_frequency"],
            "symptoms": [
                {
                    "term": "diarrhea",
                    "frequency": 4,
                    "severity": None,
                    "interference": None,
                    "composite_grade": 3,
                }
            ],
            "thresholds": {"gi_attribute_level": 3},
        },
    )
    texts = [f"{f.label}: {f.text}" for f in view.facts]
    assert "Diarrhoea (frequency): almost constantly (4/4); fires at 3/4 or more" in texts
    assert "Urgent because: diarrhoea almost constantly" in texts
    assert view.symptoms[0]["grade"] == 3


# --------------------------------------------------------------------------- patient list


def test_patient_list_shows_status_badges(
    history: dict[str, Any], bob: Patient, nurse: User, browser_for: BrowserFor
) -> None:
    html = browser_for(nurse).get("/dashboard/patients/").content.decode()
    rows = re.findall(r'<tr class="patient-row".*?</tr>', html, re.S)
    assert len(rows) == 2
    alice_row = next(r for r in rows if "A001" in r)
    bob_row = next(r for r in rows if "B002" in r)
    assert "On treatment" in alice_row
    assert "Taper watch · day 20" in alice_row
    assert "5 mg on alternate days" in alice_row
    assert "1 open" in alice_row
    assert "Not started" in bob_row
    assert "Taper watch" not in bob_row
    assert "None" in bob_row


def test_patient_search_by_name_or_mrn(
    alice: Patient, bob: Patient, nurse: User, browser_for: BrowserFor
) -> None:
    client = browser_for(nurse)

    def found(q: str) -> list[str]:
        html = client.get("/dashboard/patients/", {"q": q}).content.decode()
        return re.findall(r"MRN (\w+)</div>", html)

    assert found("a001") == ["A001"]
    assert found("Bob") == ["B002"]
    assert sorted(found("tester")) == ["A001", "B002"]
    assert found("alice tester") == ["A001"]
    assert found("nobody") == []


# --------------------------------------------------------------------------- patient page


def test_patient_page_charts_have_data(
    history: dict[str, Any], alice: Patient, clinician: User, browser_for: BrowserFor
) -> None:
    html = browser_for(clinician).get(f"/dashboard/patients/{alice.public_id}/").content.decode()
    specs = chart_specs(html)
    for key in ("taper", "clasi", "symptoms", "anc", "platelets"):
        assert specs[key]["points"] > 0, key
        assert f'data-chart="{key}" data-points="{specs[key]["points"]}"' in html
    labels = [d["label"] for d in specs["clasi"]["datasets"]]
    cr = next(d for d in specs["clasi"]["datasets"] if d["style"] == "cr")
    relapse = next(d for d in specs["clasi"]["datasets"] if d["style"] == "relapse")
    assert len(cr["points"]) == 3
    assert len(relapse["points"]) == 1
    assert relapse["points"][0][1] == 5
    assert "CLASI activity" in labels
    # One line per symptom term ever above 0: nausea and insomnia, not fatigue.
    assert sorted(d["label"] for d in specs["symptoms"]["datasets"]) == ["Insomnia", "Nausea"]
    anc_lines = [d["points"][0][1] for d in specs["anc"]["datasets"] if d["style"] == "threshold"]
    assert anc_lines == [1.5, 1.0, 0.5]
    plt_lines = [
        d["points"][0][1] for d in specs["platelets"]["datasets"] if d["style"] == "threshold"
    ]
    assert plt_lines == [75, 50, 25]
    taper = next(d for d in specs["taper"]["datasets"] if d["style"] == "step")
    assert {p[1] for p in taper["points"]} == {5.0, 10.0}
    average = next(d for d in specs["taper"]["datasets"] if d["style"] == "step_average")
    assert average["points"][-1][1] == 2.5  # 5 mg on alternate days
    assert "/static/dashboard/vendor/chart.umd.min.js" in html
    assert "/static/dashboard/charts.js" in html


def test_patient_page_calendar_and_summary(
    history: dict[str, Any], alice: Patient, clinician: User, browser_for: BrowserFor
) -> None:
    html = browser_for(clinician).get(f"/dashboard/patients/{alice.public_id}/").content.decode()
    cells = re.findall(r'data-state="(\w+)"', html)
    assert len(cells) == 84
    assert {"taken", "missed", "not_logged", "no_dose", "extra"} <= set(cells)
    for words in ("Taken", "Missed", "Not logged", "Extra dose on an off-day", "No dose due"):
        assert words in html
    assert "Taper watch window · day 20 of 56" in html
    assert "Complete response" in html
    assert "Relapse" in html
    assert "/adherence.csv" in html
    assert "No photos yet." in html


def test_patient_page_without_history_says_so(
    bob: Patient, clinician: User, browser_for: BrowserFor
) -> None:
    html = browser_for(clinician).get(f"/dashboard/patients/{bob.public_id}/").content.decode()
    assert html.count("No data yet.") == 5
    assert "<canvas" not in html
    assert "Not started" in html


def test_adherence_csv(
    history: dict[str, Any], alice: Patient, clinician: User, browser_for: BrowserFor
) -> None:
    response = browser_for(clinician).get(f"/dashboard/patients/{alice.public_id}/adherence.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="adherence-A001.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["date", "expected_mg", "state", "logged_mg"]
    today = history["today"]
    assert len(rows) - 1 == 151  # day -150 .. today
    by_day = {r[0]: r for r in rows[1:]}
    assert rows[1][0] == (today - timedelta(days=150)).isoformat()
    assert rows[-1][0] == today.isoformat()
    assert rows[-1][2] in ("not_logged", "no_dose")
    taken = DoseLog.objects.filter(patient=alice, status="taken", expected_dose_mg=10).first()
    assert taken is not None
    assert by_day[taken.scheduled_date.isoformat()][1:] == ["10", "taken", "10"]
    missed = DoseLog.objects.filter(patient=alice, status="missed").first()
    assert missed is not None
    assert by_day[missed.scheduled_date.isoformat()][2] == "missed"
    assert by_day[missed.scheduled_date.isoformat()][3] == ""
    states = {r[2] for r in rows[1:]}
    assert {"taken", "missed", "not_logged", "no_dose", "extra"} <= states


def test_adherence_csv_of_a_patient_without_regimen_is_just_the_header(
    bob: Patient, clinician: User, browser_for: BrowserFor
) -> None:
    response = browser_for(clinician).get(f"/dashboard/patients/{bob.public_id}/adherence.csv")
    assert response.content.decode().strip() == "date,expected_mg,state,logged_mg"


def test_patient_page_gallery_by_body_area(
    alice: Patient, clinician: User, browser_for: BrowserFor
) -> None:
    now = datetime.now(UTC)
    for i, (area, days) in enumerate((("face", 30), ("face", 3), ("arms", 10))):
        LesionPhoto.objects.create(
            patient=alice,
            client_id=uuid.uuid4(),
            body_area=area,
            taken_at=now - timedelta(days=days),
            status=LesionPhoto.Status.READY,
            image=f"photos/{i}.jpg",
            width=100,
            height=100,
            sha256=f"{i:064}",
            upload_sha256=f"{i + 10:064}",
            size_bytes=1000,
            uploaded_by=alice.user,
        )
    html = browser_for(clinician).get(f"/dashboard/patients/{alice.public_id}/").content.decode()
    gallery = html.split('id="gal-title"')[1].split("</section>")[0]
    assert "Arms" in gallery
    assert "Rest of face" in gallery
    assert gallery.count('<figure class="photo">') == 3
    assert "No photos yet." not in gallery
