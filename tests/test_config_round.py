"""The blind config round: every case of tests/config_cases/cases.jsonl through the real CLI.

The cases are `cvalues run --config` files written from the docs and `--help` alone
(tests/config_cases/README.md). An accepted case exits 0; one that really runs (no `--dry-run`) does so
against a local OpenAI-compatible test server, and what it planned is read back from `OUT/config.yaml`
(the validated config as run) and from the stage folders it made. An error case exits non-zero with no
traceback, names the file, the line and the field, echoes no secret, and leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from openai_server import OpenAIServer
from test_bad_input_round import line_named

from cvalues.cli import cli

HERE = Path(__file__).resolve().parent / "config_cases"
CASES: list[dict[str, Any]] = [
    json.loads(line) for line in (HERE / "cases.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()
]

#: Cases whose expectation turned out debatable once the code was read (case id -> reason).
DEBATABLE: dict[str, str] = {}


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


def _invoke(argv: list[str], d: Path) -> Result:
    return CliRunner().invoke(cli, [a.replace("{d}", str(d)) for a in argv], catch_exceptions=True)


def _crashed(result: Result) -> bool:
    exc = result.exception
    return (exc is not None and not isinstance(exc, SystemExit)) or "Traceback (most recent call last)" in (
        result.output
    )


def _lookup(data: Any, dotted: str) -> Any:
    """`models[1].settings.max_tokens` in a loaded YAML document."""
    for part in dotted.split("."):
        m = re.fullmatch(r"([^\[]+)((?:\[\d+\])*)", part)
        assert m, dotted
        data = data[m.group(1)]
        for index in re.findall(r"\[(\d+)\]", m.group(2)):
            data = data[int(index)]
    return data


def _params() -> list[Any]:
    params = []
    for case in CASES:
        marks = []
        if case["id"] in DEBATABLE:
            marks.append(pytest.mark.xfail(strict=True, reason=DEBATABLE[case["id"]]))
        if case.get("chmod") and hasattr(os, "geteuid") and os.geteuid() == 0:
            marks.append(pytest.mark.skip(reason="root reads files without read permission"))
        params.append(pytest.param(case, id=case["id"], marks=marks))
    return params


@pytest.mark.parametrize("case", _params())
def test_case(
    case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror: Path, server: OpenAIServer
) -> None:
    d = tmp_path / "d"
    shutil.copytree(HERE / "files", d)
    monkeypatch.chdir(d)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("CVALUES_OFFLINE", "1")
    monkeypatch.setenv("CVALUES_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("OPENAI_API_KEY", "CVR_UNSET_KEY", "CVR_TEST_KEY", "CVR_RUNS"):
        monkeypatch.delenv(var, raising=False)
    for var, value in case.get("env", {}).items():
        monkeypatch.setenv(var, value.replace("{d}", str(d)))
    for rel, mode in case.get("chmod", {}).items():
        (d / rel).chmod(mode)
    before = {p.relative_to(d) for p in d.rglob("*")}

    result = _invoke(case["argv"], d)
    output = result.output
    assert not _crashed(result), f"crashed: {result.exception!r}\n{output[-3000:]}"
    for secret in case.get("output_lacks", []):
        assert secret not in output, f"{secret!r} is in the output ({case['why']}):\n{output[-2000:]}"
    for text in case.get("output_has", []):
        assert text in output, f"{text!r} is not in the output:\n{output[-2000:]}"

    if case["expect"] == "accept":
        assert result.exit_code == 0, f"should be accepted ({case['why']}), got:\n{output[-3000:]}"
        for rel in case.get("exists", []):
            assert (d / rel).is_dir(), f"{rel} was not made ({case['why']}):\n{output[-2000:]}"
        if "--dry-run" not in case["argv"]:
            out = d / case.get("plan_out", "out")
            planned = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
            for dotted, want in case.get("plan", {}).items():
                got = _lookup(planned, dotted)
                assert got == want, f"{dotted}: planned {got!r}, the file meant {want!r} ({case['why']})"
        else:
            assert {p.relative_to(d) for p in d.rglob("*")} == before, "a dry run wrote files"
    else:
        assert result.exit_code != 0, f"should fail ({case['why']}) but exited 0:\n{output[-2000:]}"
        names = case["names"]
        if names.get("file"):
            assert names["file"] in output, f"error does not name the file {names['file']}:\n{output[-2000:]}"
        if names.get("line") is not None:
            assert line_named(output, names["line"]), f"error does not name line {names['line']}:\n{output[-2000:]}"
        if names.get("field"):
            assert names["field"] in output, f"error does not name the field {names['field']}:\n{output[-2000:]}"
        assert {p.relative_to(d) for p in d.rglob("*")} == before, (
            f"a refused config left files behind: {sorted(map(str, {p.relative_to(d) for p in d.rglob('*')} - before))[:10]}"
        )
    for rel in case.get("absent", []):
        assert not (d / rel).exists(), f"{rel} exists ({case['why']})"
