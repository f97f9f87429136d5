"""Held-out corpora of server answers (one JSON object a line), as pytest parameters.

Shared by the rounds that serve each case from the local server (tests/provider_blocks/,
tests/server_answers/): a case whose label is debatable is a strict xfail with its reason, so a change
that comes to read it as labelled shows up."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest


def read_cases(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def case_params(path: Path, debatable: Mapping[str, str]) -> list[Any]:
    """One ``pytest.param`` per case of ``path``, named by its ``id``."""
    out = []
    for case in read_cases(path):
        marks = []
        if case["id"] in debatable:
            marks.append(pytest.mark.xfail(strict=True, reason=debatable[case["id"]]))
        out.append(pytest.param(case, id=case["id"], marks=marks))
    return out
