"""Shared pytest fixtures: the read-only data mirror, and isolation from the user's cache and network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Shared fixtures: ``browser`` and ``page`` (headless chromium), see tests/browser.py.
pytest_plugins = ("browser",)

#: The upstream data mirror: $CVALUES_DATA_MIRROR, else ../shared/data next to the checkout (as in CI).
MIRROR = Path(
    os.environ.get("CVALUES_DATA_MIRROR") or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)


def require_mirror() -> Path:
    """The mirror; without it the test is skipped, or fails where CVALUES_REQUIRE_MIRROR=1 (CI sets it),
    so that a CI run without the data cannot pass green on skipped data tests."""
    if not MIRROR.is_dir():
        message = f"data mirror not found at {MIRROR}"
        if os.environ.get("CVALUES_REQUIRE_MIRROR") == "1":
            pytest.fail(
                f"{message}, and CVALUES_REQUIRE_MIRROR=1 says the data tests must run", pytrace=False
            )
        pytest.skip(message)
    return MIRROR


@pytest.fixture(autouse=True)
def _isolated_data_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch ~/.cache/cvalues or the network: a private cache dir and offline mode by default.

    A test that exercises downloads builds its own DataConfig against a 127.0.0.1 server.
    """
    monkeypatch.setenv("CVALUES_CACHE_DIR", str(tmp_path_factory.mktemp("cvalues-cache")))
    monkeypatch.setenv("CVALUES_OFFLINE", "1")
    monkeypatch.delenv("CVALUES_UPSTREAM_BASE_URL", raising=False)


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data mirror path, also set as CVALUES_DATA_MIRROR for the test."""
    require_mirror()
    monkeypatch.setenv("CVALUES_DATA_MIRROR", str(MIRROR))
    return MIRROR
