"""Shared pytest fixtures: the read-only data mirror, and isolation from the user's cache and network."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Shared fixtures: ``browser`` and ``page`` (headless chromium), see tests/browser.py.
pytest_plugins = ("browser",)

#: The upstream data mirror next to the checkout (CI sets CVALUES_DATA_MIRROR to the same folder).
MIRROR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


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
    if not MIRROR.is_dir():
        pytest.skip(f"data mirror not found at {MIRROR}")
    monkeypatch.setenv("CVALUES_DATA_MIRROR", str(MIRROR))
    return MIRROR
