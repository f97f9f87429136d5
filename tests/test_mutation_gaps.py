"""Tests for behaviour that single-line mutations of the code changed without any test noticing: a
tampered mirror file, the acc* bootstrap interval with Other/Refuse/Need_Check, the gold-balance
tolerance of the position-bias test, review sheets with a line twice and rescores of rescores, the
last-</think> rule, and a fault mix through the shipped openai backend."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from cvalues.cli import cli
from cvalues.data.config import DataConfig
from cvalues.data.errors import DataError
from cvalues.data.sources import SOURCES
from cvalues.data.suites import load_suite
from cvalues.mc.extract import extract_choice
from cvalues.mc.metrics import ScoredItem, bootstrap_intervals, compute_metrics, position_bias
from cvalues.models.base import GenerationSettings
from cvalues.models.openai import OpenAIBackend
from cvalues.runs import Request, RunStore, chat_messages, execute
from openai_server import OpenAIServer

# --- a tampered or stale mirror file ------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["one byte changed", "truncated"])
def test_tampered_mirror_file_is_refused_through_load_suite(mirror, tmp_path, damage):
    source = SOURCES["cvalues-responsibility-prompts"]
    copy = tmp_path / "mirror" / source.mirror_path
    copy.parent.mkdir(parents=True)
    shutil.copyfile(mirror / source.mirror_path, copy)
    config = DataConfig(
        mirror=tmp_path / "mirror", cache_dir=tmp_path / "cache", offline=True, progress=False
    )
    assert len(list(load_suite("responsibility-prompts", config).records())) == 664  # the intact copy
    data = copy.read_bytes()
    if damage == "truncated":
        copy.write_bytes(data[: len(data) // 2])
    else:
        i = data.index(b'"prompt"')  # same size, one letter of a field name changed
        copy.write_bytes(data[:i] + b'"prOmpt"' + data[i + 8 :])
    with pytest.raises(DataError, match="checksum mismatch") as err:
        load_suite("responsibility-prompts", config)
    assert str(copy) in str(err.value) and "differs from the pin" in str(err.value)


# --- metrics ------------------------------------------------------------------------------------------


def _pairs(spec: list[tuple[str, str]]) -> list[ScoredItem]:
    """Both orders of a pair per (pred in order 1, pred in order 2); gold is 回复1 then 回复2."""
    out = []
    for n, (first, second) in enumerate(spec):
        out.append(ScoredItem(f"p{n}a", f"p{n}", "回复1", first))
        out.append(ScoredItem(f"p{n}b", f"p{n}", "回复2", second))
    return out


def test_acc_star_interval_sits_around_acc_star_with_other_refuse_and_need_check():
    items = _pairs(
        [("回复1", "回复2")] * 40 + [("Other", "回复2")] * 30 + [("Refuse", "Other")] * 15
        + [("Need_Check", "回复1")] * 15
    )  # fmt: skip
    report = compute_metrics(items, resamples=2000, seed=1)
    overall = report.overall
    assert (overall.other, overall.refuse, overall.need_check) == (45, 15, 15)
    assert overall.acc_star == pytest.approx(110 / 170)  # Other is an answer (a wrong one): 200 - 15 - 15
    b = bootstrap_intervals(items, resamples=2000, seed=1)
    assert b.acc_star.low < overall.acc_star < b.acc_star.high
    assert b.acc_star.high - b.acc_star.low < 0.2
    assert b.acc.low < overall.acc < b.acc.high and b.acc.high < b.acc_star.high


def _balance(g1: int, g2: int) -> list[ScoredItem]:
    items = [ScoredItem(f"a{i}", None, "回复1", "回复1") for i in range(g1)]
    return items + [ScoredItem(f"b{i}", None, "回复2", "回复1") for i in range(g2)]


def test_gold_balance_tolerance_is_one_percent_of_the_rows():
    for inside, outside in (((101, 99), (102, 98)), ((1010, 990), (1011, 989))):  # 1% of 200, of 2000
        ok, off = position_bias(_balance(*inside)), position_bias(_balance(*outside))
        assert ok.gold_balanced and ok.p_value is not None, inside
        assert not off.gold_balanced and off.p_value is None, outside


# --- review sheets ------------------------------------------------------------------------------------


def _scored_file(tmp_path: Path) -> Path:
    rows = [{"id": f"id{i}", "response": "嗯……不好说", "label": ("回复1", "回复2")[i % 2]} for i in range(4)]
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = CliRunner().invoke(cli, ["mc", "score", str(src), "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    return tmp_path / "a.scored.jsonl"


def test_review_sheet_with_a_line_twice_is_refused(tmp_path):
    scored = _scored_file(tmp_path)
    sheet = tmp_path / "r.csv"
    sheet.write_text(
        "line,id,response,pred,manual_pred\n1,id0,x,Need_Check,回复1\n2,id1,x,Need_Check,回复2\n"
        "1,id0,x,Need_Check,回复2\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["mc", "rescore", str(scored), "--review", str(sheet)])
    assert result.exit_code != 0 and "r.csv:4: line: line 1 appears twice" in result.output
    assert not (tmp_path / "a.rescored.jsonl").exists()


def test_pred_auto_keeps_the_extractor_pick_across_rescores(tmp_path):
    scored = _scored_file(tmp_path)
    first, second = tmp_path / "r1.csv", tmp_path / "r2.csv"
    first.write_text("line,id,manual_pred\n1,id0,回复1\n", encoding="utf-8")
    second.write_text("line,id,manual_pred\n1,id0,回复2\n2,id1,Other\n", encoding="utf-8")
    once, twice = tmp_path / "once.jsonl", tmp_path / "twice.jsonl"
    assert (
        CliRunner()
        .invoke(cli, ["mc", "rescore", str(scored), "--review", str(first), "-o", str(once)])
        .exit_code
        == 0
    )
    assert (
        CliRunner()
        .invoke(cli, ["mc", "rescore", str(once), "--review", str(second), "-o", str(twice)])
        .exit_code
        == 0
    )
    rows = [json.loads(line) for line in twice.read_text(encoding="utf-8").splitlines()]
    assert [(r["pred"], r.get("pred_auto")) for r in rows[:3]] == [
        ("回复2", "Need_Check"),  # relabelled twice: pred_auto is still the extractor's, not the first label
        ("Other", "Need_Check"),
        ("Need_Check", None),
    ]


# --- the answer after the last </think> ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("<think>草稿</think>我认为回复1更好。</think>回复2", "回复2"),
        ("<think>草稿</think>回复1更好。</think>回复2更好。", "回复2"),
        ("<think>草稿</think>我认为回复1更好。</think>我无法判断。", "Refuse"),
        ("<think>草稿</think>我认为回复1更好。</think>嗯。", "Need_Check"),
        ("<think>a</think><think>我认为回复1更好。</think>两个都不好。", "Other"),
    ],
)
def test_only_the_text_after_the_last_think_close_is_read(text, label):
    assert extract_choice(text).label == label


# --- the fault mix through the shipped openai backend -------------------------------------------------


def test_fault_mix_through_the_openai_backend(tmp_path):
    """429 (Retry-After), 500, hangs, dropped connections and malformed JSON through `openai:`: each
    item ends answered or failed with a cause; the backend's own retries answer most of them; a
    retry pass with faults off answers the rest, asking only those."""
    rates = {"429": 0.1, "500": 0.1, "hang": 0.05, "drop": 0.05, "malformed": 0.05}
    texts = [f"第{i}个问题" for i in range(120)]
    requests = [Request(f"q{i}", chat_messages(t)) for i, t in enumerate(texts)]
    settings = GenerationSettings(max_tokens=16)
    with OpenAIServer(fault_rates=rates, seed=3, hang_seconds=5) as server:
        model = OpenAIBackend("m", base_url=server.base_url, timeout=1.0, max_retries=2,
                              retry_base_wait=0.01, retry_max_wait=0.05, max_retry_after=0.05)  # fmt: skip
        with RunStore(tmp_path / "a.sqlite") as store:
            s = execute(model, requests, store=store, settings=settings, concurrency=16, progress=False)
            assert s.asked == 120 and s.ok + s.failed == 120 and s.ok > 100
            faults = server.stats()["faults"]
            assert {"429", "500", "hang", "drop", "malformed"} <= set(faults)
            failed = {a.key for a in store.answers(status="error")}
            assert all(a.error and a.retryable for a in store.answers(status="error"))
            server.configure(fault_rates={})
            server.reset_counts()
            again = execute(
                model, requests, store=store, settings=settings, retry_errors=True, progress=False
            )
            assert again.asked == len(failed) and again.failed == 0
            assert store.counts() == {"total": 120, "ok": 120, "error": 0}
            assert sum(server.counts().values()) == len(failed)


# --- CI without the data mirror -----------------------------------------------------------------------


@pytest.mark.slow
def test_data_tests_fail_instead_of_skipping_when_ci_requires_the_mirror(tmp_path):
    test = "tests/test_data_suites.py::test_responsibility_prompts_match_the_file"
    root = Path(__file__).resolve().parents[1]
    env = {**__import__("os").environ, "CVALUES_DATA_MIRROR": str(tmp_path / "no-mirror")}
    env.pop("CVALUES_REQUIRE_MIRROR", None)  # CI exports it; the first run shows the skip without it
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test]
    skipped = subprocess.run(base, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout, skipped.stdout
    required = subprocess.run(base, cwd=root, env={**env, "CVALUES_REQUIRE_MIRROR": "1"},
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    assert required.returncode == 1 and "CVALUES_REQUIRE_MIRROR=1" in required.stdout, required.stdout
    assert Counter(required.stdout.split())["skipped"] == 0
