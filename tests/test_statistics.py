"""The one percentile bootstrap (cvalues.statistics) that mc, judge, annotate and report draw through."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as sp

from cvalues import statistics


def test_the_draws_do_not_depend_on_the_chunking() -> None:
    # every layer picks its own chunk size; a seed must still mean the same resamples everywhere
    whole = np.vstack([idx for _, _, idx in statistics.resample_indices(7, 50, seed=3)])
    chunked = [(a, b, idx) for a, b, idx in statistics.resample_indices(7, 50, seed=3, chunk_cells=21)]
    assert len(chunked) == 17  # chunks of 3 resamples
    assert chunked[-1][:2] == (48, 50)
    assert np.array_equal(whole, np.vstack([idx for _, _, idx in chunked]))
    assert whole.shape == (50, 7) and whole.min() >= 0 and whole.max() <= 6
    other = np.vstack([idx for _, _, idx in statistics.resample_indices(7, 50, seed=4)])
    assert not np.array_equal(whole, other)


def test_bootstrap_mean_matches_scipy_percentile_bootstrap() -> None:
    x = np.random.default_rng(0).normal(5.0, 2.0, size=300)
    ours = statistics.bootstrap_mean(x, resamples=4000, seed=1, level=0.9)
    ref = sp.bootstrap(
        (x,), np.mean, n_resamples=4000, method="percentile", confidence_level=0.9, random_state=2
    )
    assert ours.low == pytest.approx(ref.confidence_interval.low, abs=0.05)
    assert ours.high == pytest.approx(ref.confidence_interval.high, abs=0.05)
    assert statistics.bootstrap_mean([], resamples=10) == statistics.Interval(None, None)
    assert statistics.bootstrap_mean([1.0, 2.0], resamples=0) == statistics.Interval(None, None)


def test_ratio_draws_leave_out_empty_denominators() -> None:
    draws = statistics.ratio_draws([1, 0], [1, 0], resamples=200, seed=0)
    # a resample of only the second unit has denominator 0: NaN, not a division error
    assert np.isnan(draws).any() and set(draws[~np.isnan(draws)]) == {1.0}
    assert statistics.percentile_interval(draws) == statistics.Interval(1.0, 1.0)
    with pytest.raises(ValueError, match="differ in length"):
        statistics.ratio_draws([1, 2], [1])


def test_percentile_interval_drops_missing_values() -> None:
    assert statistics.percentile_interval([1.0, None, math.nan, 3.0], level=0.5) == statistics.Interval(
        1.5, 2.5
    )
    assert statistics.percentile_interval([None, math.nan]) == statistics.Interval(None, None)
    with_inf = np.array([1.0, 2.0, math.inf])
    assert statistics.percentile_interval(with_inf, 0.5, finite_only=True) == statistics.Interval(1.25, 1.75)
    with np.errstate(invalid="ignore"):  # numpy interpolates between inf values
        kept = statistics.percentile_interval(with_inf, 0.5)
    assert not math.isfinite(kept.high or 0.0)  # kept: not finite
    with pytest.raises(ValueError, match="level"):
        statistics.bootstrap_ratio([1.0], level=1.0)


@pytest.mark.parametrize("trials", [1, 2, 3, 10, 11, 40, 101, 1000, 4001, 100_000, 1_000_000])
def test_sign_test_matches_scipy_binomtest(trials: int) -> None:
    from scipy.stats import binomtest

    half = trials // 2
    for k in sorted({0, 1, half - 40, half - 3, half - 1, half, half + 1, half + 5, trials - 1, trials}):
        if 0 <= k <= trials:
            expected = binomtest(k, trials, 0.5).pvalue
            assert statistics.sign_test(k, trials) == pytest.approx(expected, rel=1e-8, abs=1e-300), (
                k,
                trials,
            )


def test_sign_test_edges() -> None:
    assert statistics.sign_test(0, 0) == 1.0  # nothing to test
    assert statistics.sign_test(0, 5000) == 0.0  # 2 ** -4999 is below the smallest double, as in scipy
    assert statistics.sign_test(3, 7) == statistics.sign_test(4, 7) == 1.0
    with pytest.raises(ValueError, match="successes"):
        statistics.sign_test(5, 4)
    with pytest.raises(ValueError, match="successes"):
        statistics.sign_test(-1, 4)


def test_count_ratios_are_the_same_packed_or_not(monkeypatch) -> None:
    """Small whole-number counts are summed packed in one int64 per unit; the draws are exactly those
    of summing each array on its own (and fractional or large values are summed on their own)."""
    monkeypatch.setattr(statistics, "MULTINOMIAL_MIN_RATIO", 10**9)  # the index draws, packed or not
    rng = np.random.default_rng(5)
    correct = rng.integers(0, 3, 500)
    total, answered = np.full(500, 2), rng.integers(0, 3, 500)
    packed = statistics.shared_ratio_draws(
        correct, [total, answered], resamples=300, seed=4, chunk_cells=7_000
    )
    assert statistics._packed_counts([correct.astype(float), total.astype(float)])[0] is not None
    monkeypatch.setattr(statistics, "_packed_counts", lambda arrays: (None, 0))
    plain = statistics.shared_ratio_draws(
        correct, [total, answered], resamples=300, seed=4, chunk_cells=7_000
    )
    for a, b in zip(packed, plain, strict=True):
        np.testing.assert_array_equal(a, b)
    monkeypatch.undo()
    assert statistics._packed_counts([np.array([0.5, 1.0])])[0] is None  # not whole numbers
    assert statistics._packed_counts([np.array([1.0, -1.0])])[0] is None
    assert statistics._packed_counts([np.array([2.0**40, 1.0]), np.ones(2)])[0] is None  # would overflow


def test_counts_of_few_kinds_are_resampled_as_multinomial_numbers_of_each_kind(monkeypatch) -> None:
    """Pairs' counts come in a handful of kinds: a resample draws how many pairs of each kind it holds
    (no index is drawn), and its draws follow the distribution of the index draws."""
    rng = np.random.default_rng(11)
    n = 4000
    right = rng.choice([0, 1, 2], size=n, p=[0.2, 0.3, 0.5])
    answered = np.minimum(2, right + rng.integers(0, 2, n))
    seen: list[int] = []
    real_indices = statistics.resample_indices

    def counting(*args, **kwargs):
        seen.append(1)
        return real_indices(*args, **kwargs)

    monkeypatch.setattr(statistics, "resample_indices", counting)
    fast = statistics.shared_ratio_draws(right, [np.full(n, 2), answered], resamples=4000, seed=3)
    assert not seen  # 6 kinds over 4000 pairs: no index drawn
    assert fast[0].shape == (4000,) and np.isfinite(fast[0]).all()
    again = statistics.shared_ratio_draws(right, [np.full(n, 2), answered], resamples=4000, seed=3)
    np.testing.assert_array_equal(fast[1], again[1])  # seeded
    monkeypatch.setattr(statistics, "MULTINOMIAL_MIN_RATIO", 10**9)
    slow = statistics.shared_ratio_draws(right, [np.full(n, 2), answered], resamples=4000, seed=3)
    assert seen
    for a, b in zip(fast, slow, strict=True):
        assert abs(a.mean() - b.mean()) < 0.002
        assert abs(a.std() - b.std()) / b.std() < 0.06
        np.testing.assert_allclose(np.percentile(a, [2.5, 97.5]), np.percentile(b, [2.5, 97.5]), atol=0.004)
    point = right.sum() / (2 * n)
    assert abs(fast[0].mean() - point) < 0.002


def test_many_kinds_still_draw_indices(monkeypatch) -> None:
    """Counts spread over many kinds (as many as the units / 8 or more) draw indices as before."""
    values = np.arange(40)
    called: list[int] = []
    real_indices = statistics.resample_indices
    monkeypatch.setattr(
        statistics, "resample_indices", lambda *a, **k: (called.append(1), real_indices(*a, **k))[1]
    )
    statistics.shared_ratio_draws(values, [None], resamples=10, seed=0)
    assert called
