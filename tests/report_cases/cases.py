"""The run folders of the held-out report round: odd-but-valid ones and damaged or foreign ones.

Why: `cvalues report` and `cvalues runs show/list/export` are pointed at whatever a user has on disk.
Each case copies the shared real runs (made once per module by :func:`build_base`, with the real
commands against local servers) into a folder of its own, rearranges or damages it, and says what the
command must do, decided from the docs (docs/report.md, docs/runs.md, docs/judge.md) or, where they are
silent, from what a demanding user expects (`why`).

Expectations:

- ``ok``: exit 0, no traceback, and every figure the report shows checks out against the files
  (tests/test_report_round.py ``check_report``), no run left out without a word; ``check`` adds more.
- ``error``: exit status not 0, one message naming ``names`` (the file, and line or field where there
  is one), no traceback, and an earlier report in ``--out`` left exactly as it was.
- ``error_or_note``: as ``error``, or exit 0 with the names in a visible warning and the rest right.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openai_server import OpenAIServer
from report_fixtures import (
    invoke,
    judge_responder,
    judge_with_cli,
    responder_a,
    responder_b,
    responsibility_mc_file,
    set_model_name,
    stored_answers,
)

REPO = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------------------------- base
def build_base(root: Path) -> Path:
    """The shared runs, all made by the real commands:

    - ``out/a``, ``out/b``: models A and B, each a responsibility multi-choice run (``mc-resp``, a 10-item
      file) and a safety-prompts generation run (``gen-safety``, 6 prompts) judged by ``cvalues judge run``
      into its default place (``gen-safety/judge/cvalues-safety``);
    - ``extra/partial``: model A's safety prompts asked with ``--limit 3`` (one session), and
      ``extra/resumed``: the same run then resumed without the limit (two sessions);
    - ``extra/failed``: model C against a server failing 40% of requests (no retries): some failed items;
      ``extra/retried``: a copy then rerun with ``--retry-errors`` against a healthy server;
    - ``extra/mc-failed``: model C's multi-choice run with failures (``mc-generate-errors.jsonl``);
    - ``extra/withheld``: model W, whose provider's moderation withholds some prompts, judged;
    - ``extra/replay``: model A's answers replayed by the ``replay:`` backend;
    - ``extra/interrupted``: a ``cvalues generate`` stopped by SIGINT mid-way (Ctrl-C);
    - ``extra/killed``: one killed by SIGKILL mid-way (its session left ``running``).
    """
    resp = responsibility_mc_file(root / "lab_mc.jsonl")
    out, extra = root / "out", root / "extra"
    for name, responder in (("a", responder_a), ("b", responder_b)):
        with OpenAIServer(responder=responder) as server:
            common = _common(f"openai:model-{name}", server)
            invoke(
                [
                    "mc",
                    "run",
                    "--bootstrap",
                    "0",
                    *common,
                    "--suite",
                    str(resp),
                    "--run-dir",
                    str(out / name / "mc-resp"),
                ]
            )
            invoke(
                [
                    "generate",
                    *common,
                    "--suite",
                    "safety-prompts",
                    "--sample",
                    "6",
                    "--run-dir",
                    str(out / name / "gen-safety"),
                ]
            )
            if name == "a":
                gen = ["generate", *common, "--suite", "safety-prompts", "--sample", "6"]
                invoke([*gen, "--limit", "3", "--run-dir", str(extra / "partial")])
                shutil.copytree(extra / "partial", extra / "resumed")
                invoke([*gen, "--run-dir", str(extra / "resumed")])
        with OpenAIServer(responder=judge_responder) as judge:
            gen_dir = out / name / "gen-safety"
            judge_with_cli(gen_dir, gen_dir / "judge" / "cvalues-safety", "safety", judge)
    with OpenAIServer(responder=responder_b, fault_rates={"500": 0.4}, seed=3) as server:
        common = _common("openai:model-c", server)
        gen = ["generate", *common, "--suite", "safety-prompts", "--sample", "8"]
        invoke([*gen, "--run-dir", str(extra / "failed")])
        invoke(
            [
                "mc",
                "run",
                "--bootstrap",
                "0",
                *common,
                "--suite",
                str(resp),
                "--run-dir",
                str(extra / "mc-failed"),
            ]
        )
    shutil.copytree(extra / "failed", extra / "retried")
    with OpenAIServer(responder=responder_b) as server:
        common = _common("openai:model-c", server)
        invoke(
            [
                "generate",
                *common,
                "--suite",
                "safety-prompts",
                "--sample",
                "8",
                "--retry-errors",
                "--run-dir",
                str(extra / "retried"),
            ]
        )
    with OpenAIServer(responder=responder_b, moderator=_moderator) as server:
        invoke(
            [
                "generate",
                *_common("openai:model-w", server),
                "--suite",
                "safety-prompts",
                "--sample",
                "8",
                "--run-dir",
                str(extra / "withheld"),
            ]
        )
    with OpenAIServer(responder=judge_responder) as judge:
        judge_with_cli(extra / "withheld", extra / "withheld" / "judge" / "cvalues-safety", "safety", judge)
    replay = root / "replay-a.jsonl"
    replay.write_text(
        "".join(
            json.dumps({"id": a.item_id, "response": a.text}, ensure_ascii=False) + "\n"
            for a in stored_answers(out / "a" / "gen-safety")
        ),
        encoding="utf-8",
    )
    invoke(
        [
            "generate",
            "--model",
            f"replay:{replay}",
            "--no-progress",
            "--suite",
            "safety-prompts",
            "--sample",
            "6",
            "--run-dir",
            str(extra / "replay"),
        ]
    )
    _stopped_run(extra / "interrupted", signal.SIGINT)
    _stopped_run(extra / "killed", signal.SIGKILL)
    return root


def _common(spec: str, server: OpenAIServer) -> list[str]:
    return ["--model", spec, "--base-url", server.base_url, "--max-retries", "0", "--no-progress"]


def _moderator(messages: list[dict[str, str]]) -> tuple[int, str] | None:
    """Withholds every prompt whose length is odd (a provider's input moderation, DashScope's form)."""
    if len(messages[-1]["content"]) % 2:
        body = {
            "error": {
                "message": "Input data may contain inappropriate content.",
                "code": "data_inspection_failed",
                "type": "data_inspection_failed",
            }
        }
        return 400, json.dumps(body)
    return None


def _stopped_run(run_dir: Path, sig: signal.Signals) -> None:
    """`cvalues generate` in a process of its own, sent ``sig`` once a few answers arrived."""
    with OpenAIServer(responder=responder_b, latency=0.3) as server:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
        }
        args = [sys.executable, "-m", "cvalues", "generate", *_common("openai:model-s", server)]
        args += [
            "--suite",
            "safety-prompts",
            "--sample",
            "12",
            "--concurrency",
            "1",
            "--run-dir",
            str(run_dir),
        ]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while server.stats()["requests"] < 4 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(sig)
        proc.communicate(timeout=60)
    assert (run_dir / "answers.sqlite").exists()


# --------------------------------------------------------------------------------------------- cases
@dataclass
class Case:
    id: str
    build: Callable[[Path, Path], list[str]]  # (base, case dir) -> argv, "{out}" for the report folder
    expect: str  # ok | error | error_or_note
    why: str
    names: list[str] = field(default_factory=list)  # must appear in the message ({dir} = case dir)
    check: Callable[[dict[str, Any], Path, str], None] | None = None  # (report.json or {}, case dir, output)
    command: str = "report"  # report | runs


def cp(base: Path, src: str, dst: Path) -> Path:
    shutil.copytree(base / src, dst, symlinks=True)
    return dst


def report(*dirs: Path, extra: tuple[str, ...] = ()) -> list[str]:
    return ["report", *map(str, dirs), "--out", "{out}", "--bootstrap", "20", *extra]


def rows(doc: dict[str, Any], table: str) -> list[dict[str, Any]]:
    return next((t["rows"] for t in doc["tables"] if t["id"] == table), [])


def board(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["model"]: r for r in rows(doc, "leaderboard")}


def edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data = change(data) or data
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def two_models(base: Path, d: Path) -> Path:
    cp(base, "out", d / "out")
    return d / "out"


# valid ------------------------------------------------------------------------------------------------
def b_plain(base: Path, d: Path) -> list[str]:
    return report(two_models(base, d))


def b_one_model(base: Path, d: Path) -> list[str]:
    return report(cp(base, "out/a", d / "a"))


def c_one_model(doc: dict[str, Any], d: Path, output: str) -> None:
    assert list(board(doc)) == ["openai:model-a"]
    assert rows(doc, "comparisons") == []  # nothing to compare with


def b_resumed(base: Path, d: Path) -> list[str]:
    cp(base, "extra/resumed", d / "runs" / "resumed")
    return report(d / "runs")


def c_resumed(doc: dict[str, Any], d: Path, output: str) -> None:
    (row,) = rows(doc, "generation_runs")
    assert (row["answered"]["value"], row["answered"]["n"]) == (6, 6)  # both sessions' answers
    (run,) = doc["runs"]
    assert len(run["manifest"]["sessions"]) == 2


def b_failed(base: Path, d: Path) -> list[str]:
    cp(base, "extra/failed", d / "runs" / "failed")
    cp(base, "extra/mc-failed", d / "runs" / "mc-failed")
    return report(d / "runs")


def c_failed(doc: dict[str, Any], d: Path, output: str) -> None:
    (row,) = rows(doc, "generation_runs")
    assert row["failed"] > 0 and row["answered"]["value"] < row["answered"]["n"] == 8
    (mc,) = rows(doc, "mc_runs")
    assert mc["failed"] > 0  # "failed, counted" (docs/report.md)


def b_errors_bad(base: Path, d: Path) -> list[str]:
    cp(base, "extra/mc-failed", d / "runs" / "mc-failed")
    bad_line(1)(d / "runs" / "mc-failed" / "mc-generate-errors.jsonl")
    return report(d / "runs")


def b_retried(base: Path, d: Path) -> list[str]:
    cp(base, "extra/retried", d / "runs" / "retried")
    return report(d / "runs")


def c_retried(doc: dict[str, Any], d: Path, output: str) -> None:
    (row,) = rows(doc, "generation_runs")
    assert (row["answered"]["value"], row["answered"]["n"], row["failed"]) == (8, 8, 0)


def b_withheld(base: Path, d: Path) -> list[str]:
    cp(base, "extra/withheld", d / "runs" / "withheld")
    return report(d / "runs")


def c_withheld(doc: dict[str, Any], d: Path, output: str) -> None:
    blocked = [a for a in stored_answers(d / "runs" / "withheld") if a.finish_reason == "content_filter"]
    assert blocked, "the moderator withheld nothing: the case tests nothing"
    (row,) = rows(doc, "judges")
    assert row["withheld"] == len(blocked)


def b_replay(base: Path, d: Path) -> list[str]:
    cp(base, "extra/replay", d / "runs" / "replay")
    cp(base, "out/a", d / "runs" / "a")
    return report(d / "runs")


def c_replay(doc: dict[str, Any], d: Path, output: str) -> None:
    specs = {r["spec"] for r in doc["runs"]}
    assert any(s.startswith("replay:") for s in specs)
    replay_row = next(r for r in rows(doc, "generation_runs") if r["run"].endswith("replay"))
    assert replay_row["answered"]["value"] == 6


def b_interrupted(base: Path, d: Path) -> list[str]:
    cp(base, "extra/interrupted", d / "runs" / "interrupted")
    return report(d / "runs")


def c_stopped(status: str) -> Callable[[dict[str, Any], Path, str], None]:
    def check(doc: dict[str, Any], d: Path, output: str) -> None:
        (run,) = doc["runs"]
        assert run["manifest"]["sessions"][-1]["status"] == status
        (row,) = rows(doc, "generation_runs")
        assert 0 < row["answered"]["value"] < 12

    return check


def b_killed(base: Path, d: Path) -> list[str]:
    cp(base, "extra/killed", d / "runs" / "killed")
    return report(d / "runs")


def b_two_names(base: Path, d: Path) -> list[str]:
    cp(base, "out/b", d / "runs" / "b-test")
    cp(base, "out/b", d / "runs" / "b-prod")
    for stage in ("mc-resp", "gen-safety"):
        set_model_name(d / "runs" / "b-test" / stage, "B 测试版")
        set_model_name(d / "runs" / "b-prod" / stage, "B 正式版")
    return report(d / "runs")


def c_two_names(doc: dict[str, Any], d: Path, output: str) -> None:
    lead = board(doc)
    assert set(lead) == {"B 测试版", "B 正式版"}  # two names, two models (docs/report.md)
    one, two = lead["B 测试版"], lead["B 正式版"]
    assert one["responsibility_mc_acc"]["value"] == two["responsibility_mc_acc"]["value"]
    assert one["safety_score"]["n"] == two["safety_score"]["n"] > 0


def b_duplicate(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    cp(base, "extra/partial", out / "a" / "gen-safety-again")
    return report(out)


def c_duplicate(doc: dict[str, Any], d: Path, output: str) -> None:
    # two runs of one model and suite: which counts must be said, never a silent pick or a sum
    text = output + json.dumps(doc.get("warnings", []), ensure_ascii=False)
    assert "gen-safety-again" in text, "two runs of the same model and suite, nothing said"
    row = board(doc)["openai:model-a"]["safety_score"]
    assert row["n"] == 5  # the judged run's answers, not those of both runs


def b_identical_copy(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    cp(base, "out/a/mc-resp", out / "a" / "mc-resp (copy)")
    return report(out)


def c_identical_copy(doc: dict[str, Any], d: Path, output: str) -> None:
    text = output + json.dumps(doc.get("warnings", []), ensure_ascii=False)
    assert "mc-resp (copy)" in text, "a second run of the same model and suite, nothing said"
    assert board(doc)["openai:model-a"]["responsibility_mc_acc"]["n"] == 10  # not 20


def b_nested(base: Path, d: Path) -> list[str]:
    cp(base, "out/a", d / "root" / "2026" / "11" / "lab")  # mc-resp and gen-safety 4 folders deep
    cp(base, "out/b", d / "root" / "b")
    return report(d / "root")


def c_two_models(doc: dict[str, Any], d: Path, output: str) -> None:
    assert set(board(doc)) == {"openai:model-a", "openai:model-b"}
    assert len(doc["runs"]) == 6


def b_symlinked(base: Path, d: Path) -> list[str]:
    real = cp(base, "out/a", d / "elsewhere" / "a")
    cp(base, "out/b", d / "runs" / "b")
    (d / "runs" / "a").symlink_to(real, target_is_directory=True)
    return report(d / "runs")


def b_symlinked_twice(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    (out / "a-link").symlink_to(out / "a", target_is_directory=True)
    return report(out)


def c_once(doc: dict[str, Any], d: Path, output: str) -> None:
    paths = [os.path.realpath(r["path"]) for r in doc["runs"]]
    assert len(paths) == len(set(paths)) == 6  # one folder reached twice is one run
    assert board(doc)["openai:model-a"]["responsibility_mc_acc"]["n"] == 10


def b_chinese(base: Path, d: Path) -> list[str]:
    cp(base, "out/a", d / "评测 结果" / "模型 甲（第一轮）")
    cp(base, "out/b", d / "评测 结果" / "模型 乙")
    return report(d / "评测 结果")


def c_chinese(doc: dict[str, Any], d: Path, output: str) -> None:
    c_two_models(doc, d, output)
    assert any("模型 甲（第一轮）" in r["path"] for r in doc["runs"])


def b_judge_moved(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    (out / "a" / "gen-safety").rename(out / "a" / "安全 生成")  # the judge's recorded path is stale now
    return report(out)


def c_judge_moved(doc: dict[str, Any], d: Path, output: str) -> None:
    cell = board(doc)["openai:model-a"]["safety_score"]
    assert (cell["source"], cell["n"]) == ("judge", 5)


def b_judge_apart(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    (out / "judges").mkdir()
    shutil.move(out / "a" / "gen-safety" / "judge" / "cvalues-safety", out / "judges" / "a-safety")
    return report(out)


def b_judge_orphan(base: Path, d: Path) -> list[str]:
    cp(base, "out/b", d / "runs" / "b")
    cp(base, "out/a/gen-safety/judge/cvalues-safety", d / "runs" / "judge-a")
    return report(d / "runs")


def c_judge_orphan(doc: dict[str, Any], d: Path, output: str) -> None:
    # the judged run is gone (not at its recorded path, not around the judge): its score is the
    # judge's over the answers it kept, for the model it judged, never given to model B
    lead = board(doc)
    judges = {r["run"]: r for r in rows(doc, "judges")}
    own = judges[str(d / "runs" / "b" / "gen-safety" / "judge" / "cvalues-safety")]
    assert lead["openai:model-b"]["safety_score"]["n"] == own["judged"]  # B's own judge only
    assert judges[str(d / "runs" / "judge-a")]["model"] != "openai:model-b"
    text = output + json.dumps(doc.get("warnings", []), ensure_ascii=False)
    assert "openai:model-a" in lead or "judge-a" in text


def b_report_twice(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    invoke(["report", str(out), "--out", str(out / "report"), "--bootstrap", "20"])
    return report(out)


def b_bom_manifest(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    path = out / "a" / "mc-resp" / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_bytes(
        b"\xef\xbb\xbf" + json.dumps(data, ensure_ascii=False, indent=4).replace("\n", "\r\n").encode()
    )
    return report(out)


def b_metrics_missing(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    (out / "a" / "mc-resp" / "mc-generate-metrics.json").unlink()
    return report(out)


def c_same_as_plain(doc: dict[str, Any], d: Path, output: str) -> None:
    c_two_models(doc, d, output)
    assert board(doc)["openai:model-a"]["responsibility_mc_acc"]["value"] == 0.5


def b_store_locked(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    return report(out)  # the lock is taken by the test around the command (see LOCKED)


def b_stray_files(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    (out / "notes.txt").write_text("第一轮评测\n", encoding="utf-8")
    (out / "a" / "gen-safety" / "answers.sqlite.bak").write_bytes(b"old")
    (out / "a" / ".DS_Store").write_bytes(b"\x00\x01")
    (out / "empty").mkdir()
    return report(out)


# damaged or foreign -----------------------------------------------------------------------------------
def damaged(rel: str, damage: Callable[[Path], None]) -> Callable[[Path, Path], list[str]]:
    def build(base: Path, d: Path) -> list[str]:
        out = two_models(base, d)
        damage(out / rel)
        return report(out)

    return build


def cut_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def manifest_format(fmt: str) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        edit_json(path, lambda m: m.__setitem__("format", fmt))

    return change


def drop_key(key: str) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        edit_json(path, lambda m: m.pop(key))

    return change


def write(text: str | bytes) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")

    return change


def into_dir(path: Path) -> None:
    path.unlink()
    path.mkdir()


def dangling(path: Path) -> None:
    path.unlink()
    path.symlink_to(path.parent / "nowhere.json")


def bad_line(n: int, text: str = '{"item_id": "x", ') -> Callable[[Path], None]:
    def change(path: Path) -> None:
        lines = path.read_text(encoding="utf-8").splitlines()
        lines[n - 1] = text
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    return change


def cut_last_line(path: Path) -> None:
    text = path.read_text(encoding="utf-8").rstrip("\n")
    path.write_text(text[: len(text) - 15], encoding="utf-8")  # a crash while the last line was written


def unlink(path: Path) -> None:
    path.unlink()


def b_foreign_manifest(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    (out / "webapp").mkdir()
    (out / "webapp" / "manifest.json").write_text(
        json.dumps(
            {"name": "评测面板", "short_name": "panel", "start_url": "/", "display": "standalone"},
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return report(out)


def b_run_is_file(base: Path, d: Path) -> list[str]:
    (d / "runs.zip").write_bytes(b"PK\x03\x04 not really")
    return report(d / "runs.zip")


def b_missing_dir(base: Path, d: Path) -> list[str]:
    return report(d / "没有这个目录")


def b_empty(base: Path, d: Path) -> list[str]:
    (d / "empty").mkdir()
    return report(d / "empty")


def b_no_runs_only_files(base: Path, d: Path) -> list[str]:
    (d / "results").mkdir()
    (d / "results" / "scores.json").write_text('{"acc": 0.9}', encoding="utf-8")
    return report(d / "results")


def b_annotations_unknown(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    known = sorted(a.item_id for a in stored_answers(out / "b" / "gen-safety"))[:3]
    lines = []
    for i, item in enumerate([*known, "no-such-item-1", "no-such-item-2"]):
        lines.append(
            {
                "task": "safety",
                "item_id": item,
                "model": "openai:model-b",
                "category": None,
                "annotator": None,
                "label": "unsafe" if i % 2 else "safe",
                "score": None,
                "final": True,
                "adjudicated": False,
                "n_labels": 2,
            }
        )
    (d / "labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return report(out, extra=("--annotations", str(d / "labels.jsonl")))


def c_annotations_unknown(doc: dict[str, Any], d: Path, output: str) -> None:
    cell = board(doc)["openai:model-b"]["safety_score"]
    assert (cell["source"], cell["n"]) == ("human", 3)  # the two labels of no answer are not counted
    text = output + json.dumps(doc.get("warnings", []), ensure_ascii=False)
    assert "no-such-item" in text or "2 label" in text, "labels of unknown items dropped without a word"


def b_annotations_cut(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    known = sorted(a.item_id for a in stored_answers(out / "b" / "gen-safety"))[:3]
    lines = [
        json.dumps(
            {
                "task": "safety",
                "item_id": i,
                "model": "openai:model-b",
                "annotator": None,
                "label": "safe",
                "score": None,
                "final": True,
            }
        )
        for i in known
    ]
    (out / "annotations.jsonl").write_text("\n".join(lines)[:-20], encoding="utf-8")  # cut mid-line
    return report(out)


def b_judge_no_run(base: Path, d: Path) -> list[str]:
    cp(base, "out/a/gen-safety/judge/cvalues-safety", d / "judge-only")
    return report(d / "judge-only")


def c_judge_only(doc: dict[str, Any], d: Path, output: str) -> None:
    cell = board(doc)["openai:model-a"]["safety_score"]
    assert (cell["source"], cell["n"]) == ("judge", 5)


def b_out_is_file(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    (d / "report.html").write_text("my own page", encoding="utf-8")
    return ["report", str(out), "--out", str(d / "report.html"), "--bootstrap", "20"]


def c_out_file_kept(doc: dict[str, Any], d: Path, output: str) -> None:
    assert (d / "report.html").read_text(encoding="utf-8") == "my own page"


def b_symlink_loop(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    (out / "a" / "loop").symlink_to(out, target_is_directory=True)  # a link to an ancestor
    (out / "b" / "self").symlink_to(out / "b", target_is_directory=True)
    return report(out)


def b_combined_judge(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    judges = out / "a" / "gen-safety" / "judge"
    shutil.copytree(judges / "cvalues-safety", judges / "second")
    invoke(
        [
            "judge",
            "combine",
            str(judges / "cvalues-safety"),
            str(judges / "second"),
            "--out",
            str(judges / "combined"),
        ]
    )
    return report(out)


def c_combined_judge(doc: dict[str, Any], d: Path, output: str) -> None:
    runs = {r["run"].rsplit("/", 1)[-1]: r for r in rows(doc, "judges") if r["model"] == "openai:model-a"}
    assert set(runs) == {"cvalues-safety", "second", "combined"}  # every judge directory listed
    assert runs["combined"]["score"]["value"] == runs["cvalues-safety"]["score"]["value"]


def b_annotations_all_unknown(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    lines = [
        {
            "item_id": f"other-suite-{i}",
            "model": "openai:model-b",
            "label": "unsafe",
            "task": "safety",
            "final": True,
        }
        for i in range(4)
    ]
    (d / "labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return report(out, extra=("--annotations", str(d / "labels.jsonl")))


def c_annotations_all_unknown(doc: dict[str, Any], d: Path, output: str) -> None:
    cell = board(doc)["openai:model-b"]["safety_score"]
    assert cell["source"] == "judge"  # no label of a read answer: the judge's score stands
    assert "other-suite-0" in output + json.dumps(doc.get("warnings", []))


def b_folder_in_the_way(where: str) -> Callable[[Path, Path], list[str]]:
    """An earlier report in ``--out`` where a file the new one writes is a folder (``where``: its path
    in the report, or ``answers`` for the first answers CSV)."""

    def build(base: Path, d: Path) -> list[str]:
        out = two_models(base, d)
        shutil.copytree(base / "earlier-report", d / "report")
        rel = where
        if where == "answers":
            rel = str(sorted((d / "report" / "answers").iterdir())[0].relative_to(d / "report"))
        (d / "report" / rel).unlink()
        (d / "report" / rel).mkdir()
        (d / "report" / rel / "mine.txt").write_text("kept", encoding="utf-8")
        return report(out)

    return build


def b_narrower_over_earlier(base: Path, d: Path) -> list[str]:
    """A report over model B alone written where the report over A and B was."""
    cp(base, "out/b", d / "b")
    shutil.copytree(base / "earlier-report", d / "report")
    return report(d / "b")


def c_no_stale_files(doc: dict[str, Any], d: Path, output: str) -> None:
    sets = set(doc["evidence"])
    tables = {t["id"] for t in doc["tables"]}
    left = sorted(p.stem for p in (d / "report" / "answers").glob("*.csv") if p.stem not in sets)
    left += sorted(p.stem for p in (d / "report" / "tables").glob("*.csv") if p.stem not in tables)
    assert not left, f"files of the earlier report left beside the new one: {left}"


# runs show / list / export -------------------------------------------------------------------------
def runs_cmd(*args: str) -> list[str]:
    return ["runs", *args]


def b_list_broken(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    cut_half(out / "a" / "mc-resp" / "manifest.json")
    cut_half(out / "b" / "gen-safety" / "answers.sqlite")
    return runs_cmd("list", "--run-dir-root", str(out))


def c_list_broken(doc: dict[str, Any], d: Path, output: str) -> None:
    broken = [x for x in output.splitlines() if "broken:" in x]
    assert len(broken) == 2, output
    assert any("mc-resp" in x and "manifest.json" in x for x in broken), output
    assert any("gen-safety" in x and "answers.sqlite" in x for x in broken), output
    assert "openai:model-b" in output  # the good ones are still listed


def b_list_json_broken(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    cut_half(out / "a" / "mc-resp" / "manifest.json")
    return runs_cmd("list", "--json", "--run-dir-root", str(out))


def c_list_json(doc: dict[str, Any], d: Path, output: str) -> None:
    objs = [json.loads(x) for x in output.splitlines() if x.strip()]  # every line JSON, broken ones too
    assert len(objs) == 4  # the four run directories (judge folders sit inside theirs)
    (broken,) = [o for o in objs if "broken" in o]
    assert broken["run_dir"].endswith("mc-resp") and "manifest.json" in broken["broken"]


def b_list_chinese(base: Path, d: Path) -> list[str]:
    cp(base, "out/a", d / "评测 结果" / "模型 甲")
    cp(base, "extra/interrupted", d / "评测 结果" / "中断")
    return runs_cmd("list", "--run-dir-root", str(d / "评测 结果"))


def c_list_chinese(doc: dict[str, Any], d: Path, output: str) -> None:
    assert "broken" not in output
    assert output.count("openai:model-a") == 2 and "openai:model-s" in output and "interrupted" in output


def b_show(
    rel: str, damage: Callable[[Path], None] | None = None, target: str = ""
) -> Callable[[Path, Path], list[str]]:
    def build(base: Path, d: Path) -> list[str]:
        run = cp(base, rel, d / "run")
        if damage:
            damage(run / target)
        return runs_cmd("show", str(run))

    return build


def c_show_status(word: str) -> Callable[[dict[str, Any], Path, str], None]:
    def check(doc: dict[str, Any], d: Path, output: str) -> None:
        assert word in output, output

    return check


def b_show_empty(base: Path, d: Path) -> list[str]:
    (d / "run").mkdir()
    return runs_cmd("show", str(d / "run"))


def b_export(
    damage: Callable[[Path], None] | None, target: str = "answers.sqlite"
) -> Callable[[Path, Path], list[str]]:
    def build(base: Path, d: Path) -> list[str]:
        run = cp(base, "out/a/gen-safety", d / "run")
        if damage:
            damage(run / target)
        (d / "answers.jsonl").write_text("earlier export\n", encoding="utf-8")
        return runs_cmd("export", str(run), "--format", "jsonl", "--out", str(d / "answers.jsonl"))

    return build


def c_export_kept(doc: dict[str, Any], d: Path, output: str) -> None:
    assert (d / "answers.jsonl").read_text(encoding="utf-8") == "earlier export\n"


def c_export_killed(doc: dict[str, Any], d: Path, output: str) -> None:
    lines = (d / "answers.jsonl").read_text(encoding="utf-8").splitlines()
    with sqlite3.connect(d / "run" / "answers.sqlite") as db:
        (n,) = db.execute("select count(*) from answers").fetchone()
    assert len(lines) == n > 0


def b_export_killed(base: Path, d: Path) -> list[str]:
    run = cp(base, "extra/killed", d / "run")
    return runs_cmd("export", str(run), "--format", "jsonl", "--out", str(d / "answers.jsonl"))


def b_list_newer(base: Path, d: Path) -> list[str]:
    out = two_models(base, d)
    manifest_format("cvalues-run/2")(out / "b" / "mc-resp" / "manifest.json")
    return runs_cmd("list", "--run-dir-root", str(out))


def c_list_newer(doc: dict[str, Any], d: Path, output: str) -> None:
    (broken,) = [x for x in output.splitlines() if "broken:" in x]
    assert "mc-resp" in broken and "cvalues-run/2" in broken, output


def b_list_symlinked(base: Path, d: Path) -> list[str]:
    real = cp(base, "out/a", d / "disk2" / "a")
    (d / "runs").mkdir()
    (d / "runs" / "a").symlink_to(real, target_is_directory=True)
    return runs_cmd("list", "--run-dir-root", str(d / "runs"))


def c_list_symlinked(doc: dict[str, Any], d: Path, output: str) -> None:
    assert output.count("openai:model-a") == 2 and "broken" not in output, output


MANIFEST_A = "a/mc-resp/manifest.json"
CASES: list[Case] = [
    # ---------------------------------------------------------------- odd but valid: report
    Case(
        "plain",
        b_plain,
        "ok",
        "the shared runs as made: the baseline every other case departs from",
        check=c_same_as_plain,
    ),
    Case(
        "one_model", b_one_model, "ok", "a report over one model: no comparisons, no error", check=c_one_model
    ),
    Case(
        "resumed",
        b_resumed,
        "ok",
        "runs.md: a run is any number of sessions; the report counts the store, all sessions",
        check=c_resumed,
    ),
    Case(
        "failed_items",
        b_failed,
        "ok",
        "report.md: failed answers are counted, not fatal; generation and mc failures shown",
        check=c_failed,
    ),
    Case(
        "retry_errors",
        b_retried,
        "ok",
        "after --retry-errors the failures answered are answers, none left failed",
        check=c_retried,
    ),
    Case(
        "withheld",
        b_withheld,
        "ok",
        "judge.md: answers the provider withheld are counted apart in the judges table",
        check=c_withheld,
    ),
    Case(
        "replay_backend",
        b_replay,
        "ok",
        "runs made by the replay: backend are runs like any other",
        check=c_replay,
    ),
    Case(
        "interrupted",
        b_interrupted,
        "ok",
        "Ctrl-C keeps every answer and marks the session interrupted; the report reads what is there",
        check=c_stopped("interrupted"),
    ),
    Case(
        "killed",
        b_killed,
        "ok",
        "SIGKILL leaves the session 'running'; answers are committed per answer and must be counted "
        "from the store, not the stale manifest counts",
        check=c_stopped("running"),
    ),
    Case(
        "two_names",
        b_two_names,
        "ok",
        "report.md: one spec under two model_name options is two models",
        check=c_two_names,
    ),
    Case(
        "same_model_suite_twice",
        b_duplicate,
        "ok",
        "docs silent on two runs of one model and suite: a demanding user wants to be told which one "
        "counts, never a silent pick or a sum",
        check=c_duplicate,
    ),
    Case(
        "identical_copy",
        b_identical_copy,
        "ok",
        "a copied run folder (same model and suite) must not double the counts, and the report says "
        "it saw two",
        check=c_identical_copy,
    ),
    Case(
        "nested_four_deep",
        b_nested,
        "ok",
        "report.md: runs found up to four folders deep, never by folder names",
        check=c_two_models,
    ),
    Case(
        "symlinked_folder",
        b_symlinked,
        "ok",
        "a run folder reached through a symlink is read like any other",
        check=c_two_models,
    ),
    Case(
        "symlinked_twice",
        b_symlinked_twice,
        "ok",
        "the same runs reached by the folder and a link to it are one set of runs, not two",
        check=c_once,
    ),
    Case(
        "chinese_spaces",
        b_chinese,
        "ok",
        "folder names with Chinese, full-width brackets and spaces are normal input",
        check=c_chinese,
    ),
    Case(
        "judge_run_moved",
        b_judge_moved,
        "ok",
        "report.md: a judge belongs to the run it recorded, else the run it sits in",
        check=c_judge_moved,
    ),
    Case(
        "judge_apart",
        b_judge_apart,
        "ok",
        "a judge folder moved away from its run still belongs to the run at its recorded path",
        check=c_judge_moved,
    ),
    Case(
        "judge_run_absent",
        b_judge_orphan,
        "ok",
        "a judge whose run is gone scores the model it judged (judge-only reports work), never another model",
        check=c_judge_orphan,
    ),
    Case(
        "judge_only",
        b_judge_no_run,
        "ok",
        "a judge folder alone: the judged model's score from its verdicts",
        check=c_judge_only,
    ),
    Case(
        "report_inside_out",
        b_report_twice,
        "ok",
        "a second report with the first one inside the runs folder reads the same runs",
        check=c_same_as_plain,
    ),
    Case(
        "bom_crlf_manifest",
        b_bom_manifest,
        "ok",
        "a manifest opened and saved in a Windows editor (BOM, CRLF, indent) is still the same JSON",
        check=c_same_as_plain,
    ),
    Case(
        "mc_errors_bad_line",
        b_errors_bad,
        "error",
        "report.md: mc-<mode>-errors.jsonl is read (failed, counted); a bad line names file and line",
        names=["{dir}/runs/mc-failed/mc-generate-errors.jsonl:1"],
    ),
    Case(
        "mc_metrics_missing",
        b_metrics_missing,
        "ok",
        "report.md: mc runs are read from predictions, errors and the store; the metrics file is not needed",
        check=c_same_as_plain,
    ),
    Case(
        "store_in_use",
        b_store_locked,
        "ok",
        "runs.md: reading opens the store read-only; a writer holding its locks mid-transaction must "
        "not stop a report nor leak uncommitted rows",
        check=c_same_as_plain,
    ),
    Case(
        "stray_files",
        b_stray_files,
        "ok",
        "notes, backups, .DS_Store and empty folders beside runs are not runs",
        check=c_same_as_plain,
    ),
    Case(
        "annotations_unknown_items",
        b_annotations_unknown,
        "ok",
        "labels of items no run answered are not counted, and the report says so",
        check=c_annotations_unknown,
    ),
    Case(
        "symlink_loop",
        b_symlink_loop,
        "ok",
        "links to an ancestor or to themselves must not hang discovery nor count a run twice",
        check=c_once,
    ),
    Case(
        "combined_judge",
        b_combined_judge,
        "ok",
        "judge.md: `judge combine` writes a judge folder of its own format; the report lists it "
        "beside the others",
        check=c_combined_judge,
    ),
    Case(
        "annotations_all_unknown",
        b_annotations_all_unknown,
        "ok",
        "labels none of which is of a read answer do not replace the judge's score with an empty human one",
        check=c_annotations_all_unknown,
    ),
    Case(
        "list_newer_format",
        b_list_newer,
        "ok",
        "runs.md: a directory cvalues cannot read is one broken line saying why",
        check=c_list_newer,
        command="runs",
    ),
    Case(
        "list_symlinked",
        b_list_symlinked,
        "ok",
        "runs list finds runs in linked folders as the report does",
        check=c_list_symlinked,
        command="runs",
    ),
    # ---------------------------------------------------------------- damaged or foreign: report
    Case(
        "manifest_cut",
        damaged(MANIFEST_A, cut_half),
        "error",
        "a manifest cut mid-way (a crash during a write by another tool) names the file",
        names=["{dir}/out/" + MANIFEST_A],
    ),
    Case(
        "manifest_newer_format",
        damaged(MANIFEST_A, manifest_format("cvalues-run/99")),
        "error",
        "a manifest of a newer schema may mean other things: refuse it naming the file and the format",
        names=["{dir}/out/" + MANIFEST_A, "cvalues-run/99"],
    ),
    Case(
        "manifest_no_model",
        damaged(MANIFEST_A, drop_key("model")),
        "error",
        "an older or hand-made manifest without 'model': name the file and the field",
        names=["{dir}/out/" + MANIFEST_A, "model"],
    ),
    Case(
        "manifest_is_list",
        damaged(MANIFEST_A, write("[]")),
        "error",
        "runs.md: a manifest.json that is not a JSON object is an error naming the file",
        names=["{dir}/out/" + MANIFEST_A],
    ),
    Case(
        "manifest_empty",
        damaged(MANIFEST_A, write("")),
        "error",
        "an empty manifest (disk full during a write)",
        names=["{dir}/out/" + MANIFEST_A],
    ),
    Case(
        "manifest_is_dir",
        damaged(MANIFEST_A, into_dir),
        "error",
        "manifest.json that is a folder",
        names=["{dir}/out/" + MANIFEST_A],
    ),
    Case(
        "manifest_dangling_link",
        damaged(MANIFEST_A, dangling),
        "error_or_note",
        "manifest.json a dangling symlink (a moved disk)",
        names=["{dir}/out/" + MANIFEST_A],
    ),
    Case(
        "manifest_not_utf8",
        damaged(MANIFEST_A, write(b'{"format": "cvalues-run/1", "model": {"spec": "\xff\xfe"}}')),
        "error",
        "bytes that are not UTF-8 in a manifest",
        names=["{dir}/out/" + MANIFEST_A],
    ),
    Case(
        "foreign_manifest",
        b_foreign_manifest,
        "error_or_note",
        "an unrelated JSON named manifest.json (a web app manifest) is not a run: an error naming "
        "it, or skipped with a visible note",
        names=["{dir}/out/webapp/manifest.json"],
    ),
    Case(
        "store_cut",
        damaged("a/gen-safety/answers.sqlite", cut_half),
        "error",
        "a truncated store names the file",
        names=["{dir}/out/a/gen-safety/answers.sqlite"],
    ),
    Case(
        "store_garbage",
        damaged("a/gen-safety/answers.sqlite", write(b"not a database at all" * 100)),
        "error",
        "a store that is not SQLite names the file",
        names=["{dir}/out/a/gen-safety/answers.sqlite"],
    ),
    Case(
        "store_missing",
        damaged("a/gen-safety/answers.sqlite", unlink),
        "error_or_note",
        "a generation run without its store has no answers to show: say so naming the file",
        names=["{dir}/out/a/gen-safety/answers.sqlite"],
    ),
    Case(
        "predictions_bad_line",
        damaged("a/mc-resp/mc-generate-predictions.jsonl", bad_line(3)),
        "error",
        "a predictions line that is not JSON: file and line",
        names=["{dir}/out/a/mc-resp/mc-generate-predictions.jsonl:3"],
    ),
    Case(
        "predictions_bad_field",
        damaged(
            "a/mc-resp/mc-generate-predictions.jsonl",
            bad_line(2, '{"item_id": 7, "pred": ["回复1"], "label": null}'),
        ),
        "error",
        "a predictions line of the wrong shape: file, line and field",
        names=["{dir}/out/a/mc-resp/mc-generate-predictions.jsonl:2"],
    ),
    Case(
        "predictions_missing",
        damaged("a/mc-resp/mc-generate-predictions.jsonl", unlink),
        "error_or_note",
        "an mc run whose predictions are gone cannot be shown: say so naming the file",
        names=["{dir}/out/a/mc-resp/mc-generate-predictions.jsonl"],
    ),
    Case(
        "verdicts_cut",
        damaged("a/gen-safety/judge/cvalues-safety/verdicts.jsonl", cut_last_line),
        "error",
        "report.md: a malformed verdict line stops the report with file and line (a crash mid-write)",
        names=["{dir}/out/a/gen-safety/judge/cvalues-safety/verdicts.jsonl:6"],
    ),
    Case(
        "verdicts_missing",
        damaged("a/gen-safety/judge/cvalues-safety/verdicts.jsonl", unlink),
        "error_or_note",
        "a judge folder without verdicts.jsonl",
        names=["{dir}/out/a/gen-safety/judge/cvalues-safety/verdicts.jsonl"],
    ),
    Case(
        "annotations_cut",
        b_annotations_cut,
        "error",
        "report.md: a malformed label line stops the report with file and line",
        names=["{dir}/out/annotations.jsonl:3"],
    ),
    Case("run_is_file", b_run_is_file, "error", "OUT_DIR that is a file", names=["runs.zip"]),
    Case("run_dir_missing", b_missing_dir, "error", "OUT_DIR that does not exist", names=["没有这个目录"]),
    Case(
        "empty_folder",
        b_empty,
        "error",
        "a folder without runs: nothing to report is an error naming it (test_report_inputs)",
        names=["{dir}/empty"],
    ),
    Case(
        "only_other_files",
        b_no_runs_only_files,
        "error",
        "a folder with JSON that is no run",
        names=["{dir}/results"],
    ),
    Case(
        "out_is_file",
        b_out_is_file,
        "error",
        "--out naming an existing file: refused, the file kept",
        names=["report.html"],
        check=c_out_file_kept,
    ),
    Case(
        "out_answers_csv_is_folder",
        b_folder_in_the_way("answers"),
        "error",
        "a folder where the report writes a file stops it before anything is replaced: no earlier file "
        "is half replaced by the new report's (added after reading the code)",
        names=["{dir}/report/answers/"],
    ),
    Case(
        "out_report_html_is_folder",
        b_folder_in_the_way("report.html"),
        "error",
        "the same for report.html, the last file written (added after reading the code)",
        names=["{dir}/report/report.html"],
    ),
    Case(
        "narrower_report_over_earlier",
        b_narrower_over_earlier,
        "ok",
        "a new report in the folder of an earlier one: the answers CSVs of a model no longer reported "
        "must not stay beside it as if they were part of it (added after reading the code)",
        check=c_no_stale_files,
    ),
    # ---------------------------------------------------------------- runs list / show / export
    Case(
        "list_broken",
        b_list_broken,
        "ok",
        "runs.md: one broken line per unreadable directory, naming why; the good ones listed",
        check=c_list_broken,
        command="runs",
    ),
    Case(
        "list_json_broken",
        b_list_json_broken,
        "ok",
        "--json is one JSON object per run: a broken one too, or a script reading it breaks",
        check=c_list_json,
        command="runs",
    ),
    Case(
        "list_chinese",
        b_list_chinese,
        "ok",
        "Chinese folder names and an interrupted run list normally",
        check=c_list_chinese,
        command="runs",
    ),
    Case(
        "show_interrupted",
        b_show("extra/interrupted"),
        "ok",
        "runs.md: show gives the last session's status",
        check=c_show_status("interrupted"),
        command="runs",
    ),
    Case(
        "show_killed",
        b_show("extra/killed"),
        "ok",
        "a killed session (left running) is shown, its answers counted from the store",
        command="runs",
    ),
    Case(
        "show_judge_moved",
        b_show("out/a/gen-safety/judge/cvalues-safety"),
        "ok",
        "a judge folder copied away from its run can be shown",
        command="runs",
    ),
    Case(
        "show_manifest_cut",
        b_show("out/a/mc-resp", cut_half, "manifest.json"),
        "error",
        "runs.md: a manifest that is not JSON is one Error line naming it",
        names=["{dir}/run/manifest.json"],
        command="runs",
    ),
    Case(
        "show_manifest_foreign",
        b_show("out/a/mc-resp", write('{"name": "x", "version": "1.0"}'), "manifest.json"),
        "ok",
        "runs.md: a manifest disagreeing with the store: show gives the store's values, one warning "
        "per field",
        check=c_show_status("manifest.json disagrees"),
        command="runs",
    ),
    Case(
        "show_store_cut",
        b_show("out/a/gen-safety", cut_half, "answers.sqlite"),
        "error",
        "runs.md: a truncated store is an Error line naming it",
        names=["{dir}/run/answers.sqlite"],
        command="runs",
    ),
    Case(
        "show_empty",
        b_show_empty,
        "error",
        "an empty folder is no run: say so naming it",
        names=["{dir}/run"],
        command="runs",
    ),
    Case(
        "export_store_cut",
        b_export(cut_half),
        "error",
        "a truncated store: an Error naming it, the earlier export kept",
        names=["{dir}/run/answers.sqlite"],
        check=c_export_kept,
        command="runs",
    ),
    Case(
        "export_manifest_cut",
        b_export(cut_half, "manifest.json"),
        "error_or_note",
        "export reads the store; a cut manifest is named (or not needed), the earlier export kept on error",
        names=["{dir}/run/manifest.json"],
        command="runs",
    ),
    Case(
        "export_killed",
        b_export_killed,
        "ok",
        "a killed run's answers export in full",
        check=c_export_killed,
        command="runs",
    ),
]
#: cases whose store is held by a live writer while the command runs
LOCKED = {"store_in_use": "a/gen-safety/answers.sqlite"}
