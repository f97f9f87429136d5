"""`cvalues report` end to end over real run directories (mc run, generate, judge dirs, annotations).

The runs are made by the real commands against local OpenAI-compatible servers (tests/report_fixtures.py);
every figure the report shows is checked against a value computed here directly from the stores,
the verdicts and the labels, and the HTML is opened in headless chromium.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cvalues.cli import cli
from cvalues.data.schema import MCItem
from cvalues.data.suites import load_suite
from cvalues.mc.extract import extract_choice
from cvalues.report import stats
from cvalues.runs import RunStore
from report_fixtures import HOSTILE, build_runs

MIRROR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not MIRROR.is_dir(), reason=f"data mirror {MIRROR} not present"),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("report")
    env = {
        "CVALUES_DATA_MIRROR": str(MIRROR),
        "CVALUES_OFFLINE": "1",
        "CVALUES_CACHE_DIR": str(root / "cache"),
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        # in a thread of its own: the commands run asyncio loops, and when the browser fixture (session
        # scope, set up first) is active, Playwright's loop is running in this thread
        with ThreadPoolExecutor(1) as pool:
            runs = pool.submit(build_runs, root).result()
        result = CliRunner().invoke(
            cli,
            ["report", str(runs.out), "--out", str(root / "report"), "--bootstrap", "300"],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        doc = json.loads((root / "report" / "report.json").read_text(encoding="utf-8"))
        safety_gold = {i.id: i for i in load_suite("safety-mc").records() if isinstance(i, MCItem)}
        resp_gold = {i.id: i for i in load_suite(str(runs.resp_file)).records() if isinstance(i, MCItem)}
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {
        "root": root,
        "out": runs.out,
        "report": root / "report",
        "doc": doc,
        "output": result.output,
        "gold": {"safety": safety_gold, "responsibility": resp_gold},
    }


def leaderboard(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    table = next(t for t in doc["tables"] if t["id"] == "leaderboard")
    return {row["model"]: row for row in table["rows"]}


def mc_from_store(run_dir: Path, gold: dict[str, MCItem]) -> dict[str, Any]:
    """acc, acc*, refusal and Need_Check rates and pair-consistent accuracy read straight from the store."""
    with RunStore(run_dir / "answers.sqlite", readonly=True) as store:
        answers = [a for a in store.answers(status="ok", kind="generate")]
    preds = {a.item_id: extract_choice(a.text or "").label for a in answers}
    right = {i: p == gold[i].gold for i, p in preds.items()}
    refuse = sum(p == "Refuse" for p in preds.values())
    need = sum(p == "Need_Check" for p in preds.values())
    pairs: dict[str, list[bool]] = defaultdict(list)
    for i, ok in right.items():
        pairs[gold[i].pair_id].append(ok)
    return {
        "n": len(preds),
        "acc": sum(right.values()) / len(preds),
        "acc_star": sum(right.values()) / (len(preds) - refuse - need),
        "refuse_rate": refuse / len(preds),
        "need_check_rate": need / len(preds),
        "pair_acc": sum(all(v) for v in pairs.values()) / len(pairs),
        "pairs": {k: all(v) for k, v in pairs.items()},
    }


def test_leaderboard_mc_figures_equal_the_stores(built: dict[str, Any]) -> None:
    rows = leaderboard(built["doc"])
    assert set(rows) == {"openai:model-a", "Model B"}  # the model_name option names model B
    for name, folder in (("openai:model-a", "a"), ("Model B", "b")):
        for level in ("safety", "responsibility"):
            direct = mc_from_store(built["out"] / folder / f"mc-{level}", built["gold"][level])
            for key in ("acc", "acc_star", "refuse_rate", "need_check_rate", "pair_acc"):
                cell = rows[name][f"{level}_mc_{key}"]
                assert cell["value"] == pytest.approx(direct[key]), (name, level, key)
                if cell["low"] is not None:
                    assert cell["low"] <= cell["value"] + 1e-9 and cell["value"] <= cell["high"] + 1e-9
            assert rows[name][f"{level}_mc_acc"]["n"] == direct["n"]
            assert rows[name][f"{level}_mc_pair_acc"]["n"] == len(direct["pairs"])
    # model A always says 回复1: exactly half right, never both orders of a pair
    assert rows["openai:model-a"]["safety_mc_acc"]["value"] == 0.5
    assert rows["openai:model-a"]["safety_mc_pair_acc"]["value"] == 0.0
    assert rows["Model B"]["safety_mc_refuse_rate"]["value"] > 0  # it refuses some


def test_every_mode_is_listed_and_generate_leads(built: dict[str, Any]) -> None:
    table = next(t for t in built["doc"]["tables"] if t["id"] == "mc_runs")
    rows = {(r["model"], r["suite"], r["mode"]): r for r in table["rows"]}
    assert set(rows) == {
        (m, s, "generate") for m in ("Model B", "openai:model-a") for s in ("safety-mc", "lab_mc.jsonl")
    } | {("Model B", "safety-mc", "logprob")}
    path = built["out"] / "b" / "mc-safety" / "mc-logprob-predictions.jsonl"
    preds = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    logprob = rows[("Model B", "safety-mc", "logprob")]["acc"]
    assert logprob["n"] == len(preds)
    assert logprob["value"] == pytest.approx(sum(p["pred"] == p["label"] for p in preds) / len(preds))
    evidence = built["doc"]["evidence"][logprob["evidence"]["set"]]
    assert all(
        "回复1 " in row[-1] for row in evidence["rows"]
    )  # the label log-probabilities behind each pick
    lead = leaderboard(built["doc"])["Model B"]["safety_mc_acc"]
    assert lead == rows[("Model B", "safety-mc", "generate")]["acc"]


def test_scores_are_human_where_annotated_else_the_judges(built: dict[str, Any]) -> None:
    rows = leaderboard(built["doc"])
    out = built["out"]
    # model B's safety answers were annotated: the final lines decide, ties left out
    finals = [json.loads(x) for x in (out / "annotations.jsonl").read_text(encoding="utf-8").splitlines()]
    finals = [x for x in finals if x["final"]]
    cell = rows["Model B"]["safety_score"]
    assert cell["source"] == "human"
    assert cell["n"] == len(finals)
    assert cell["value"] == pytest.approx(sum(x["label"] == "safe" for x in finals) / len(finals))
    # model A's safety score is its judge's, marked as such and uncalibrated (no calibration recorded)
    verdicts = [
        json.loads(x)
        for x in (out / "a" / "gen-safety" / "judge" / "cvalues-safety" / "verdicts.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    judged = [v for v in verdicts if not v["unjudged"]]
    cell = rows["openai:model-a"]["safety_score"]
    assert cell["source"] == "judge" and cell["calibration"] == "uncalibrated"
    assert cell["unjudged"] == len(verdicts) - len(judged) > 0
    assert cell["n"] == len(judged)
    assert cell["value"] == pytest.approx(sum(v["label"] == "safe" for v in judged) / len(judged))
    # model B's judge is not used for its safety score (people labelled it), but shown in the judges table
    path = out / "b" / "gen-safety" / "judge" / "cvalues-safety" / "verdicts.jsonl"
    b_verdicts = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    b_judged = [v for v in b_verdicts if not v["unjudged"]]
    judges = next(t for t in built["doc"]["tables"] if t["id"] == "judges")
    row = next(r for r in judges["rows"] if r["model"] == "Model B" and r["level"] == "safety")
    assert row["score"]["n"] == row["judged"] == len(b_judged)
    assert row["score"]["value"] == pytest.approx(sum(v["label"] == "safe" for v in b_judged) / len(b_judged))
    # responsibility: the judge's mean score over judged answers
    for name, folder in (("openai:model-a", "a"), ("Model B", "b")):
        path = out / folder / "gen-responsibility" / "judge" / "cvalues-responsibility" / "verdicts.jsonl"
        scores = [json.loads(x)["score"] for x in path.read_text(encoding="utf-8").splitlines()]
        scores = [s for s in scores if s is not None]
        cell = rows[name]["responsibility_score"]
        assert cell["value"] == pytest.approx(sum(scores) / len(scores)) and cell["n"] == len(scores)
        assert cell["fmt"] == "score"


def test_breakdowns_add_up_to_the_leaderboard(built: dict[str, Any]) -> None:
    doc = built["doc"]
    tables = {t["id"]: t for t in doc["tables"]}
    rows = leaderboard(doc)
    for table_id, key in (
        ("scenario_mc", "safety_mc_acc"),
        ("domain_mc", "responsibility_mc_acc"),
        ("scenario_score", "safety_score"),
    ):
        table = tables[table_id]
        for col in table["columns"][1:]:
            cells = [r[col["key"]] for r in table["rows"] if col["key"] in r]
            n = sum(c["n"] for c in cells)
            total = sum(c["value"] * c["n"] for c in cells)
            lead = rows[col["label"]][key]
            assert n == lead["n"] and total / n == pytest.approx(lead["value"]), (table_id, col)
    difficulty = tables["difficulty_mc"]
    assert {r["key"] for r in difficulty["rows"]} >= {"responsibility: easy", "responsibility: hard"}
    heatmap = next(h for h in doc["heatmaps"] if h["table"] == "scenario_score")
    assert sorted(heatmap["models"]) == ["Model B", "openai:model-a"]
    assert len(heatmap["values"]) == 2 and len(heatmap["values"][0]) == len(heatmap["categories"])


def test_paired_comparisons_use_mcnemar_and_holm(built: dict[str, Any]) -> None:
    doc = built["doc"]
    table = next(t for t in doc["tables"] if t["id"] == "comparisons")
    rows = {r["metric"]: r for r in table["rows"]}
    a = mc_from_store(built["out"] / "a" / "mc-safety", built["gold"]["safety"])["pairs"]
    b = mc_from_store(built["out"] / "b" / "mc-safety", built["gold"]["safety"])["pairs"]
    shared = sorted(set(a) & set(b))
    expected = stats.mcnemar_exact([a[k] for k in shared], [b[k] for k in shared])
    row = rows["safety MC pair acc"]
    assert row["n"] == len(shared) and row["p"] == pytest.approx(expected.p_value)
    assert "safety score (human)" not in rows  # human (B) and judge (A) scores are not compared
    assert "responsibility score (judge)" in rows
    assert [r["p_holm"] for r in table["rows"]] == pytest.approx(stats.holm([r["p"] for r in table["rows"]]))
    agreement = next(t for t in doc["tables"] if t["id"] == "rank_agreement")
    assert {r["level"] for r in agreement["rows"]} == {"safety", "responsibility"}
    assert all(r["models"] == 2 for r in agreement["rows"])


def test_every_run_and_its_manifest_is_in_the_report(built: dict[str, Any]) -> None:
    runs = built["doc"]["runs"]
    kinds = defaultdict(int)
    for run in runs:
        kinds[run["kind"]] += 1
        on_disk = json.loads((Path(run["path"]) / "manifest.json").read_text(encoding="utf-8"))
        assert run["manifest"] == on_disk
    assert dict(kinds) == {"mc": 4, "generation": 4, "judge": 4, "options": 1}
    assert built["doc"]["annotation_files"] == [str(built["out"] / "annotations.jsonl")]
    # every generation run is listed with its answers counted from the store
    table = next(t for t in built["doc"]["tables"] if t["id"] == "generation_runs")
    assert len(table["rows"]) == 4
    for row in table["rows"]:
        with RunStore(Path(row["run"]) / "answers.sqlite", readonly=True) as store:
            counts = store.counts()
        assert (row["answered"]["value"], row["answered"]["n"]) == (counts["ok"], counts["total"])
        assert row["scored_by"] == (
            "human" if row["model"] == "Model B" and row["level"] == "safety" else "judge"
        )


def test_option_suite_runs_are_listed_with_their_answers(built: dict[str, Any]) -> None:
    doc = built["doc"]
    table = next(t for t in doc["tables"] if t["id"] == "option_runs")
    (row,) = table["rows"]
    path = built["out"] / "a" / "options-safetybench" / "options-generate-predictions.jsonl"
    preds = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert row["model"] == "openai:model-a" and row["suite"] == "safetybench-zh"
    assert row["accuracy"]["n"] == len(preds) == 8
    assert row["accuracy"]["value"] == pytest.approx(sum(p["pred"] == p["label"] for p in preds) / 8)
    assert len(doc["evidence"][row["accuracy"]["evidence"]["set"]]["rows"]) == 8


def test_markdown_and_csv_are_views_of_the_json(built: dict[str, Any]) -> None:
    report, doc = built["report"], built["doc"]
    with (report / "tables" / "leaderboard.csv").open(encoding="utf-8-sig", newline="") as fh:
        csv_rows = {r["model"]: r for r in csv.DictReader(fh)}
    for name, row in leaderboard(doc).items():
        for key, cell in row.items():
            if isinstance(cell, dict):
                assert float(csv_rows[name][key]) == pytest.approx(cell["value"])
                assert int(csv_rows[name][f"{key}_n"]) == cell["n"]
    md = (report / "report.md").read_text(encoding="utf-8")
    acc = leaderboard(doc)["Model B"]["safety_mc_acc"]
    assert f"[{100 * acc['value']:.1f}](answers/{acc['evidence']['set']}.csv)" in md
    # each answers CSV holds the rows of its evidence set, prompts written out
    ev_id = acc["evidence"]["set"]
    with (report / "answers" / f"{ev_id}.csv").open(encoding="utf-8-sig", newline="") as fh:
        answers = list(csv.DictReader(fh))
    assert len(answers) == acc["n"] and all("哪个回复更好" in r["prompt"] for r in answers)
    for name in ("report.html", "report.md", "report.json"):
        assert (report / name).stat().st_size > 0
    assert list((report / "plots").glob("*.svg"))


def test_html_is_self_contained_and_escapes_answers(built: dict[str, Any]) -> None:
    html = (built["report"] / "report.html").read_text(encoding="utf-8")
    assert HOSTILE not in html  # the answer is in the page only as escaped JSON text
    assert "<script src" not in html and "<link" not in html and "http://" not in html.split("<body>")[0]
    assert html.count("<script") == 2  # the data block and the report's own script
    assert "Content-Security-Policy" in html


def test_html_in_chromium(built: dict[str, Any], page: Any) -> None:
    page.goto((built["report"] / "report.html").as_uri())
    page.wait_for_selector("#table-leaderboard")
    assert page.locator("#table-leaderboard").is_visible()
    assert page.locator("#table-leaderboard tbody tr").count() == 2
    page.set_viewport_size({"width": 1920, "height": 1000})  # the whole leaderboard in one picture
    shot = built["root"] / "report-leaderboard.png"
    page.screenshot(path=str(shot), clip={"x": 0, "y": 0, "width": 1920, "height": 560})
    if os.environ.get("CVALUES_UPDATE_SCREENSHOTS") == "1":  # refresh the picture in docs/report.md
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_IMG / "report-leaderboard.png")
    # sorting: click the Safety MC acc heading twice, the order follows the values
    heading = page.locator("#table-leaderboard th", has_text="Safety MC acc").first
    heading.click()
    first = page.locator("#table-leaderboard tbody tr td").first.inner_text()
    heading.click()
    assert page.locator("#table-leaderboard tbody tr td").first.inner_text() != first
    # the number behind model A's safety score opens its judged answers; the <script> answer is text
    row = page.locator("#table-leaderboard tbody tr", has_text="openai:model-a")
    row.locator("td.src-judge a.num").first.click()
    page.wait_for_selector("#answer-table tbody tr")
    assert "<script>window.__pwned = 1</script>" in page.locator("#answer-table").inner_text()
    assert page.evaluate("window.__pwned") is None
    # a category cell opens only that category's rows
    td = page.locator("#table-scenario_mc td.fig").first
    n = td.locator(".n").inner_text().removeprefix("n=")
    td.locator("a.num").click()
    assert "category =" in page.locator("#answer-filter").inner_text()
    assert page.locator("#answer-count").inner_text() == f"{n} rows"
    assert page.locator("#answer-table tbody tr").count() == int(n)
    # the picture for the docs shows the harmless synthetic responsibility items, never the safety data
    page.locator("#table-domain_mc a.num").first.click()
    answers_shot = built["root"] / "report-answers.png"
    page.locator("#answers").screenshot(path=str(answers_shot))
    if os.environ.get("CVALUES_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(answers_shot, DOCS_IMG / "report-answers.png")
    assert page.console_errors == []


def test_bad_verdict_line_names_file_line_and_field(built: dict[str, Any], tmp_path: Path) -> None:
    copy = tmp_path / "a"
    shutil.copytree(built["out"] / "a" / "gen-safety", copy)
    verdicts = copy / "judge" / "cvalues-safety" / "verdicts.jsonl"
    lines = verdicts.read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[1])
    bad["label"] = "maybe"
    lines[1] = json.dumps(bad, ensure_ascii=False)
    verdicts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["report", str(copy), "--out", str(tmp_path / "r")])
    assert out.exit_code == 1
    assert f"{verdicts}:2: field 'label'" in out.output and "maybe" in out.output
    assert not (tmp_path / "r").exists()  # nothing half-written
