"""The run store under attack: identity carried by the store, a second writer, hand-edited or broken
files, disk full, read-only media, signals. Each test drives the real CLI or library against real
files (and a real local OpenAI-compatible server where a model is asked)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cvalues.cli import cli
from cvalues.models.base import GenerationSettings
from cvalues.runs import RunManifest, RunStore, execute, read_manifest
from openai_server import OpenAIServer
from test_runs_engine import EchoModel, requests_for


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def prompts(tmp_path: Path, n: int) -> str:
    path = tmp_path / "prompts.jsonl"
    lines = [
        json.dumps({"id": f"p{i}", "text": f"第{i}个问题：你怎么看？"}, ensure_ascii=False) for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def gen(server: OpenAIServer, suite: str, run_dir: Path, *extra: str, model: str = "openai:m1") -> list[str]:
    return [
        "generate", "--model", model, "--suite", suite, "--run-dir", str(run_dir),
        "--base-url", server.base_url, "--max-retries", "0", "--timeout", "5", "--no-progress", *extra,
    ]  # fmt: skip


def invoke(args: list[str]):
    return CliRunner().invoke(cli, args)


def one_line_error(result) -> str:
    """The command failed with exit 1 and one 'Error:' line, never a traceback."""
    assert result.exit_code == 1, result.output
    assert ("Traceback" not in result.output and result.exception is None) or isinstance(
        result.exception, SystemExit
    ), result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]


# --- identity carried by the store --------------------------------------------------------------------


def test_store_refuses_another_model_even_without_the_manifest(tmp_path):
    suite, run_dir = prompts(tmp_path, 5), tmp_path / "run"
    with OpenAIServer() as server:
        assert invoke(gen(server, suite, run_dir)).exit_code == 0
        (run_dir / "manifest.json").unlink()
        line = one_line_error(invoke(gen(server, suite, run_dir, model="openai:m2")))
        assert "answers.sqlite" in line and 'model.spec: was "openai:m1", now "openai:m2"' in line
        assert server.stats()["chat_requests"] == 5  # nothing asked for the refused model
        # the same configuration resumes, and the manifest is rebuilt from the store
        result = invoke(gen(server, suite, run_dir))
        assert result.exit_code == 0 and "5 from earlier sessions" in result.output
    assert read_manifest(run_dir)["identity"]["model"]["spec"] == "openai:m1"
    with RunStore(run_dir / "answers.sqlite", readonly=True) as store:
        assert {a.model for a in store} == {"openai:m1"}


def test_changed_setting_is_named_with_both_values(tmp_path):
    suite, run_dir = prompts(tmp_path, 3), tmp_path / "run"
    with OpenAIServer() as server:
        assert invoke(gen(server, suite, run_dir)).exit_code == 0
        line = one_line_error(
            invoke(gen(server, suite, run_dir, "--temperature", "0.7", "--max-tokens", "64"))
        )
    assert "settings.temperature: was 0.0, now 0.7" in line
    assert "settings.max_tokens: was 512, now 64" in line


def test_hand_edited_manifest_is_reported_with_the_store_values(tmp_path):
    suite, run_dir = prompts(tmp_path, 3), tmp_path / "run"
    with OpenAIServer() as server:
        assert invoke(gen(server, suite, run_dir)).exit_code == 0
        path = run_dir / "manifest.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["settings"]["temperature"] = 0.9
        data["identity"]["settings"]["temperature"] = 0.9  # a careful editor changes both copies
        path.write_text(json.dumps(data), encoding="utf-8")
        line = one_line_error(invoke(gen(server, suite, run_dir)))
        assert "manifest.json was edited" in line and "settings.temperature: store 0.0, manifest 0.9" in line
        shown = invoke(["runs", "show", str(run_dir)])
    assert shown.exit_code == 0
    assert "settings.temperature: store 0.0, manifest 0.9" in shown.output
    assert '"temperature": 0.0' in shown.output  # the store's identity is what is shown as the truth


# --- one writer, manifest read-modify-write -----------------------------------------------------------


def _cvalues(*args: str) -> list[str]:
    return [sys.executable, "-m", "cvalues", *args]


def _wait_for_answers(proc: subprocess.Popen, store_path: Path, at_least: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        if store_path.exists():
            with contextlib.suppress(Exception):  # created but its schema not yet committed
                with RunStore(store_path, readonly=True) as store:
                    n = store.count()
                if n >= at_least:
                    return n
        time.sleep(0.02)
    raise AssertionError(f"fewer than {at_least} answers in {timeout}s")


@pytest.mark.slow
def test_second_process_is_refused_even_when_the_lock_file_is_deleted(tmp_path):
    suite, run_dir = prompts(tmp_path, 300), tmp_path / "run"
    with OpenAIServer(latency=0.2) as server:
        first = subprocess.Popen(
            _cvalues(*gen(server, suite, run_dir, "--concurrency", "2")),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            _wait_for_answers(first, run_dir / "answers.sqlite", 2)
            second = subprocess.run(_cvalues(*gen(server, suite, run_dir)), capture_output=True, text=True)
            assert second.returncode == 1 and "another cvalues process" in second.stderr, second.stderr
            (run_dir / ".lock").unlink()
            third = subprocess.run(_cvalues(*gen(server, suite, run_dir)), capture_output=True, text=True)
            assert third.returncode == 1 and "another cvalues process" in third.stderr, third.stderr
            assert "Traceback" not in third.stderr
        finally:
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=30)
        counts = server.counts()
    assert max(counts.values()) == 1  # nothing asked twice
    sessions = read_manifest(run_dir)["sessions"]
    assert [s["status"] for s in sessions] == ["interrupted"]


def test_manifest_updates_read_the_file_on_disk(tmp_path):
    model = EchoModel()
    with RunStore(tmp_path / "answers.sqlite") as store:
        manifest = RunManifest.open(tmp_path, model=model, settings=GenerationSettings())
        manifest.begin_session({"limit": 1})
        data = read_manifest(tmp_path)
        data["sessions"].insert(0, {"status": "finished", "note": "another session's record"})
        data["note"] = "kept"
        (tmp_path / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
        manifest.end_session("finished", {}, store.counts())
    data = read_manifest(tmp_path)
    assert data["note"] == "kept"
    assert [s.get("note") for s in data["sessions"]] == ["another session's record", None]
    assert data["sessions"][1]["status"] == "finished"


# --- broken files, resources --------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "null"])
def test_manifest_not_a_json_object_is_one_line(tmp_path, content):
    suite, run_dir = prompts(tmp_path, 2), tmp_path / "run"
    with OpenAIServer() as server:
        assert invoke(gen(server, suite, run_dir)).exit_code == 0
        (run_dir / "manifest.json").write_text(content, encoding="utf-8")
        line = one_line_error(invoke(gen(server, suite, run_dir)))
    assert str(run_dir / "manifest.json") in line and "move it away" in line
    listed = invoke(["runs", "list", "--run-dir-root", str(tmp_path)])
    assert listed.exit_code == 0 and "manifest.json" in listed.output


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupted_store_is_one_line_and_listed_as_broken(tmp_path, damage):
    suite, good, bad = prompts(tmp_path, 30), tmp_path / "runs" / "good", tmp_path / "runs" / "bad"
    with OpenAIServer() as server:
        assert invoke(gen(server, suite, good)).exit_code == 0
        assert invoke(gen(server, suite, bad)).exit_code == 0
        store = bad / "answers.sqlite"
        if damage == "garbage":
            store.write_bytes(b"this is not a database" * 100)
        else:
            data = store.read_bytes()
            store.write_bytes(data[: len(data) // 3])
        line = one_line_error(invoke(gen(server, suite, bad)))
        assert str(store) in line and ("corrupted" in line or "not a SQLite database" in line)
        for cmd in (
            ["runs", "show", str(bad)],
            ["runs", "export", str(bad), "--out", str(tmp_path / "x.jsonl")],
        ):
            assert str(store) in one_line_error(invoke(cmd))
    listed = invoke(["runs", "list", "--run-dir-root", str(tmp_path / "runs")])
    assert listed.exit_code == 0, listed.output
    good_line = next(line for line in listed.output.splitlines() if str(good) in line)
    assert "30" in good_line and "finished" in good_line
    assert any(str(bad) in line and "broken" in line for line in listed.output.splitlines())


def test_disk_full_keeps_answers_and_ends_the_session(tmp_path):
    """SQLite's SQLITE_FULL (what a full disk gives) during a run: the answers committed before stay,
    the session is marked failed, and the error names the store and says what to do."""
    from cvalues.runs.store import StoreError

    model = EchoModel(concurrency=1)
    with RunStore(tmp_path / "answers.sqlite") as store:
        manifest = RunManifest.open(tmp_path, model=model, settings=GenerationSettings())
        execute(model, requests_for(["a", "b"]), store=store, settings=GenerationSettings(), progress=False)
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count={pages + 1}")  # the 'disk' holds one more page
        texts = [f"第{i}个问题" * 200 for i in range(50)]
        with pytest.raises(StoreError, match="disk is full: free some space"):
            execute(model, requests_for(texts), store=store, settings=GenerationSettings(),
                    progress=False, manifest=manifest)  # fmt: skip
        assert store.count(status="ok") >= 2
    assert read_manifest(tmp_path)["sessions"][-1]["status"] == "failed"
    with RunStore(tmp_path / "answers.sqlite", readonly=True) as store:
        assert {"a", "b"} <= {a.text.split("答:")[-1] for a in store}


@contextlib.contextmanager
def small_filesystem(where: Path, size: str = "400k") -> Iterator[Path]:
    """A real tmpfs of ``size`` mounted at ``where`` (needs root: skipped otherwise)."""
    where.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_full_disk_during_a_run_is_one_line_and_keeps_answers(tmp_path):
    with (
        small_filesystem(tmp_path / "fs", "300k") as fs,
        OpenAIServer(responder=lambda m: "答" * 3000) as server,
    ):
        suite = prompts(tmp_path, 200)
        result = invoke(gen(server, suite, fs / "run"))
        line = one_line_error(result)
        assert str(fs / "run") in line and ("disk is full" in line or "No space left" in line), line
        with RunStore(fs / "run" / "answers.sqlite", readonly=True) as store:
            assert 0 < store.count() < 200


def test_read_only_media(tmp_path):
    """A finished run on read-only media: show and export work and leave nothing behind; a run asked to
    write there fails in one line naming the directory."""
    suite = prompts(tmp_path, 4)
    with small_filesystem(tmp_path / "fs", "2m") as fs, OpenAIServer() as server:
        run_dir = fs / "run"
        assert invoke(gen(server, suite, run_dir)).exit_code == 0
        before = sorted(p.name for p in run_dir.iterdir())
        assert subprocess.run(["mount", "-o", "remount,ro", str(fs)]).returncode == 0
        shown = invoke(["runs", "show", str(run_dir)])
        assert shown.exit_code == 0 and "4 ok" in shown.output, shown.output
        out = tmp_path / "answers.jsonl"
        assert invoke(["runs", "export", str(run_dir), "--out", str(out)]).exit_code == 0
        assert len(out.read_text(encoding="utf-8").splitlines()) == 4
        assert invoke(["runs", "list", "--run-dir-root", str(fs)]).exit_code == 0
        line = one_line_error(invoke(gen(server, suite, run_dir, "--retry-errors")))
        assert str(run_dir) in line and "read-only" in line
        assert sorted(p.name for p in run_dir.iterdir()) == before


def test_show_and_export_leave_no_wal_or_shm(tmp_path):
    suite, run_dir = prompts(tmp_path, 3), tmp_path / "run"
    with OpenAIServer() as server:
        assert invoke(gen(server, suite, run_dir)).exit_code == 0
    before = sorted(p.name for p in run_dir.iterdir())
    assert not any(n.endswith(("-wal", "-shm")) for n in before)
    assert invoke(["runs", "show", str(run_dir)]).exit_code == 0
    assert (
        invoke(
            ["runs", "export", str(run_dir), "--out", str(tmp_path / "a.csv"), "--format", "csv"]
        ).exit_code
        == 0
    )
    assert invoke(["runs", "list", "--run-dir-root", str(tmp_path)]).exit_code == 0
    assert sorted(p.name for p in run_dir.iterdir()) == before


@pytest.mark.slow
def test_too_few_file_descriptors_is_one_line(tmp_path):
    suite, run_dir = prompts(tmp_path, 5), tmp_path / "run"

    def low_fds() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (12, 12))

    with OpenAIServer() as server:
        proc = subprocess.run(
            _cvalues(*gen(server, suite, run_dir)),
            capture_output=True,
            text=True,
            preexec_fn=low_fds,
            timeout=60,
        )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "ulimit -n" in proc.stderr or "file descriptors" in proc.stderr, proc.stderr


# --- signals ------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_stops_keeps_answers_and_says_how_to_resume(tmp_path, signum, code):
    suite, run_dir = prompts(tmp_path, 200), tmp_path / "run"
    with OpenAIServer(latency=0.05) as server:
        args = gen(server, suite, run_dir, "--concurrency", "4")
        proc = subprocess.Popen(
            _cvalues(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        _wait_for_answers(proc, run_dir / "answers.sqlite", 10)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == code, out + err
        assert "Traceback" not in err, err
        with RunStore(run_dir / "answers.sqlite", readonly=True) as store:
            saved = store.count(status="ok")
        assert 10 <= saved < 200
        assert f"{saved} answers saved" in err and "Resume with: cvalues generate --model openai:m1" in err
        session = read_manifest(run_dir)["sessions"][-1]
        assert session["status"] == "interrupted" and session["ended_at"]
        resumed = invoke(args)
        assert resumed.exit_code == 0 and f"{saved} from earlier sessions" in resumed.output


# --- --sample beyond the suite ------------------------------------------------------------------------


def test_sample_larger_than_the_suite_says_so_and_uses_it_all(tmp_path):
    suite, run_dir = prompts(tmp_path, 5), tmp_path / "run"
    with OpenAIServer() as server:
        result = invoke(gen(server, suite, run_dir, "--sample", "50"))
    assert result.exit_code == 0, result.output
    assert "--sample 50 is more than suite" in result.output and "(5 items); using all 5" in result.output
    assert "5 items: 5 answered" in result.output
    with OpenAIServer() as server:
        quiet = invoke(gen(server, suite, tmp_path / "r2", "--sample", "5"))
    assert "more than" not in quiet.output


def test_mc_sample_larger_than_the_suite_counts_pairs(mirror, tmp_path):
    with OpenAIServer() as server:
        result = invoke(
            ["mc", "run", "--model", "openai:m1", "--base-url", server.base_url, "--suite", "safety-mc",
             "--sample", "100000", "--limit", "1", "--run-dir", str(tmp_path / "r"), "--no-progress",
             "--max-retries", "0", "--bootstrap", "0"]
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "--sample 100000 is more than suite 'safety-mc' holds (" in result.output
    assert " pairs); using all " in result.output


# --- runs list / show: kind, accuracy, status -----------------------------------------------------------


def test_list_and_show_give_kind_accuracy_and_never_call_all_failed_finished(mirror, tmp_path):
    answer = "综合来看，我认为回复1更好。"
    runs = tmp_path / "runs"
    with OpenAIServer(responder=lambda m: answer) as server:
        mc = invoke(
            ["mc", "run", "--model", "openai:m1", "--base-url", server.base_url, "--suite", "safety-mc",
             "--sample", "6", "--run-dir", str(runs / "mc"), "--no-progress", "--bootstrap", "0"]
        )  # fmt: skip
        assert mc.exit_code == 0, mc.output
        assert invoke(gen(server, prompts(tmp_path, 3), runs / "gen")).exit_code == 0
    with OpenAIServer(fault_rates={"500": 1.0}) as server:
        assert invoke(gen(server, prompts(tmp_path, 3), runs / "dead")).exit_code == 1
    assert read_manifest(runs / "dead")["sessions"][-1]["status"] == "failed"
    listed = invoke(["runs", "list", "--run-dir-root", str(runs), "--json"])
    rows = {Path(r["run_dir"]).name: r for r in map(json.loads, listed.output.splitlines())}
    assert (
        rows["mc"]["kind"] == "mc run (generate)"
        and rows["mc"]["accuracy"] == "generate acc 50.0%, acc* 50.0%"
    )
    assert rows["mc"]["last_session"] == "finished"
    assert rows["gen"]["kind"] == "generate" and rows["gen"]["accuracy"] is None
    assert (
        rows["dead"]["last_session"] == "failed" and rows["dead"]["ok"] == 0 and rows["dead"]["failed"] == 3
    )
    table = invoke(["runs", "list", "--run-dir-root", str(runs)]).output
    assert "KIND" in table and "ACCURACY" in table and "mc run (generate)" in table
    shown = invoke(["runs", "show", str(runs / "mc")]).output
    assert "kind:      mc run (generate)" in shown and "accuracy:  generate acc 50.0%" in shown
    dead = invoke(["runs", "show", str(runs / "dead")]).output
    assert "status:    failed" in dead and "finished" not in dead


@pytest.mark.slow
def test_unreadable_suite_file_is_one_line_and_makes_no_run_dir(tmp_path):
    """A suite file this user may not read (as root, the command runs as nobody to make it so)."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="cvalues-unreadable-"))
    try:
        base.chmod(0o777)
        suite = Path(prompts(base, 2))
        suite.chmod(0o000)
        as_nobody = (lambda: (os.setgid(65534), os.setuid(65534))) if os.geteuid() == 0 else None
        with OpenAIServer() as server:
            proc = subprocess.run(
                _cvalues(*gen(server, str(suite), base / "run")),
                capture_output=True, text=True, preexec_fn=as_nobody, timeout=60,
            )  # fmt: skip
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr and f"{suite}: cannot be read" in proc.stderr, proc.stderr
        assert not (base / "run").exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_manifest_of_another_shape_is_a_broken_line_not_a_traceback(tmp_path):
    suite, runs = prompts(tmp_path, 2), tmp_path / "runs"
    with OpenAIServer() as server:
        assert invoke(gen(server, suite, runs / "good")).exit_code == 0
        assert invoke(gen(server, suite, runs / "odd")).exit_code == 0
    path = runs / "odd" / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(model="openai:m1", suite=3, sessions={"not": "a list"})
    path.write_text(json.dumps(data), encoding="utf-8")
    listed = invoke(["runs", "list", "--run-dir-root", str(runs)])
    assert listed.exit_code == 0 and listed.exception is None, listed.output
    assert any("good" in line and "finished" in line for line in listed.output.splitlines())
    assert any(str(runs / "odd") in line and "broken" in line for line in listed.output.splitlines())
    assert str(path) in one_line_error(invoke(["runs", "show", str(runs / "odd")]))


def test_store_from_before_identities_is_adopted_only_by_its_own_configuration(tmp_path):
    import sqlite3

    suite, run_dir = prompts(tmp_path, 3), tmp_path / "run"
    with OpenAIServer() as server:
        assert invoke(gen(server, suite, run_dir)).exit_code == 0
        with sqlite3.connect(run_dir / "answers.sqlite") as db:  # as an older cvalues left it
            db.execute("DROP TABLE run_identity")
        line = one_line_error(invoke(gen(server, suite, run_dir, "--temperature", "0.5")))
        assert "settings.temperature: was 0.0, now 0.5" in line
        result = invoke(gen(server, suite, run_dir))  # the refusal left no identity behind
        assert result.exit_code == 0 and "3 from earlier sessions" in result.output
        (run_dir / "manifest.json").unlink()
        line = one_line_error(invoke(gen(server, suite, run_dir, "--temperature", "0.5")))
        assert "settings.temperature: was 0.0, now 0.5" in line  # the store's own identity now
