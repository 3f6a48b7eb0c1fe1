"""The alert and device endpoints document themselves without schema warnings."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.core.management import call_command


def test_notification_endpoints_in_schema_without_warnings(tmp_path: Path) -> None:
    target = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    paths = yaml.safe_load(target.read_text())["paths"]
    for path in (
        "",
        "{id}/",
        "{id}/acknowledge/",
        "{id}/assign/",
        "{id}/resolve/",
        "{id}/comment/",
        "{id}/escalate/",
    ):
        assert f"/api/v1/alerts/{path}" in paths
    assert {"/api/v1/devices/", "/api/v1/devices/{id}/"} <= set(paths)
    names = {p["name"] for p in paths["/api/v1/alerts/"]["get"]["parameters"]}
    assert {"status", "severity", "rule", "patient", "assigned", "page"} <= names
