"""A real headless browser for end-to-end tests: Debian's chromium driven by Playwright.

pip's Playwright cannot download its own browser here, so it is pointed at the system one
(``/usr/bin/chromium`` or ``CVALUES_CHROMIUM``). Without it the browser tests skip, unless
``CVALUES_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

#: Flags for a sandboxed, offline machine: no background connections to Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    """The system chromium, or None."""
    explicit = os.environ.get("CVALUES_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _missing(reason: str) -> None:
    if os.environ.get("CVALUES_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CVALUES_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless chromium per test module (a Playwright ``Browser``).

    Module scope, not session: Playwright's sync API keeps an event loop running in the main thread
    while it is open, so every later ``asyncio.run()`` in the session would fail."""
    executable = chromium_path()
    if executable is None:
        _missing("no chromium found: apt-get install -y chromium, or set CVALUES_CHROMIUM")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install playwright)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh browser context and page per test; console errors are collected in ``page.console_errors``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    new_page.on("pageerror", lambda exc: errors.append(str(exc)))
    new_page.console_errors = errors
    try:
        yield new_page
    finally:
        context.close()


#: Where screenshots used by the docs live; the browser tests refresh them when asked.
DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"


def screenshot_dir(tmp_path: Path) -> Path:
    """Where a browser test saves its screenshots: ``docs/img`` when ``CVALUES_UPDATE_SCREENSHOTS=1``
    (to refresh the pictures the docs show), else the test's own temporary folder, so that a test run
    leaves the working tree unchanged."""
    target = DOCS_IMG if os.environ.get("CVALUES_UPDATE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    return target
