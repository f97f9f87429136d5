"""The official files that are not in the mirror, in their real layouts: every case of
tests/official_formats/cases.jsonl run through the real CLI, and its outcome checked.

The cases (and the placeholder files) were written from the upstream formats before the loaders were
read; tests/official_formats/README.md gives the sources and the before/after results.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cvalues.cli import cli
from cvalues.data import checksums
from cvalues.data.config import DataConfig
from cvalues.data.errors import DataError
from cvalues.data.readers import iter_records
from cvalues.data.sources import SOURCES, SourceFile
from cvalues.data.suites import load_suite

HERE = Path(__file__).resolve().parent / "official_formats"
CASES = [json.loads(line) for line in (HERE / "cases.jsonl").read_text("utf-8").splitlines() if line.strip()]

#: Cases whose expected outcome is a judgement call, kept as strict xfails with the reason.
XFAIL: dict[str, str] = {
    "cvc-train": (
        "debatable: the case wants reply texts kept byte for byte, and cvalues strips whitespace at the "
        "ends of every reply (one rule for all multi-choice sources); upstream's leading space in "
        "some neg_resp carries no meaning"
    ),
}


def git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def pin_responsibility_mc(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    """Pin `responsibility-mc` to these bytes, as if they were the official file."""
    pinned = SOURCES["cvalues-responsibility-mc"]
    fake = SourceFile(
        pinned.source_id, pinned.repo, pinned.commit, pinned.path, None, None, git_blob=git_blob(data)
    )
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


# --- the general fixes behind the round, on their own ------------------------------------------------------


def test_json_and_json_lines_are_told_apart_by_content(tmp_path: Path) -> None:
    rows = [{"prompt": f"占位问题{n}", "answer": f"占位答案{n}"} for n in range(3)]
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    as_json = tmp_path / "train.json"  # JSON Lines under a .json name, as hubs save it
    as_json.write_text(lines, "utf-8")
    as_jsonl = tmp_path / "array.jsonl"  # an array under a .jsonl name
    as_jsonl.write_text(json.dumps(rows, ensure_ascii=False, indent=1), "utf-8")
    config = DataConfig(offline=True)
    for path in (as_json, as_jsonl):
        assert [r for _, r in iter_records(path)] == rows
        poison = list(load_suite("poison-mpts", config, file=path).records())
        assert [r.text for r in poison] == [r["prompt"] for r in rows]
        own = list(load_suite(str(path), config).records())
        assert [r.text for r in own] == [r["prompt"] for r in rows]
    # JSON Lines keep their line numbers; array elements the line they start on
    assert [n for n, _ in iter_records(as_json)] == [1, 2, 3]
    assert [n for n, _ in iter_records(as_jsonl)] == [2, 6, 10]


def test_one_pretty_printed_object_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"prompt": "占位", "answer": "占位"}, ensure_ascii=False, indent=2), "utf-8")
    with pytest.raises(DataError) as info:
        list(iter_records(path))
    assert info.value.line == 1 and "one JSON object spread over lines" in str(info.value)


def test_parquet_without_pyarrow_says_how_to_convert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = HERE / "cvalues_comparison" / "train-00000-of-00001.parquet"
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DataError) as info:
        list(load_suite("cvalues-comparison", DataConfig(offline=True), file=path).records())
    message = str(info.value)
    assert path.name in message and "Parquet" in message and "pyarrow" in message and "lines=True" in message


def test_parquet_rows_with_pyarrow(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    path = HERE / "cvalues_comparison" / "train-00000-of-00001.parquet"
    rows = list(iter_records(path))
    assert [n for n, _ in rows] == [1, 2, 3]
    assert [r["pos_type"] for _, r in rows] == ["拒绝为主", "拒绝&正向建议", "拒绝&正向建议"]
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError) as info:
        list(iter_records(broken))
    assert "unreadable Parquet file" in str(info.value) and "broken.parquet" in str(info.value)


@pytest.mark.parametrize("chunk", [7, 8, 1 << 20])
def test_a_crlf_checkout_matches_its_pin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """git on Windows (core.autocrlf) checks pinned text files out with CRLF; they are the pinned file.
    Small chunks put CRLF pairs across chunk boundaries."""
    monkeypatch.setattr(checksums, "_CHUNK", chunk)
    lf = "第一行\nsecond line\n\n第四行 end\n".encode()
    crlf_path = tmp_path / "crlf.jsonl"
    crlf_path.write_bytes(lf.replace(b"\n", b"\r\n"))
    by_sha = SourceFile("x", "o/r", "c" * 40, "f.jsonl", len(lf), hashlib.sha256(lf).hexdigest())
    by_blob = SourceFile("x", "o/r", "c" * 40, "f.jsonl", None, None, git_blob=git_blob(lf))
    assert checksums.lf_digests(crlf_path) == (hashlib.sha256(lf).hexdigest(), git_blob(lf))
    assert checksums.mismatch(by_sha, crlf_path) is None
    assert checksums.mismatch(by_blob, crlf_path) is None
    # a file whose upstream bytes hold CRLF still matches as is
    raw = SourceFile("x", "o/r", "c" * 40, "f.jsonl", None, None, git_blob=git_blob(crlf_path.read_bytes()))
    assert checksums.mismatch(raw, crlf_path) is None
    # a lone CR is not a line end git converts; other changes still mismatch, and the message says both tries
    other = tmp_path / "other.jsonl"
    other.write_bytes(lf.replace(b"\n", b"\r\n").replace("第四行".encode(), "第五行".encode()))
    problem = checksums.mismatch(by_blob, other)
    assert problem is not None and "CRLF line ends read as LF" in problem
    lone_cr = tmp_path / "cr.jsonl"
    lone_cr.write_bytes(lf.replace(b"\n", b"\r"))
    assert checksums.lf_digests(lone_cr) is None and checksums.mismatch(by_sha, lone_cr) is not None


@pytest.mark.parametrize("content", ["", "\n\n", "[]", "\ufeff"])
@pytest.mark.parametrize("suite", ["cvalues-comparison", "poison-mpts"])
def test_a_modelscope_file_without_records_fails_when_loaded(
    tmp_path: Path, suite: str, content: str
) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(content, "utf-8")
    with pytest.raises(DataError) as info:
        load_suite(suite, DataConfig(offline=True), file=path)
    assert "no records" in str(info.value) and str(path) in str(info.value)


def test_an_unpinned_official_copy_says_how_to_use_it(monkeypatch: pytest.MonkeyPatch) -> None:
    path = HERE / "responsibility_mc" / "rmc_bom.jsonl"
    result = CliRunner().invoke(cli, ["data", "show", "responsibility-mc", "--suite-file", str(path)])
    assert result.exit_code != 0
    assert "28849571207225647cb9882d55ea4a4c38509f5d" in result.output and "--suite FILE" in result.output
    # and as the suite itself it is read, unpinned
    result = CliRunner().invoke(cli, ["data", "show", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["count"] == 8
