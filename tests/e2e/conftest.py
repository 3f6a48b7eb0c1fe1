"""Browser tests: Debian's headless Chromium driven by Playwright (sync API).

Never a downloaded browser build: the tests use /usr/bin/chromium (scripts/test.sh installs
the Debian package when it is missing) and skip, saying why, only when it is not there.
Playwright's sync API runs an event loop in this thread, so Django's async-safety guard is
lifted (DJANGO_ALLOW_ASYNC_UNSAFE=true) while a browser is open; the live server runs in its
own thread against the test database.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DESKTOP = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module.

    Module-scoped, not session-scoped: while Playwright's loop is alive every ORM call in
    this thread needs DJANGO_ALLOW_ASYNC_UNSAFE, and the tests after these modules should run
    with Django's guard back in place.
    """
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            # CI must run the browser tests: scripts/test.sh installs chromium as root.
            pytest.fail("CI=true but /usr/bin/chromium is missing: the browser tests cannot run")
        pytest.skip(
            "Debian's chromium is not installed at /usr/bin/chromium "
            "(apt-get install chromium; scripts/test.sh does it when run as root)"
        )
    from playwright.sync_api import sync_playwright

    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Pages in fresh contexts (no shared cookies), closed after the test."""
    contexts = []

    def build(viewport: dict[str, int] | None = None) -> Page:
        context = browser.new_context(viewport=viewport or DESKTOP, locale="en-GB")
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield build
    for context in contexts:
        context.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
