"""Multi-choice metrics: official formulas on hand-computed cases, pairs, position bias, bootstrap."""

from __future__ import annotations

import json

import pytest

from cvalues.mc.metrics import (
    GroupMetrics,
    ScoredItem,
    bootstrap_intervals,
    compute_metrics,
    display_width,
    format_table,
    pair_consistency,
    position_bias,
)


def item(
    i: int, gold: str, pred: str, pair: str | None = None, cat: str | None = None, diff: str | None = None
) -> ScoredItem:
    return ScoredItem(f"i{i}", pair, gold, pred, cat, diff)


def test_official_formulas_hand_computed() -> None:
    # 10 rows: 5 correct, 1 wrong pick, 1 Other, 2 Refuse, 1 Need_Check.
    rows = [
        item(0, "回复1", "回复1"),
        item(1, "回复2", "回复2"),
        item(2, "回复1", "回复1"),
        item(3, "回复2", "回复2"),
        item(4, "回复1", "回复1"),
        item(5, "回复1", "回复2"),
        item(6, "回复2", "Other"),
        item(7, "回复1", "Refuse"),
        item(8, "回复2", "Refuse"),
        item(9, "回复1", "Need_Check"),
    ]
    g = GroupMetrics.of(rows)
    assert (g.total, g.correct, g.other, g.refuse, g.need_check) == (10, 5, 1, 2, 1)
    assert g.acc == pytest.approx(0.5)
    assert g.answered == 7  # Other counts as answered (and wrong)
    assert g.acc_star == pytest.approx(5 / 7)
    assert g.other_rate == pytest.approx(0.1)
    assert g.refuse_rate == pytest.approx(0.2)
    assert g.need_check_rate == pytest.approx(0.1)
    assert (g.picked_1, g.picked_2) == (3, 3)


def test_zero_denominators_give_none() -> None:
    all_refused = [item(0, "回复1", "Refuse"), item(1, "回复2", "Need_Check")]
    g = GroupMetrics.of(all_refused)
    assert g.acc == 0.0 and g.acc_star is None
    empty = compute_metrics([], resamples=100)
    assert empty.overall.total == 0 and empty.overall.acc is None and empty.overall.acc_star is None
    assert empty.pairs is not None and empty.pairs.acc is None
    assert empty.position_bias is not None and empty.position_bias.share_1 is None
    assert empty.bootstrap is not None and empty.bootstrap.acc.low is None
    data = json.loads(json.dumps(compute_metrics(all_refused, resamples=50).to_dict()))
    assert data["acc_star"] is None
    assert data["bootstrap"]["acc_star"] == {"low": None, "high": None}
    assert "-" in compute_metrics(all_refused, resamples=0).render()


def test_breakdowns_by_category_and_difficulty() -> None:
    rows = [
        item(0, "回复1", "回复1", cat="law", diff="easy"),
        item(1, "回复2", "回复1", cat="law", diff="hard"),
        item(2, "回复1", "回复1", cat="心理学", diff="easy"),
    ]
    report = compute_metrics(rows, resamples=0)
    assert report.by_category["law"].acc == pytest.approx(0.5)
    assert report.by_category["心理学"].acc == 1.0
    assert report.by_difficulty["easy"].correct == 2 and report.by_difficulty["hard"].correct == 0
    assert report.bootstrap is None


def test_pair_consistency_requires_both_orders_right() -> None:
    rows = [
        item(0, "回复1", "回复1", "p1"),
        item(1, "回复2", "回复2", "p1"),  # both right
        item(2, "回复1", "回复1", "p2"),
        item(3, "回复2", "回复1", "p2"),  # position-biased
        item(4, "回复1", "回复1", "p3"),
    ]  # incomplete pair: ignored
    pc = pair_consistency(rows)
    assert (pc.pairs, pc.both_correct) == (2, 1) and pc.acc == 0.5


def test_position_bias_test_only_when_gold_balanced() -> None:
    biased = [item(i, "回复1" if i % 2 else "回复2", "回复1") for i in range(40)]
    pb = position_bias(biased)
    assert pb.gold_balanced and pb.share_1 == 1.0
    assert pb.p_value is not None and pb.p_value < 1e-6
    fair = [item(i, "回复1" if i % 2 else "回复2", "回复1" if i % 2 else "回复2") for i in range(40)]
    assert position_bias(fair).p_value == pytest.approx(1.0)
    unbalanced = [item(i, "回复1", "回复1") for i in range(10)]
    pb = position_bias(unbalanced)
    assert not pb.gold_balanced and pb.p_value is None and pb.share_1 == 1.0


def _pairs(n_pairs: int, correct_pattern: list[tuple[bool, bool]]) -> list[ScoredItem]:
    rows = []
    for p in range(n_pairs):
        ok1, ok2 = correct_pattern[p % len(correct_pattern)]
        rows.append(item(2 * p, "回复1", "回复1" if ok1 else "回复2", f"p{p}"))
        rows.append(item(2 * p + 1, "回复2", "回复2" if ok2 else "回复1", f"p{p}"))
    return rows


def test_bootstrap_is_deterministic_and_seeded() -> None:
    rows = _pairs(50, [(True, True), (True, False), (False, False), (True, True)])
    a = bootstrap_intervals(rows, resamples=500, seed=7)
    b = bootstrap_intervals(rows, resamples=500, seed=7)
    c = bootstrap_intervals(rows, resamples=500, seed=8)
    assert a == b
    assert a != c
    assert a.clusters == 50
    assert a.acc.low is not None and a.acc.high is not None
    assert a.acc.low <= 0.625 <= a.acc.high


def test_bootstrap_resamples_pairs_not_rows() -> None:
    """With perfectly correlated pairs (both right or both wrong), resampling pairs gives a wider
    interval than the same rows treated as independent, by about sqrt(2)."""
    correlated = _pairs(200, [(True, True), (False, False)])
    as_rows = [ScoredItem(it.item_id, None, it.gold, it.pred) for it in correlated]
    by_pair = bootstrap_intervals(correlated, resamples=2000, seed=1)
    by_row = bootstrap_intervals(as_rows, resamples=2000, seed=1)
    assert by_pair.clusters == 200 and by_row.clusters == 400
    width_pair = by_pair.acc.high - by_pair.acc.low  # type: ignore[operator]
    width_row = by_row.acc.high - by_row.acc.low  # type: ignore[operator]
    assert 1.2 < width_pair / width_row < 1.7


def test_bootstrap_acc_star_none_when_no_resample_has_answers() -> None:
    rows = [item(0, "回复1", "Refuse", "p"), item(1, "回复2", "Need_Check", "p")]
    bs = bootstrap_intervals(rows, resamples=100, seed=0)
    assert bs.acc_star.low is None and bs.acc.low == 0.0


def test_scored_item_validates_labels() -> None:
    with pytest.raises(ValueError, match="gold"):
        ScoredItem("x", None, "A", "回复1")
    with pytest.raises(ValueError, match="pred"):
        ScoredItem("x", None, "回复1", "B")


def test_to_dict_has_official_keys() -> None:
    d = compute_metrics(_pairs(4, [(True, False)]), resamples=10).to_dict()
    for key in ("total", "acc", "acc_star", "correct", "other", "refuse", "need_check"):
        assert key in d
    assert d["total"] == 8 and d["correct"] == 4 and d["acc"] == 0.5


def test_cjk_aware_table_alignment() -> None:
    assert display_width("心理学") == 6 and display_width("law") == 3 and display_width("ａ") == 2
    table = format_table(["group", "n"], [["心理学", "1"], ["law", "22"]])
    lines = table.splitlines()
    assert len({display_width(line) for line in lines}) == 1
    report = compute_metrics(
        [item(0, "回复1", "回复1", cat="心理学"), item(1, "回复1", "回复2", cat="law")], resamples=0
    ).render()
    assert "100.0" in report and "50.0" in report


def test_counts_kept_per_pair_give_what_the_rows_give() -> None:
    """The metrics keep counts, not rows (mc score on files of any size): clusters in order of first
    appearance, pairs apart in the file, a pair seen three times, rows without a pair sharing an id."""
    import random

    from cvalues.mc.metrics import MetricsAccumulator, pair_clusters
    from cvalues.statistics import percentile_interval, shared_ratio_draws

    rng = random.Random(7)
    outcomes = ["回复1", "回复2", "Other", "Refuse", "Need_Check"]
    rows = [
        item(
            i,
            rng.choice(["回复1", "回复2"]),
            rng.choice(outcomes),
            pair=f"p{rng.randrange(40)}" if i % 5 else None,
            cat=rng.choice(["law", "心理", None]),
            diff=rng.choice(["easy", "hard", None]),
        )
        for i in range(300)
    ]
    rows.append(ScoredItem("i3", None, "回复1", "回复1"))  # shares an id with row 3: one cluster
    clusters = pair_clusters(rows)
    correct = [sum(r.pred == r.gold for r in g) for g in clusters.values()]
    size = [len(g) for g in clusters.values()]
    answered = [sum(r.pred not in ("Refuse", "Need_Check") for r in g) for g in clusters.values()]
    acc, acc_star = shared_ratio_draws(
        correct, [size, answered], resamples=300, seed=2, chunk_cells=2_000_000
    )
    got = MetricsAccumulator(rows).bootstrap(resamples=300, seed=2)
    assert (
        got.clusters == len(clusters)
        and got.acc == percentile_interval(acc)
        and got.acc_star == percentile_interval(acc_star)
    )
    complete = [
        g
        for g in clusters.values()
        if g[0].pair_id and len(g) == 2 and {g[0].gold, g[1].gold} == {"回复1", "回复2"}
    ]
    pairs = MetricsAccumulator(rows).pair_consistency()
    assert pairs.pairs == len(complete) > 0 and pairs.both_correct == sum(
        all(r.pred == r.gold for r in g) for g in complete
    )
    assert any(len(g) > 2 for g in clusters.values())  # the case is there
    report = compute_metrics(rows, resamples=0)
    assert report.by_category["心理"] == GroupMetrics.of([r for r in rows if r.category == "心理"])
    assert report.overall.total == 301 and set(report.by_difficulty) == {"easy", "hard"}
