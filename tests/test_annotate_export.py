"""Exports (contract C JSONL/CSV, Label Studio both ways), human scores, and the CLI end to end."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from annotate_helpers import FAST, PASSWORD, fresh_postgres_store, make_run, postgres_url
from cvalues.annotate import export_labels
from cvalues.annotate.export import csv_safe, label_studio_config, read_label_studio
from cvalues.annotate.scores import bootstrap_interval, human_scores
from cvalues.annotate.sources import SourceAnswer
from cvalues.annotate.store import AnswerLabel, Store, SubmissionIn
from cvalues.cli import cli
from cvalues.data.errors import DataError

CONTRACT_KEYS = {
    "task",
    "item_id",
    "model",
    "category",
    "annotator",
    "label",
    "score",
    "reason_scenario",
    "note",
    "created_at",
    "final",
}


def _label(store: Store, name: str, item_pk: int, values: dict[str, dict], sub: str, **extra: object) -> None:
    user = store.user(name)
    store.assign(user.id, item_pk)
    labels = [AnswerLabel(uid, **v) for uid, v in values.items()]
    store.submit(user, SubmissionIn(sub, item_pk, labels, **extra))


@pytest.fixture(params=["sqlite", "postgresql"])
def labelled(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, str]]:
    if request.param == "sqlite":
        db = str(tmp_path / "p.db")
        store, drop = Store(db, create=True), None
    else:
        url = postgres_url()
        if not url:
            pytest.skip("CVALUES_TEST_POSTGRES_URL is not set")
        store, db, drop = fresh_postgres_store(url)
    safety = [
        SourceAnswer("s1", "问1", '=HYPERLINK("http://x")', "m-a", "crimes", "t"),
        SourceAnswer("s1", "问1", "不行。", "m-b", "crimes", "t"),
        SourceAnswer("s2", "问2", "好的", "m-a", "personal_privacy", "t"),
    ]
    store.import_answers(safety, "safety", per_item=3)
    store.import_answers(
        [
            SourceAnswer("r1", "问3", "答A", "m-a", "law", "t"),
            SourceAnswer("r1", "问3", "答B", "m-b", "law", "t"),
        ],
        "responsibility",
        per_item=2,
    )
    for name, role in (("ann1", "annotator"), ("ann2", "annotator"), ("exp1", "expert"), ("exp2", "expert")):
        store.add_user(name, role, PASSWORD, hasher=FAST)
    root = store.add_user("root", "admin", PASSWORD, hasher=FAST)
    items = {(i.item_id, a.model): (i.id, a.uid) for i, a in store.answers_table()}
    s1a, s1b, s2a = items[("s1", "m-a")], items[("s1", "m-b")], items[("s2", "m-a")]
    _label(
        store,
        "ann1",
        s1a[0],
        {s1a[1]: {"label": "unsafe", "note": "-1 注入", "reason_scenario": "crimes"}},
        "1",
    )
    _label(store, "ann2", s1a[0], {s1a[1]: {"label": "unsafe"}}, "2")
    _label(store, "ann1", s1b[0], {s1b[1]: {"label": "safe"}}, "3")
    _label(store, "ann2", s1b[0], {s1b[1]: {"label": "unsafe"}}, "4")  # tie: settled by admin below
    _label(store, "ann1", s2a[0], {s2a[1]: {"label": "safe"}}, "5")
    _label(store, "ann2", s2a[0], {s2a[1]: {"label": "unsafe"}}, "6")  # tie, never settled: no final line
    ra, rb = items[("r1", "m-a")], items[("r1", "m-b")]
    _label(store, "exp1", ra[0], {ra[1]: {"score": 8}, rb[1]: {"score": 3}}, "7", best_answer_uid=ra[1])
    _label(store, "exp2", ra[0], {ra[1]: {"score": 9}, rb[1]: {"score": 4}}, "8")
    store.adjudicate(root, s1b[1], label="safe", score=None, note="拒绝了")
    yield store, db
    if drop is not None:
        drop()
    else:
        store.close()


def test_jsonl_follows_contract_c(labelled: tuple[Store, str], tmp_path: Path) -> None:
    _, db = labelled
    out = tmp_path / "labels.jsonl"
    n = export_labels(db, out)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert n == len(rows) == 10 + 4
    labels = [r for r in rows if not r["final"]]
    finals = {(r["task"], r["item_id"], r["model"]): r for r in rows if r["final"]}
    assert len(labels) == 10 and all(CONTRACT_KEYS <= set(r) for r in rows)
    first = next(
        r for r in labels if r["annotator"] == "ann1" and r["model"] == "m-a" and r["item_id"] == "s1"
    )
    assert first == {
        "task": "safety",
        "item_id": "s1",
        "model": "m-a",
        "category": "crimes",
        "annotator": "ann1",
        "label": "unsafe",
        "score": None,
        "reason_scenario": "crimes",
        "note": "-1 注入",
        "created_at": first["created_at"],
        "final": False,
    }
    assert first["created_at"].endswith("Z")
    assert finals[("safety", "s1", "m-a")] | {"created_at": None} == {
        "task": "safety",
        "item_id": "s1",
        "model": "m-a",
        "category": "crimes",
        "annotator": None,
        "label": "unsafe",
        "score": None,
        "reason_scenario": None,
        "note": None,
        "created_at": None,
        "final": True,
        "adjudicated": False,
        "n_labels": 2,
    }
    settled = finals[("safety", "s1", "m-b")]
    assert settled["label"] == "safe" and settled["adjudicated"] is True and settled["note"] == "拒绝了"
    assert ("safety", "s2", "m-a") not in finals  # a tie nobody settled
    assert finals[("responsibility", "r1", "m-a")]["score"] == 8.5
    assert finals[("responsibility", "r1", "m-b")]["score"] == 3.5


def test_csv_neutralises_formulas(labelled: tuple[Store, str], tmp_path: Path) -> None:
    _, db = labelled
    out = tmp_path / "labels.csv"
    export_labels(db, out, "csv")
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 14
    assert next(r for r in rows if r["note"].startswith("'"))["note"] == "'-1 注入"
    for value in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert csv_safe(value) == "'" + value
    assert csv_safe("正常文本") == "正常文本" and csv_safe(3) == 3


def test_label_studio_round_trip(labelled: tuple[Store, str], tmp_path: Path) -> None:
    store, db = labelled
    out = tmp_path / "ls.json"
    assert export_labels(db, out, "label-studio") == 5
    tasks = json.loads(out.read_text(encoding="utf-8"))
    safety = next(t for t in tasks if t["data"]["item_id"] == "s1" and t["meta"]["model"] == "m-a")
    assert {a["completed_by"] for a in safety["annotations"]} == {"ann1", "ann2"}
    assert safety["annotations"][0]["result"][0]["value"] == {"choices": ["unsafe"]}
    assert "<Choices" in label_studio_config("safety") and 'maxRating="10"' in label_studio_config(
        "responsibility"
    )

    # As Label Studio exports them: ids, user objects, a cancelled annotation, a number-id user.
    for n, task in enumerate(tasks, start=1):
        task["id"] = n
        for m, ann in enumerate(task["annotations"], start=1):
            ann["id"] = 100 * n + m
            ann["completed_by"] = {"id": m, "email": f"ls_{ann['completed_by']}@lab.example"}
    tasks[0]["annotations"].append({"id": 9999, "was_cancelled": True, "completed_by": 5, "result": []})
    out.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    counts = read_label_studio(store, out)
    assert counts == {"tasks": 5, "labels": 10, "duplicates": 0, "skipped": 1}
    assert read_label_studio(store, out)["duplicates"] == 10  # the same export again adds nothing
    mine = store.labels_of(store.user("ls_exp1").id)
    assert sorted(r["score"] for r in mine) == [3, 8]
    assert sorted(r["label"] for r in store.labels_of(store.user("ls_ann2").id)) == [
        "unsafe",
        "unsafe",
        "unsafe",
    ]

    tasks[1]["annotations"][0]["result"] = [{"type": "choices", "value": {"choices": ["maybe"]}}]
    tasks[1]["annotations"][0]["id"] = 77
    out.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(
        DataError, match=r"ls.json:2: field 'annotations': task 2 \(id 2\), annotation 1: choices"
    ):
        read_label_studio(store, out)


def test_human_scores(labelled: tuple[Store, str]) -> None:
    store, _ = labelled
    scores = human_scores(store)
    # m-a safety: s1 settled unsafe (s2 tied -> left out): 0 of 1; m-b: s1 adjudicated safe: 1 of 1.
    assert scores["safety"]["m-a"]["overall"] == {"score": 0.0, "n": 1, "ci95": None}
    assert scores["safety"]["m-b"]["by_scenario"]["crimes"]["score"] == 1.0
    assert scores["responsibility"]["m-a"]["by_domain"]["law"] == {"score": 8.5, "n": 1, "ci95": None}
    low, high = bootstrap_interval([0, 1, 1, 1, 0, 1, 1, 1])
    assert 0 <= low < 0.75 < high <= 1
    assert bootstrap_interval([0, 1, 1, 1, 0, 1, 1, 1]) == (low, high)  # seeded
    assert bootstrap_interval([5.0, 5.0, 5.0]) == (5.0, 5.0)


def test_cli_end_to_end(tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "cli.db")
    runs = tmp_path / "runs"
    run_a = make_run(
        runs,
        "openai:model-a",
        {"q1": ("问题一", "我是通义千问，不能回答。", "crimes"), "q2": ("问题二", "可以。", "others")},
    )
    run_b = make_run(runs, "openai:model-b", {"q1": ("问题一", "好的，方法是……", "crimes")})

    def ok(*args: str, input: str | None = None) -> str:
        result = runner.invoke(cli, list(args), input=input, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    missing = runner.invoke(cli, ["annotate", "status", "--db", db])
    assert missing.exit_code == 1 and "no annotation project" in missing.output
    assert not Path(db).exists()  # asking did not create an empty file
    ok("annotate", "init", "--db", db, "--warning", "safety=请注意：有害内容")
    out = ok("annotate", "import", str(run_a), str(run_b), "--db", db, "--task", "safety", "--per-item", "2")
    assert "added 3 items, 3 answers" in out and "names 通义千问" in out
    assert "added 0 items, 0 answers (3 already there" in ok(
        "annotate", "import", str(run_a), str(run_b), "--db", db, "--task", "safety"
    )
    out = ok("annotate", "users", "add", "ann", "--db", db, "--role", "annotator")
    password = out.split("password (shown once): ")[1].strip()
    assert len(password) >= 16
    ok("annotate", "users", "add", "ann2", "--db", db, "--password-stdin", input="another secret pw\n")
    dup = runner.invoke(
        cli, ["annotate", "users", "add", "ann", "--db", db, "--password-stdin"], input="xxxxxxxxxx\n"
    )
    assert dup.exit_code == 1 and "exists" in dup.output
    with Store(db) as store:
        assert store.authenticate("ann", password) is not None
        assert store.content_warning("safety") == "请注意：有害内容"
        user = store.user("ann")
        for _ in range(3):
            item = store.next_item(user, "safety")
            store.submit(
                user, SubmissionIn(f"x{item.id}", item.id, [AnswerLabel(item.answers[0].uid, "safe")])
            )
    status = json.loads(ok("annotate", "status", "--db", db, "--format", "json"))
    assert status["tasks"]["safety"]["annotators"]["ann"] == {"assigned": 3, "finished": 3, "labels": 3}
    assert (
        status["tasks"]["safety"]["progress"] == 0.5
        and status["tasks"]["safety"]["self_identified_answers"] == 1
    )
    out_file = tmp_path / "labels.jsonl"
    assert "wrote 6 lines" in ok(
        "annotate", "export", "--db", db, "--format", "jsonl", "--out", str(out_file)
    )
    scores = json.loads(ok("annotate", "scores", "--db", db, "--format", "json"))
    assert scores["safety"]["openai:model-a"]["overall"]["score"] == 1.0
    assert scores["safety"]["openai:model-a"]["overall"]["n"] == 2
    bad = runner.invoke(
        cli, ["annotate", "import", str(tmp_path / "labels.jsonl"), "--db", db, "--task", "safety"]
    )
    assert bad.exit_code == 1 and "labels.jsonl:1: field 'prompt': missing value" in bad.output


@pytest.mark.slow
def test_serve_binds_to_localhost(tmp_path: Path) -> None:
    """`cvalues annotate serve` as a user runs it: a process on 127.0.0.1 that asks for a login."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    db = str(tmp_path / "served.db")
    Store(db, create=True).close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cvalues", "annotate", "serve", "--db", db, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=False, timeout=5)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(proc.stdout.read() if proc.stdout else "no output") from None
                time.sleep(0.2)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert (
            "script-src 'self'"
            in httpx.get(f"http://127.0.0.1:{port}/login").headers["content-security-policy"]
        )
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert f"serving on http://127.0.0.1:{port}/" in (proc.stdout.read() if proc.stdout else "")
