"""The import rules of docs/architecture.md section 1, checked on the source: the domain
never imports the web API, the notification system or the dashboard, and notifications
never import the API or the dashboard (a module-level or a function-level import alike)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "tracker": {"api", "notifications", "dashboard"},
    "notifications": {"api", "dashboard"},
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports_follow_the_architecture(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    broken = {
        str(f.relative_to(ROOT)): sorted(_imports(f) & FORBIDDEN[package])
        for f in files
        if _imports(f) & FORBIDDEN[package]
    }
    assert broken == {}
