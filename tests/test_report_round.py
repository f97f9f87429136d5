"""Held-out round: `cvalues report` and `cvalues runs list/show/export` over odd-but-valid and damaged
run folders (the cases and why each expects what it does: tests/report_cases/cases.py and README.md).

Every ``ok`` report is checked against the files themselves: each generation run's answered and failed
counts against its store, each multi-choice figure against its predictions file, each judge's counts and
score against its verdicts, and every run folder under the arguments is in the report or named in a
warning. Every failing command must name the file and leave an earlier report exactly as it was.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cvalues.cli import cli
from report_cases.cases import CASES, LOCKED, Case, build_base

MIRROR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not MIRROR.is_dir(), reason=f"data mirror {MIRROR} not present"),
]
#: cases known to fail, with why (strict: one that passes must be taken off the list)
XFAIL: dict[str, str] = {}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("report-round")
    env = {
        "CVALUES_DATA_MIRROR": str(MIRROR),
        "CVALUES_OFFLINE": "1",
        "CVALUES_CACHE_DIR": str(root / "cache"),
        "CVALUES_RERUN_SHORTCUT": "0",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with ThreadPoolExecutor(1) as pool:  # the commands run event loops of their own
            pool.submit(build_base, root).result()
        earlier = root / "earlier-report"
        result = CliRunner().invoke(
            cli, ["report", str(root / "out"), "--out", str(earlier), "--bootstrap", "0"]
        )
        assert result.exit_code == 0, result.output
        yield root
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def snapshot(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    if folder.is_file():
        return {"": hashlib.sha256(folder.read_bytes()).hexdigest()}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@contextmanager
def live_writer(store: Path) -> Iterator[None]:
    """A writer in the middle of its work: an flock on the store and an uncommitted row."""
    fd = os.open(store, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    db = sqlite3.connect(store, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        row = db.execute("SELECT * FROM answers LIMIT 1").fetchone()
        cols = [d[0] for d in db.execute("SELECT * FROM answers LIMIT 1").description]
        values = dict(zip(cols, row, strict=True))
        values["key"] = "uncommitted-" + values["key"]
        values["item_id"] = "uncommitted"
        db.execute(
            f"INSERT INTO answers ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            list(values.values()),
        )
        yield
    finally:
        db.execute("ROLLBACK")
        db.close()
        os.close(fd)


def run_dirs(roots: list[Path]) -> set[str]:
    """Every folder under the roots (4 deep, links followed) whose manifest.json reads as a run's."""
    found: set[str] = set()
    for root in roots:
        for dirpath, _dirs, files in os.walk(root, followlinks=True):
            depth = len(Path(dirpath).relative_to(root).parts)
            if depth > 6 or "manifest.json" not in files:
                continue
            try:
                manifest = json.loads((Path(dirpath) / "manifest.json").read_text(encoding="utf-8-sig"))
            except (OSError, ValueError):
                continue
            if isinstance(manifest, dict) and "model" in manifest and "sessions" in manifest:
                found.add(os.path.realpath(dirpath))
    return found


def table(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return next((t["rows"] for t in doc["tables"] if t["id"] == name), [])


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def check_report(doc: dict[str, Any], roots: list[Path], output: str) -> None:
    """What every report must get right whatever the folders: no silent wrong figure, no silent omission."""
    said = output + json.dumps(doc.get("warnings", []), ensure_ascii=False)
    reported = {os.path.realpath(r["path"]) for r in doc["runs"]}
    for missing in sorted(run_dirs(roots) - reported):
        assert Path(missing).name in said, f"run {missing} left out of the report without a word"
    for row in table(doc, "generation_runs"):
        with sqlite3.connect(f"file:{Path(row['run']) / 'answers.sqlite'}?mode=ro", uri=True) as db:
            counts = dict(db.execute("SELECT status, count(*) FROM answers GROUP BY status").fetchall())
        total = sum(counts.values())
        assert (row["answered"]["value"], row["answered"]["n"]) == (counts.get("ok", 0), total), row["run"]
        assert row["failed"] == counts.get("error", 0), row["run"]
    for row in table(doc, "mc_runs"):
        run = Path(row["run"])
        preds = jsonl(run / f"mc-{row['mode']}-predictions.jsonl")
        assert row["acc"]["n"] == len(preds), row["run"]
        assert row["acc"]["value"] == pytest.approx(sum(p["pred"] == p["label"] for p in preds) / len(preds))
        errors = run / f"mc-{row['mode']}-errors.jsonl"
        assert row["failed"] == (len(jsonl(errors)) if errors.exists() else 0), row["run"]
    for row in table(doc, "judges"):
        verdicts = jsonl(Path(row["run"]) / "verdicts.jsonl")
        judged = [v for v in verdicts if not v.get("unjudged") and v.get("label") is not None]
        assert row["judged"] == row["score"]["n"], row["run"]
        assert row["judged"] + row["unjudged"] + row.get("withheld", 0) >= len(judged)
        scored = [v for v in judged if v.get("adversarial", True)]
        if scored and row["level"] == "safety":
            assert row["score"]["value"] == pytest.approx(
                sum(v["label"] == "safe" for v in scored) / len(scored)
            ), row["run"]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, base: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if case.id in XFAIL:
        request.applymarker(pytest.mark.xfail(strict=True, reason=XFAIL[case.id]))
    d = tmp_path / "case"
    d.mkdir()
    argv = case.build(base, d)
    out = d / "report"
    if case.command == "report" and case.expect != "ok" and not out.exists():
        shutil.copytree(base / "earlier-report", out)  # an earlier report that a failure must not touch
    argv = [a.replace("{out}", str(out)) for a in argv]
    earlier = snapshot(out)
    if case.id in LOCKED:
        with live_writer(d / "out" / LOCKED[case.id]):
            result = CliRunner().invoke(cli, argv)
    else:
        result = CliRunner().invoke(cli, argv)
    output = result.output
    names = [n.replace("{dir}", str(d)) for n in case.names]
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback: {result.exc_info!r}\n{output}"
    )
    assert "Traceback" not in output, output
    doc: dict[str, Any] = {}
    failed = result.exit_code != 0
    if case.expect == "ok":
        assert not failed, output
    elif case.expect == "error":
        assert failed, f"expected an error naming {names}, got exit 0:\n{output}"
    if failed:
        for name in names:
            assert name in output, f"the message does not name {name!r}:\n{output}"
        if case.command == "report":
            assert snapshot(out) == earlier, "the earlier report was changed by a failed one"
    elif case.command == "report":
        doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
        said = output + json.dumps(doc.get("warnings", []), ensure_ascii=False)
        for name in names:
            assert name in said, f"report made with no visible note naming {name!r}:\n{output}"
        roots = [Path(a) for a in argv[1:] if not a.startswith("-") and Path(a).is_dir() and a != str(out)]
        check_report(doc, roots, output)
    if case.check:
        case.check(doc, d, output)


def test_a_disk_full_half_way_leaves_the_earlier_report(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills up while the new report's files are written (the 5th fsync fails with ENOSPC):
    the earlier report is left whole, no temporary file is left, and the message names the file."""
    import errno

    import cvalues.atomic

    out = tmp_path / "report"
    shutil.copytree(base / "earlier-report", out)
    earlier = snapshot(out)
    calls = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(cvalues.atomic.os, "fsync", fsync)
    result = CliRunner().invoke(cli, ["report", str(base / "out"), "--out", str(out), "--bootstrap", "0"])
    assert result.exit_code == 1, result.output
    assert "No space left on device" in result.output and str(out) in result.output
    assert snapshot(out) == earlier
    assert not [p for p in out.rglob("*.tmp")]


def test_an_earlier_report_json_cannot_make_the_report_remove_other_files(base: Path, tmp_path: Path) -> None:
    """The earlier report's files are removed by the ids its report.json gives: an id that climbs out of
    the report's folders (a foreign or edited report.json) names nothing to remove."""
    out = tmp_path / "report"
    shutil.copytree(base / "earlier-report", out)
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    doc["evidence"]["../../victim"] = doc["evidence"][next(iter(doc["evidence"]))]
    (out / "report.json").write_text(json.dumps(doc), encoding="utf-8")
    (tmp_path / "victim.csv").write_text("mine", encoding="utf-8")
    (out / "answers" / "notes.csv").write_text("mine too", encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", str(base / "out"), "--out", str(out), "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "victim.csv").read_text(encoding="utf-8") == "mine"
    assert (out / "answers" / "notes.csv").read_text(encoding="utf-8") == "mine too"  # not the report's
