"""The answer store: round trips, never overwrites an answer, survives SIGKILL, exports atomically."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from cvalues.models.base import CandidateLogprob, ChatMessage
from cvalues.runs.store import Answer, RunStore, utc_now


def answer(key: str, status: str = "ok", **kw) -> Answer:
    defaults = {
        "item_id": f"item-{key}",
        "kind": "generate",
        "model": "fake:m",
        "messages": (ChatMessage("system", "系统"), ChatMessage("user", "全角，问题？")),
        "started_at": utc_now(),
        "finished_at": utc_now(),
    }
    if status == "ok":
        defaults["text"] = "回复１，“引号”"
    else:
        defaults.update(error_type="ModelError", error="HTTP 500", retryable=True)
    return Answer(key=key, status=status, **{**defaults, **kw})


def test_round_trip_keeps_every_field(tmp_path):
    a = answer(
        "k1",
        finish_reason="length",
        prompt_tokens=5,
        completion_tokens=7,
        latency_s=0.25,
        settings={"temperature": 0.0},
        meta={"category": "law"},
    )
    lp = answer(
        "k2",
        kind="logprobs",
        text=None,
        candidates=("回复1", "回复2"),
        logprobs=[-0.1, CandidateLogprob(-3.5, upper_bound=True, given_prefix="回复")],
    )
    with RunStore(tmp_path / "s.sqlite") as store:
        store.put(a)
        store.put(lp)
        assert store.get("k1") == a
        got = store.get("k2")
        assert got.logprobs == [-0.1, -3.5] and got.candidates == ("回复1", "回复2")
        assert got.logprobs[1].upper_bound and got.logprobs[1].given_prefix == "回复"
        assert store.get("missing") is None
        assert set(store.get_many(["k1", "k2", "nope"])) == {"k1", "k2"}
        assert store.statuses(["k1", "nope"]) == {"k1": "ok"}
        assert [x.key for x in store.answers(kind="logprobs")] == ["k2"]
        assert store.count(status="ok") == 2


def test_ok_is_never_overwritten_errors_are_replaced_and_attempts_counted(tmp_path):
    with RunStore(tmp_path / "s.sqlite") as store:
        store.put(answer("k", "error"))
        store.put(answer("k", "error", error="HTTP 429"))
        assert store.get("k").attempts == 2 and store.get("k").error == "HTTP 429"
        store.put(answer("k", "ok"))
        ok = store.get("k")
        assert ok.ok and ok.attempts == 3 and ok.error is None and ok.text
        store.put(answer("k", "error"))
        store.put(answer("k", "ok", text="另一个"))
        assert store.get("k") == ok
        assert store.counts() == {"total": 1, "ok": 1, "error": 0}


def test_error_causes_and_many_keys(tmp_path):
    with RunStore(tmp_path / "s.sqlite") as store:
        store.put_many([answer(f"e{i}", "error", error="HTTP 500" if i % 3 else "timeout") for i in range(9)])
        store.put_many([answer(f"o{i}") for i in range(1200)])
        assert store.error_causes() == {"ModelError: HTTP 500": 6, "ModelError: timeout": 3}
        keys = [f"o{i}" for i in range(1200)]
        assert len(store.get_many(keys)) == 1200 and len(store.statuses(keys)) == 1200


def test_readonly_store(tmp_path):
    with pytest.raises(FileNotFoundError):
        RunStore(tmp_path / "none.sqlite", readonly=True)
    with RunStore(tmp_path / "s.sqlite") as store:
        store.put(answer("k"))
    with RunStore(tmp_path / "s.sqlite", readonly=True) as ro:
        assert ro.count() == 1
        with pytest.raises(Exception, match="readonly"):
            ro.put(answer("k2"))


def test_export_jsonl_and_csv(tmp_path):
    with RunStore(tmp_path / "s.sqlite") as store:
        store.put_many([answer("a"), answer("b", "error")])
        assert store.export(tmp_path / "out.jsonl") == 2
        rows = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
        assert rows[0]["messages"][1] == {"role": "user", "content": "全角，问题？"}
        assert rows[1]["error"] == "HTTP 500"
        assert store.export(tmp_path / "ok.csv", format="csv", status="ok") == 1
        text = (tmp_path / "ok.csv").read_text(encoding="utf-8-sig")
        assert text.startswith("key,item_id") and "回复１，“引号”" in text
        with pytest.raises(ValueError, match="format"):
            store.export(tmp_path / "x.xml", format="xml")
        assert store.export(tmp_path / "none.csv", format="csv", status="error") == 1
    # a failing export leaves the old file untouched and no temporary file behind
    target = tmp_path / "keep.jsonl"
    target.write_text("old\n", encoding="utf-8")

    class Boom(RunStore):
        def answers(self, **kw):
            yield from super().answers(**kw)
            raise OSError("disk full")

    with Boom(tmp_path / "s.sqlite") as store, pytest.raises(OSError, match="disk full"):
        store.export(target)
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".keep")) == []


def test_committed_answers_survive_sigkill(tmp_path):
    """A writer killed with SIGKILL right after committing loses nothing committed."""
    path = tmp_path / "s.sqlite"
    script = textwrap.dedent(f"""
        import os, signal, sys
        from cvalues.models.base import ChatMessage
        from cvalues.runs.store import Answer, RunStore, utc_now
        store = RunStore({str(path)!r})
        for i in range(200):
            store.put(Answer(key=f"k{{i}}", item_id=str(i), kind="generate", model="m", status="ok",
                             messages=(ChatMessage("user", "问"),), started_at=utc_now(),
                             finished_at=utc_now(), text="答" * 100))
        print("committed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL and "committed" in proc.stdout
    assert os.path.exists(str(path) + "-wal")  # the answers live in the WAL, not yet checkpointed
    with RunStore(path) as store:
        assert store.counts() == {"total": 200, "ok": 200, "error": 0}
        assert store.get("k199").text == "答" * 100
