"""The official files that are not in the mirror, in their real layouts: every case of
tests/official_formats/cases.jsonl run through the real CLI, and its outcome checked.

The cases (and the placeholder files) were written from the upstream formats before the loaders were
read; tests/official_formats/README.md gives the sources and the before/after results.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cvalues.cli import cli
from cvalues.data.sources import SOURCES, SourceFile

HERE = Path(__file__).resolve().parent / "official_formats"
CASES = [json.loads(line) for line in (HERE / "cases.jsonl").read_text("utf-8").splitlines() if line.strip()]

#: Cases whose expected outcome is a judgement call, kept as strict xfails with the reason.
XFAIL: dict[str, str] = {}


def git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def pin_responsibility_mc(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    """Pin `responsibility-mc` to these bytes, as if they were the official file."""
    pinned = SOURCES["cvalues-responsibility-mc"]
    fake = SourceFile(pinned.source_id, pinned.repo, pinned.commit, pinned.path, None, None, git_blob=git_blob(data))
    monkeypatch.setitem(SOURCES, pinned.source_id, fake)


def unpad(item_id: str) -> str:
    """`rmc-0001` and `rmc-1` name the same line: compare ids without zero padding."""
    return re.sub(r"-0+(\d)", r"-\1", item_id)


def dig(record: dict[str, Any], dotted: str) -> Any:
    value: Any = record
    for key in dotted.split("."):
        value = value[key]
    return value


def find_number(obj: Any, keys: tuple[str, ...]) -> Any:
    """The first value under one of `keys`, searched depth first through nested objects."""
    if isinstance(obj, dict):
        for key in keys:
            if key in obj and isinstance(obj[key], int | float):
                return obj[key]
        for value in obj.values():
            found = find_number(value, keys)
            if found is not None:
                return found
    return None


def check_records(records: list[dict[str, Any]], expect: dict[str, Any]) -> None:
    assert len(records) == expect["count"]
    if "ids" in expect:
        assert [unpad(r["id"]) for r in records] == expect["ids"]
    assert len({r["id"] for r in records}) == len(records)
    for key in ("gold", "category", "difficulty"):
        if key in expect:
            assert [r[key] for r in records] == expect[key], key
    if "level" in expect:
        assert {r["level"] for r in records} == {expect["level"]}
    if expect.get("pairs") == "consecutive":
        for a, b in zip(records[::2], records[1::2], strict=True):
            assert a["pair_id"] == b["pair_id"]
            assert (a["reply1"], a["reply2"]) == (b["reply2"], b["reply1"])
        assert len({r["pair_id"] for r in records}) == len(records) // 2
    for dotted, text in expect.get("text_of_first", {}).items():
        assert dig(records[0], dotted) == text, dotted
    if expect.get("no_cr"):
        blob = json.dumps(records, ensure_ascii=False)
        assert "\\r" not in blob and "\ufeff" not in blob


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_official_format_case(
    case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    if case["id"] in XFAIL:
        request.applymarker(pytest.mark.xfail(reason=XFAIL[case["id"]], strict=True))
    monkeypatch.delenv("CVALUES_DATA_MIRROR", raising=False)
    path = HERE / case["file"]
    data = path.read_bytes()
    if case.get("pin") == "self":
        pin_responsibility_mc(monkeypatch, data)
    elif case.get("pin") == "lf":
        pin_responsibility_mc(monkeypatch, data.replace(b"\r\n", b"\n"))
    out, run_dir = tmp_path / "out.jsonl", tmp_path / "run"
    fill = {"{file}": str(path), "{out}": str(out), "{run}": str(run_dir)}
    if "replay" in case:
        fill["{replay}"] = str(HERE / case["replay"])
    argv = []
    for arg in case["argv"]:
        for key, value in fill.items():
            arg = arg.replace(key, value)
        argv.append(arg)
    result = CliRunner().invoke(cli, argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    expect = case["expect"]
    wanted_exit = expect["exit"]
    if wanted_exit == "either":
        wanted_exit = 0 if result.exit_code == 0 else "nonzero"
    if wanted_exit == "nonzero":
        assert result.exit_code != 0, result.output
        # the file is named, and every other needle is found outside the file's name
        assert path.name in result.output, result.output
        message = result.output.replace(str(path), "").replace(path.name, "")
        for needle in expect["error"]:
            if needle != path.name:
                assert needle in message, (needle, result.output)
        assert "Traceback" not in result.output
        assert not out.exists()
        return
    assert result.exit_code == 0, result.output
    if "count" in expect and out.exists():
        records = [json.loads(line) for line in out.read_text("utf-8").splitlines() if line.strip()]
        check_records(records, expect)
    if "show_count" in expect:
        summary = json.loads(result.output)
        assert summary["count"] == expect["show_count"]
        assert summary["by_category"] == expect["by_category"]
    if "acc" in expect:
        metrics = json.loads(result.output)
        assert find_number(metrics, ("total", "total_cnt", "n", "items")) == expect["total"]
        assert find_number(metrics, ("acc",)) == pytest.approx(expect["acc"])
    if "answered" in expect:
        shown = CliRunner().invoke(cli, ["runs", "show", str(run_dir), "--json"])
        assert shown.exit_code == 0, shown.output
        manifest = json.loads(shown.output)
        assert find_number(manifest, ("ok", "answered", "done", "succeeded")) == expect["answered"], manifest
