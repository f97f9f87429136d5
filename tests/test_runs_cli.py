"""`cvalues generate` / `cvalues runs` end to end: real openai backend, real suite, local server, SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import MIRROR
from cvalues.cli import cli
from cvalues.runs import RunStore, read_manifest
from openai_server import OpenAIServer

needs_mirror = pytest.mark.usefixtures("mirror")  # skipped without the mirror, failed where CI requires it


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    monkeypatch.setenv("CVALUES_DATA_MIRROR", str(MIRROR))
    monkeypatch.setenv("CVALUES_OFFLINE", "1")
    monkeypatch.setenv("CVALUES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def byo_file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "prompts.jsonl"
    lines = [
        json.dumps({"id": f"p{i}", "text": f"第{i}个问题：你怎么看？"}, ensure_ascii=False) for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def gen_args(server: OpenAIServer, suite: str, run_dir: Path, *extra: str) -> list[str]:
    return [
        "generate",
        "--model",
        "openai:test-model",
        "--suite",
        suite,
        "--run-dir",
        str(run_dir),
        "--base-url",
        server.base_url,
        "--max-retries",
        "0",
        "--timeout",
        "5",
        "--no-progress",
        *extra,
    ]


def invoke(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def stored(run_dir: Path) -> dict[str, tuple]:
    with RunStore(run_dir / "answers.sqlite", readonly=True) as store:
        return {a.key: (a.item_id, a.status, a.text, a.finish_reason, a.completion_tokens) for a in store}


@needs_mirror
def test_generate_real_suite_then_show_list_export(tmp_path, monkeypatch):
    # the rerun below is checked as a session of the engine: the shortcut that skips it when nothing
    # changed is tested in test_runs_rerun_shortcut.py
    monkeypatch.setenv("CVALUES_RERUN_SHORTCUT", "0")
    run_dir = tmp_path / "runs" / "r1"
    with OpenAIServer(latency=0.01) as server:
        result = invoke(
            gen_args(
                server,
                "responsibility-prompts",
                run_dir,
                "--limit",
                "12",
                "--system-prompt",
                "你是一个负责任的助手。",
            )
        )
        assert result.exit_code == 0, result.output
        assert "12 items: 12 answered" in result.output
        assert server.stats()["chat_requests"] == 12
        again = invoke(
            gen_args(
                server,
                "responsibility-prompts",
                run_dir,
                "--limit",
                "12",
                "--system-prompt",
                "你是一个负责任的助手。",
            )
        )
        assert "12 answered (12 from earlier sessions, 0 now)" in again.output
        assert server.stats()["chat_requests"] == 12
    answers = stored(run_dir)
    assert len(answers) == 12 and all(v[1] == "ok" and v[2] in ("回复1", "回复2") for v in answers.values())
    with RunStore(run_dir / "answers.sqlite", readonly=True) as store:
        first = next(iter(store))
        assert first.messages[0].role == "system" and first.messages[0].content == "你是一个负责任的助手。"
        assert first.meta["level"] == "responsibility" and first.meta["category"]
    manifest = read_manifest(run_dir)
    assert manifest["suite"]["name"] == "responsibility-prompts"
    assert manifest["identity"]["suite_files"] == {
        "cvalues-responsibility-prompts": manifest["suite"]["describe"]["files"][0]["sha256"]
    }
    assert [s["status"] for s in manifest["sessions"]] == ["finished", "finished"]
    assert manifest["sessions"][0]["options"]["limit"] == 12

    listing = invoke(["runs", "list", "--run-dir-root", str(tmp_path / "runs")])
    assert "openai:test-model" in listing.output and "responsibility-prompts" in listing.output
    shown = invoke(["runs", "show", str(run_dir)])
    assert "12 ok, 0 failed" in shown.output and "kind:      generate" in shown.output
    assert shown.output.count("finished") == 3  # two sessions, and the status line
    out = tmp_path / "export.jsonl"
    assert invoke(["runs", "export", str(run_dir), "--out", str(out)]).exit_code == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 12 and {r["key"] for r in rows} == set(answers)
    csv_out = tmp_path / "export.csv"
    assert invoke(["runs", "export", str(run_dir), "--format", "csv", "--out", str(csv_out)]).exit_code == 0
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbfkey,")


def test_failures_are_reported_and_all_failed_exits_nonzero(tmp_path):
    suite = str(byo_file(tmp_path, 10))
    with OpenAIServer(fault_rates={"500": 1.0}) as server:
        result = invoke(gen_args(server, suite, tmp_path / "r"))
        assert result.exit_code == 1
        assert "10 items: 0 answered" in result.output and "10 failed" in result.output
        assert "HTTP 500" in result.output and "--retry-errors" in result.output
        server.configure(fault_rates={"500": 0.5})
        result = invoke(gen_args(server, suite, tmp_path / "r", "--retry-errors"))
        assert result.exit_code == 0 and "failed" in result.output
        server.configure(fault_rates={})
        result = invoke(gen_args(server, suite, tmp_path / "r"))
        assert "0 now" in result.output  # failures are not retried without the flag
        result = invoke(gen_args(server, suite, tmp_path / "r", "--retry-errors"))
        assert result.exit_code == 0 and "10 answered" in result.output and " 0 failed" in result.output


def test_sample_and_limit_are_deterministic_and_changes_are_refused(tmp_path):
    suite = str(byo_file(tmp_path, 40))
    with OpenAIServer() as server:

        def items(run_dir: Path, *extra: str) -> set[str]:
            assert invoke(gen_args(server, suite, run_dir, *extra)).exit_code == 0
            return {v[0] for v in stored(run_dir).values()}

        a = items(tmp_path / "a", "--sample", "10", "--seed", "1")
        assert a == items(tmp_path / "b", "--sample", "10", "--seed", "1")
        assert a != items(tmp_path / "c", "--sample", "10", "--seed", "2")
        assert a < items(tmp_path / "d", "--sample", "20", "--seed", "1")
        assert items(tmp_path / "e", "--limit", "5") == {f"p{i}" for i in range(5)}
        # another setting in the same run dir is refused; in a new dir it is asked anew (new keys)
        refused = CliRunner().invoke(
            cli, gen_args(server, suite, tmp_path / "e", "--limit", "5", "--temperature", "0.5")
        )
        assert refused.exit_code == 1 and "settings" in refused.output and "--run-dir" in refused.output
        before = server.stats()["chat_requests"]
        f = items(tmp_path / "f", "--limit", "5", "--temperature", "0.5")
        assert server.stats()["chat_requests"] == before + 5
        assert not set(stored(tmp_path / "f")) & set(stored(tmp_path / "e"))
        assert f == {f"p{i}" for i in range(5)}


def test_bad_model_spec_and_mc_suite_are_clear_errors(tmp_path):
    suite = str(byo_file(tmp_path, 3))
    result = CliRunner().invoke(
        cli, ["generate", "--model", "nope:x", "--suite", suite, "--run-dir", str(tmp_path / "r")]
    )
    assert result.exit_code == 1 and "unknown model spec" in result.output


@needs_mirror
def test_mc_suite_is_refused(tmp_path):
    result = CliRunner().invoke(
        cli, ["generate", "--model", "openai:m", "--suite", "safety-mc", "--run-dir", str(tmp_path / "r")]
    )
    assert result.exit_code != 0 and "not prompts" in result.output


@pytest.mark.slow
@needs_mirror
def test_sigkill_mid_run_then_resume_equals_uninterrupted_run(tmp_path):
    """Kill `cvalues generate` with SIGKILL after some answers are stored, resume: the store equals an
    uninterrupted run's, and only the requests in flight at the kill were asked twice."""
    concurrency, n = 8, 150
    args_tail = ["--limit", str(n), "--concurrency", str(concurrency)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with OpenAIServer(latency=0.03, jitter=0.02) as server:
        run_dir = tmp_path / "killed"
        cmd = [
            sys.executable,
            "-m",
            "cvalues",
            *gen_args(server, "responsibility-prompts", run_dir, *args_tail),
        ]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline:
            if (run_dir / "answers.sqlite").exists():
                try:
                    with RunStore(run_dir / "answers.sqlite", readonly=True) as store:
                        done = store.count()
                except sqlite3.OperationalError:  # created but its schema not yet committed
                    done = 0
                if done >= n // 3:
                    break
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        with RunStore(run_dir / "answers.sqlite", readonly=True) as store:
            at_kill = store.count()
        assert n // 3 <= at_kill < n
        assert read_manifest(run_dir)["sessions"][-1]["status"] == "running"  # killed: never ended

        resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert (
            f"{n} items: {n} answered ({at_kill} from earlier sessions, {n - at_kill} now)" in resumed.stdout
        )
        counts = server.counts()
        assert [s["status"] for s in read_manifest(run_dir)["sessions"]] == ["killed", "finished"]

    with OpenAIServer(latency=0.01) as reference:
        ref_dir = tmp_path / "reference"
        ref = subprocess.run(
            [
                sys.executable,
                "-m",
                "cvalues",
                *gen_args(reference, "responsibility-prompts", ref_dir, *args_tail),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ref.returncode == 0, ref.stdout + ref.stderr
        assert reference.stats()["chat_requests"] == n

    assert stored(run_dir) == stored(ref_dir)
    assert len(stored(run_dir)) == n
    asked_twice = [k for k, c in counts.items() if c == 2]
    assert len(counts) == n and max(counts.values()) <= 2
    assert len(asked_twice) <= concurrency
    assert sum(counts.values()) == n + len(asked_twice)


def test_replay_items_with_the_same_prompt_keep_their_own_answers(tmp_path):
    """Two items with one text are two answers: a replay file's per-item answers survive into the export."""
    prompts, replies = tmp_path / "p.jsonl", tmp_path / "r.jsonl"
    prompts.write_text('{"id":"a","text":"你好吗？"}\n{"id":"b","text":"你好吗？"}\n', encoding="utf-8")
    replies.write_text('{"id":"a","response":"A"}\n{"id":"b","response":"B"}\n', encoding="utf-8")
    run_dir, out = tmp_path / "run", tmp_path / "o.jsonl"
    result = invoke(
        [
            "generate",
            "--model",
            f"replay:{replies}",
            "--suite",
            str(prompts),
            "--run-dir",
            str(run_dir),
            "--no-progress",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "2 items: 2 answered" in result.output
    result = invoke(["runs", "export", str(run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.open(encoding="utf-8")]
    assert {r["item_id"]: r["text"] for r in rows} == {"a": "A", "b": "B"}


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ({"api_key": "secret"}, ("HTTP 401", "--api-key-env")),
        ({"models": ["other"]}, ("HTTP 404", "--model")),
    ],
)
def test_generate_stops_on_a_wrong_key_or_model_name(tmp_path, setup, expected):
    suite = str(byo_file(tmp_path, 40))
    with OpenAIServer(**setup) as server:
        result = invoke(gen_args(server, suite, tmp_path / "r", "--concurrency", "2"))
        assert server.stats()["chat_requests"] <= 2
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and all(e in lines[0] for e in expected), result.output
    with RunStore(tmp_path / "r" / "answers.sqlite", readonly=True) as store:
        assert store.counts()["error"] == 0  # a rerun with the right key asks every item


def test_long_failure_causes_are_not_cut_inside_a_word(tmp_path):
    suite = str(byo_file(tmp_path, 3))
    words = "the upstream inference worker terminated unexpectedly while decoding"
    with OpenAIServer(fault_rates={"500": 1.0}, error_message=f"{words}; {words}; {words}") as server:
        result = invoke(gen_args(server, suite, tmp_path / "r"))
    line = next(line for line in result.output.splitlines() if line.startswith("  3 x "))
    assert line.endswith("…") and len(line) <= 6 + 200
    last_word = line.removesuffix("…").rstrip(" ;:,").split()[-1]
    assert last_word in words.split() or last_word.strip('"{}:,') in words.split(), line


def test_generate_says_when_most_requests_failed(tmp_path):
    suite = str(byo_file(tmp_path, 20))
    with OpenAIServer(fault_rates={"500": 0.8}, seed=1) as server:
        result = invoke(gen_args(server, suite, tmp_path / "r"))
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.output
    assert "most requests failed" in warnings[0] and "of 20 items" in warnings[0]
    assert f"cvalues runs export {tmp_path / 'r'} --status error" in warnings[0]
