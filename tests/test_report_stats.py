"""The report's statistics against scipy and hand-computed textbook values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from cvalues.report import stats


def test_mcnemar_exact_matches_the_binomial_on_discordant_pairs() -> None:
    # b = 2 (only A right), c = 8 (only B right): p = 2 * P(X <= 2 | n = 10, 1/2) = 2 * 56 / 1024
    a = [True] * 5 + [True, True] + [False] * 8 + [False] * 3
    b = [True] * 5 + [False, False] + [True] * 8 + [False] * 3
    result = stats.mcnemar_exact(a, b)
    assert (result.n, result.both, result.b, result.c, result.neither) == (18, 5, 2, 8, 3)
    assert result.p_value == pytest.approx(112 / 1024)
    assert result.p_value == pytest.approx(sp.binomtest(2, 10, 0.5).pvalue)
    # symmetric in the two models, 1 without discordant units
    assert stats.mcnemar_exact(b, a).p_value == pytest.approx(result.p_value)
    assert stats.mcnemar_exact([True, False], [True, False]).p_value == 1.0
    with pytest.raises(ValueError, match="differ in length"):
        stats.mcnemar_exact([True], [True, False])


@pytest.mark.parametrize("b_count,c_count", [(0, 7), (3, 3), (1, 12), (25, 40)])
def test_mcnemar_exact_against_scipy(b_count: int, c_count: int) -> None:
    a = [True] * b_count + [False] * c_count + [True, False]
    b = [False] * b_count + [True] * c_count + [True, False]
    assert stats.mcnemar_exact(a, b).p_value == pytest.approx(
        min(1.0, sp.binomtest(b_count, b_count + c_count, 0.5).pvalue)
    )


def test_holm_known_values_and_order() -> None:
    # sorted 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> kept monotone: 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.2, None, 0.3]) == [pytest.approx(0.4), None, pytest.approx(0.4)]
    assert stats.holm([0.5, 0.9]) == [1.0, 1.0]
    assert stats.holm([]) == []
    assert stats.holm([0.4]) == [0.4]
    with pytest.raises(ValueError, match="not a probability"):
        stats.holm([1.5])


def test_holm_against_scipy_false_discovery_control_bounds() -> None:
    # Holm is never below Benjamini-Hochberg (it controls the stricter family-wise error)
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 0.2, size=12)
    holm = np.array(stats.holm(list(p)))
    assert np.all(holm >= sp.false_discovery_control(p, method="bh") - 1e-12)
    assert np.all(holm >= p) and np.all(holm <= 1)


def test_kendall_tau_known_value_ties_and_degenerate() -> None:
    # 4 models, one discordant pair of 6: tau = (5 - 1) / 6
    result = stats.kendall_tau([1, 2, 3, 4], [1, 3, 2, 4])
    assert result.tau == pytest.approx(4 / 6) and result.n == 4
    expected = sp.kendalltau([1, 2, 3, 4], [1, 3, 2, 4])
    assert result.p_value == pytest.approx(expected.pvalue)
    assert stats.kendall_tau([0.1, 0.2, 0.3], [3, 2, 1]).tau == pytest.approx(-1.0)
    # tau-b with ties, as scipy computes it
    x, y = [0.5, 0.5, 0.7, 0.9, 0.2], [6.0, 7.0, 7.0, 8.5, 3.0]
    assert stats.kendall_tau(x, y).tau == pytest.approx(sp.kendalltau(x, y).statistic)
    assert stats.kendall_tau([1.0], [2.0]).tau is None
    assert stats.kendall_tau([1.0, 1.0, 1.0], [1, 2, 3]).tau is None


def test_bootstrap_ratio_close_to_scipy_percentile_bootstrap() -> None:
    rng = np.random.default_rng(0)
    x = (rng.uniform(size=400) < 0.7).astype(float)
    ours = stats.bootstrap_ratio(x, resamples=4000, seed=1)
    ref = sp.bootstrap((x,), np.mean, n_resamples=4000, method="percentile", random_state=2)
    assert ours.low == pytest.approx(ref.confidence_interval.low, abs=0.01)
    assert ours.high == pytest.approx(ref.confidence_interval.high, abs=0.01)
    assert ours.low < x.mean() < ours.high
    # reproducible by seed
    assert stats.bootstrap_ratio(x, resamples=500, seed=5) == stats.bootstrap_ratio(x, resamples=500, seed=5)


def test_bootstrap_ratio_of_clusters() -> None:
    # every cluster has the same ratio: the interval is that ratio exactly
    assert stats.bootstrap_ratio([1, 2, 3], [2, 4, 6], resamples=200) == stats.Interval(0.5, 0.5)
    assert stats.bootstrap_ratio([], resamples=100) == stats.Interval(None, None)
    assert stats.bootstrap_ratio([1.0], resamples=0) == stats.Interval(None, None)
    # a resample with nothing in the denominator is left out, not a division by zero
    interval = stats.bootstrap_ratio([0, 1], [0, 1], resamples=200, seed=0)
    assert interval == stats.Interval(1.0, 1.0)
    with pytest.raises(ValueError, match="differ in length"):
        stats.bootstrap_ratio([1, 2], [1])


def test_paired_bootstrap_difference_interval_and_p() -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(7.0, 1.0, size=300)
    b = a - 0.5 + rng.normal(0, 0.3, size=300)
    d = stats.paired_bootstrap(a, b, resamples=3000, seed=0)
    assert d.n == 300 and d.diff == pytest.approx(float(np.mean(a - b)))
    ref = sp.bootstrap((a - b,), np.mean, n_resamples=3000, method="percentile", random_state=1)
    assert d.interval.low == pytest.approx(ref.confidence_interval.low, abs=0.01)
    assert d.interval.high == pytest.approx(ref.confidence_interval.high, abs=0.01)
    assert d.p_value is not None and d.p_value <= 1 / 3001 * 2  # a clear difference
    # the same values: no difference, p = 1
    same = stats.paired_bootstrap(a, a, resamples=500)
    assert same.diff == 0 and same.p_value == 1.0
    # noise only: p well away from 0, and the t-test agrees roughly
    c = a + rng.normal(0, 1.0, size=300)
    noise = stats.paired_bootstrap(a, c, resamples=4000, seed=2)
    t_p = sp.ttest_rel(a, c).pvalue
    assert noise.p_value == pytest.approx(t_p, abs=0.05)
    empty = stats.paired_bootstrap([], [])
    assert empty.n == 0 and empty.diff is None and empty.p_value is None
    assert math.isclose(stats.paired_bootstrap([1, 0, 1], [0, 0, 1], resamples=0).diff, 1 / 3)
