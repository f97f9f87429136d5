"""Calibration and agreement: figures against hand-computed values and scikit-learn/scipy, label files,
and `judge calibrate` / `judge agreement` end to end against a local server playing the judge."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from cvalues.cli import cli
from cvalues.judge import find_calibration, run_judge, stats
from cvalues.judge.calibration import agreement, read_labels
from cvalues.models.registry import load_model
from judge_helpers import judge_responder, make_generation_run
from openai_server import OpenAIServer

sklearn_metrics = pytest.importorskip("sklearn.metrics")
scipy_stats = pytest.importorskip("scipy.stats")

U, S = "unsafe", "safe"


def test_label_metrics_by_hand():
    true = [U, U, U, S, S, S, S, S]
    judge = [U, U, S, U, S, S, S, S]
    out = stats.label_agreement(true, judge, resamples=0)
    # tp=2 fn=1 fp=1 tn=4; p_o = 6/8; p_e = (3/8)(3/8) + (5/8)(5/8) = 34/64; kappa = (48-34)/(64-34) = 7/15
    assert out["n"] == 8
    assert out["confusion"]["matrix"] == [[2, 1], [1, 4]]
    assert out["unsafe_recall"]["value"] == pytest.approx(2 / 3)
    assert out["unsafe_precision"]["value"] == pytest.approx(2 / 3)
    assert out["unsafe_f1"]["value"] == pytest.approx(2 / 3)
    assert out["accuracy"]["value"] == pytest.approx(0.75)
    assert out["kappa"]["value"] == pytest.approx(7 / 15)
    assert out["judged_safe_rate"]["value"] == pytest.approx(5 / 8)
    assert out["true_safe_rate"]["value"] == pytest.approx(5 / 8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_label_metrics_match_sklearn(seed):
    import random

    rng = random.Random(seed)
    true = [rng.choice([U, S]) for _ in range(200)]
    judge = [t if rng.random() < 0.8 else rng.choice([U, S]) for t in true]
    out = stats.label_agreement(true, judge, resamples=300, seed=seed)
    m = sklearn_metrics
    assert out["kappa"]["value"] == pytest.approx(m.cohen_kappa_score(true, judge))
    assert out["unsafe_recall"]["value"] == pytest.approx(m.recall_score(true, judge, pos_label=U))
    assert out["unsafe_precision"]["value"] == pytest.approx(m.precision_score(true, judge, pos_label=U))
    assert out["unsafe_f1"]["value"] == pytest.approx(m.f1_score(true, judge, pos_label=U))
    assert out["accuracy"]["value"] == pytest.approx(m.accuracy_score(true, judge))
    assert out["confusion"]["matrix"] == m.confusion_matrix(true, judge, labels=[U, S]).tolist()
    for name in ("kappa", "unsafe_recall", "unsafe_f1", "accuracy"):
        f = out[name]
        assert f["low"] <= f["value"] <= f["high"] and f["high"] - f["low"] < 0.5
    assert stats.label_agreement(true, judge, resamples=300, seed=seed) == out  # seeded


def test_undefined_metrics_are_none():
    out = stats.label_agreement([S, S], [S, S], resamples=50)
    assert out["unsafe_recall"]["value"] is None and out["unsafe_f1"]["value"] is None
    assert out["kappa"]["value"] is None and out["accuracy"]["value"] == 1.0
    empty = stats.label_agreement([], [], resamples=50)
    assert empty["n"] == 0 and empty["kappa"] == {"value": None, "low": None, "high": None}


def test_score_agreement_by_hand_and_against_scipy_sklearn():
    human = [8, 3, 6, 9, 2, 7, 5, 10, 4, 6]
    judge = [7, 4, 6, 9, 5, 8, 5, 9, 2, 7]
    out = stats.score_agreement(human, judge, resamples=300)
    assert out["n"] == 10
    assert out["mae"]["value"] == pytest.approx(
        sum(abs(a - b) for a, b in zip(human, judge, strict=False)) / 10
    )  # 1.0
    assert out["mae"]["value"] == pytest.approx(1.0)
    assert out["spearman"]["value"] == pytest.approx(scipy_stats.spearmanr(human, judge).statistic)
    assert out["pearson"]["value"] == pytest.approx(scipy_stats.pearsonr(human, judge).statistic)
    qwk = sklearn_metrics.cohen_kappa_score(human, judge, weights="quadratic")
    assert out["qwk"]["value"] == pytest.approx(qwk)
    assert out["spearman"]["low"] <= out["spearman"]["value"] <= out["spearman"]["high"]


def test_qwk_by_hand_and_rounding():
    # two raters, scores 1 and 2 only: O = [[1,1],[0,2]] over levels 1..10; by hand:
    # weights (i-j)^2: only cells (1,2),(2,1) count, w=1. sum(wO) = 1; E = row x col / n:
    # rows (2,2), cols (1,3): E(1,2) = 2*3/4 = 1.5, E(2,1) = 2*1/4 = 0.5 -> sum(wE) = 2; qwk = 1 - 1/2
    assert stats.quadratic_weighted_kappa([1, 1, 2, 2], [1, 2, 2, 2]) == pytest.approx(0.5)
    assert stats.quadratic_weighted_kappa([5, 5], [5, 5]) is None
    assert [stats.round_score(x) for x in (7.5, 7.49, 0.2, 10.6)] == [8, 7, 1, 10]


def test_safety_and_responsibility_scores():
    out = stats.safety_score([S, S, U, S], [S, S, S, S], resamples=200)
    assert out["n"] == 4 and out["safe_rate"]["value"] == 0.75 and out["safe_rate_loose"]["value"] == 1.0
    r = stats.responsibility_score([8, 4, 6, 2], resamples=200)
    assert r["mean_score"]["value"] == 5.0 and r["below_5_rate"]["value"] == 0.5
    assert 2 <= r["mean_score"]["low"] <= 5 <= r["mean_score"]["high"] <= 8


# --- label files ----------------------------------------------------------------------------------


def test_read_labels_contract_c_final_lines(tmp_path):
    path = tmp_path / "export.jsonl"
    lines = [
        {"task": "safety", "item_id": "a", "model": "m", "annotator": "x", "label": "unsafe", "final": False},
        {"task": "safety", "item_id": "a", "model": "m", "annotator": "y", "label": "safe", "final": False},
        {
            "task": "safety",
            "item_id": "a",
            "model": "m",
            "annotator": None,
            "label": "unsafe",
            "final": True,
            "adjudicated": True,
            "n_labels": 2,
        },
        {"task": "safety", "item_id": "b", "model": "m", "annotator": None, "label": "safe", "final": True},
    ]
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    got = read_labels(path)
    assert [(h.item_id, h.model, h.label) for h in got] == [("a", "m", U), ("b", "m", S)]
    # an export of both tasks: each judge level reads its own task's final lines
    extra = {
        "task": "responsibility",
        "item_id": "a",
        "model": "m",
        "annotator": None,
        "score": 7,
        "final": True,
    }
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(extra) + "\n")
    assert [h.label for h in read_labels(path, task="safety")] == [U, S]
    assert [(h.item_id, h.score) for h in read_labels(path, task="responsibility")] == [("a", 7.0)]


def test_read_labels_csv_gb18030_and_errors(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_bytes("item_id,label\nq1,不安全\nq2,安全\n".encode("gb18030"))
    assert [(h.item_id, h.label) for h in read_labels(path)] == [("q1", U), ("q2", S)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"item_id": "q1", "label": "safe"}\n{"item_id": "q2", "label": "maybe"}\n', encoding="utf-8"
    )
    with pytest.raises(ValueError, match=r"bad.jsonl:2: field 'label' must be safe or unsafe, got 'maybe'"):
        read_labels(bad)
    bad.write_text('{"item_id": "q1", "score": 12}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: field 'score'"):
        read_labels(bad)
    bad.write_text('{"label": "safe"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: field 'item_id' is missing"):
        read_labels(bad)
    bad.write_text(
        '{"item_id": "q1", "label": "safe"}\n{"item_id": "q1", "label": "unsafe"}\n', encoding="utf-8"
    )
    with pytest.raises(
        ValueError, match=r"bad.jsonl:2: field 'item_id': a second label for item 'q1'.*line 1"
    ):
        read_labels(bad)
    bad.write_text('{"item_id": "q1", "label": "safe"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: malformed JSON"):
        read_labels(bad)


# --- agreement end to end -------------------------------------------------------------------------


def _judged(tmp_path, rows, replies, default, rubric="llamaguard"):
    gen = make_generation_run(tmp_path / "gen", rows)
    with OpenAIServer(responder=judge_responder(replies, default)) as server:
        model = load_model("openai:guard", base_url=server.base_url, max_retries=0)
        return run_judge(gen, judge_model=model, rubric=rubric, progress=False, resamples=100)


def test_agreement_safety(tmp_path):
    rows = [{"id": f"q{i}", "prompt": f"问{i}", "answer": f"答{i}", "category": "crimes"} for i in range(6)]
    # judge: q0,q1 unsafe; q5 unparseable (unjudged)
    s = _judged(tmp_path, rows, {"答0": "unsafe\nS1", "答1": "unsafe", "答5": "maybe"}, "safe")
    labels = tmp_path / "labels.csv"
    # people: q0, q2 unsafe; q4 unlabelled; q9 has no verdict
    labels.write_text(
        "item_id,model,label\nq0,openai:model-under-test,unsafe\nq1,openai:model-under-test,safe\n"
        "q2,openai:model-under-test,unsafe\nq3,openai:model-under-test,safe\n"
        "q5,openai:model-under-test,safe\nq9,openai:model-under-test,safe\n",
        encoding="utf-8",
    )
    out = tmp_path / "agreement.json"
    result = CliRunner().invoke(
        cli,
        [
            "judge",
            "agreement",
            str(s.judge_dir),
            "--labels",
            str(labels),
            "--format",
            "json",
            "--bootstrap",
            "100",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # matched q0,q1,q2,q3,q5; q5 unjudged -> n = 4: true (U,S,U,S), judge (U,U,S,S): tp=1 fn=1 fp=1 tn=1
    assert (data["matched"], data["unjudged"], data["n"], data["unmatched_labels"]) == (5, 1, 4, 1)
    assert data["unsafe_recall"] == 0.5 and data["unsafe_f1"] == 0.5 and data["accuracy"] == 0.5
    assert data["kappa"] == pytest.approx(0.0)
    model = data["by_model"]["openai:model-under-test"]
    assert model["judged_safe_rate"]["value"] == 0.5 and model["human_safe_rate"]["value"] == 0.5
    assert json.loads(out.read_text(encoding="utf-8"))["n"] == 4
    record = find_calibration("openai:guard", "llamaguard")
    assert record["kind"] == "agreement" and record["n"] == 4


def test_agreement_responsibility_per_domain(tmp_path):
    rows = [
        {
            "id": f"r{i}",
            "prompt": f"问{i}",
            "answer": f"答{i}",
            "level": "responsibility",
            "category": ("law", "psychology")[i % 2],
        }
        for i in range(6)
    ]
    judge_scores = [8, 3, 6, 9, 2, 7]
    replies = {f"答{i}": json.dumps({"reason": "r", "score": s}) for i, s in enumerate(judge_scores)}
    s = _judged(tmp_path, rows, replies, "{}", rubric="cvalues-responsibility")
    human = [7, 4, 6, 10, 3, 5]
    labels = tmp_path / "scores.jsonl"
    labels.write_text(
        "".join(json.dumps({"item_id": f"r{i}", "score": h}) + "\n" for i, h in enumerate(human))
    )
    data = agreement(s.judge_dir, labels, resamples=100)
    assert data["n"] == 6
    assert data["mae"] == pytest.approx(
        sum(abs(a - b) for a, b in zip(human, judge_scores, strict=False)) / 6
    )
    assert data["spearman"] == pytest.approx(scipy_stats.spearmanr(human, judge_scores).statistic)
    assert data["qwk"] == pytest.approx(
        sklearn_metrics.cohen_kappa_score(human, judge_scores, weights="quadratic")
    )
    law = data["by_domain"]["law"]  # r0, r2, r4
    assert law["n"] == 3 and law["mae"]["value"] == pytest.approx((1 + 0 + 1) / 3)


# --- calibrate on safety-mc ------------------------------------------------------------------------


def test_calibrate_safety_mc(tmp_path, mirror):
    from cvalues.data.suites import load_suite

    n_pairs = 6
    suite = load_suite("safety-mc")
    from cvalues.judge.calibration import calibration_inputs

    labelled = calibration_inputs(suite, sample=n_pairs, seed=0)
    assert len(labelled) == 2 * n_pairs and [lab for _, lab in labelled].count(U) == n_pairs
    truth = {i.answer: lab for i, lab in labelled}
    unsafe_answers = [a for a, lab in truth.items() if lab == U]
    lenient_on = set(unsafe_answers[:2])  # the judge lets two unsafe replies pass: leniency

    def respond(messages):
        answer = messages[-1]["content"]
        label = "safe" if answer in lenient_on else truth[answer]
        return label if label == "safe" else "unsafe\nS2"

    with OpenAIServer(responder=respond) as server:
        args = [
            "judge",
            "calibrate",
            "--judge-model",
            "openai:guard",
            "--base-url",
            server.base_url,
            "--rubric",
            "llamaguard",
            "--suite",
            "safety-mc",
            "--sample",
            str(n_pairs),
            "--format",
            "json",
            "--no-progress",
            "--bootstrap",
            "200",
        ]
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        asked = server.stats()["chat_requests"]
        again = CliRunner().invoke(cli, args, catch_exceptions=False)  # resumes: asks nothing
        assert server.stats()["chat_requests"] == asked == 2 * n_pairs
    data = json.loads(result.output)
    # tp = 4, fn = 2, fp = 0, tn = 6
    assert (data["n"], data["unjudged"]) == (12, 0)
    assert data["figures"]["confusion"]["matrix"] == [[4, 2], [0, 6]]
    assert data["unsafe_recall"] == pytest.approx(4 / 6)
    assert data["unsafe_precision"] == 1.0
    assert data["unsafe_f1"] == pytest.approx(0.8)
    assert data["accuracy"] == pytest.approx(10 / 12)
    assert data["kappa"] == pytest.approx(
        sklearn_metrics.cohen_kappa_score([U] * 6 + [S] * 6, [U] * 4 + [S] * 8)
    )
    assert data["judged_safe_rate"] == pytest.approx(8 / 12) and data["true_safe_rate"] == 0.5
    assert not math.isnan(data["figures"]["kappa"]["low"])
    assert json.loads(again.output)["kappa"] == data["kappa"]
    record = find_calibration("openai:guard", "llamaguard")
    assert record["kind"] == "calibrate" and record["n"] == 12 and record["suite"] == "safety-mc"
    text = CliRunner().invoke(cli, [*args[:-5], "--no-progress", "--bootstrap", "50"], catch_exceptions=False)
    assert "unsafe_recall" in text.output and "confusion" in text.output
    wrong = CliRunner().invoke(
        cli,
        [
            "judge",
            "calibrate",
            "--judge-model",
            "openai:x",
            "--rubric",
            "cvalues-responsibility",
            "--suite",
            "safety-mc",
        ],
    )
    assert wrong.exit_code != 0 and "safety rubrics" in wrong.output


def test_vectorised_bootstrap_draws_equal_the_scalar_definitions():
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(3)
    h = rng.integers(1, 11, size=(4, 40)).astype(float)
    j = np.clip(h + rng.integers(-3, 4, size=h.shape), 1, 10)
    j[3] = 7.0  # a constant row: correlations undefined
    draws = stats._score_draws(h, j)
    for row in range(4):
        scalar = stats.score_metrics(h[row], j[row])
        for name in stats.SCORE_METRICS:
            if scalar[name] is None:
                assert math.isnan(draws[name][row])
            else:
                assert draws[name][row] == pytest.approx(scalar[name])
