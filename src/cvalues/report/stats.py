"""Every figure the report adds to :mod:`cvalues.mc.metrics`, each formula stated once, here.

acc, acc*, pair-consistent accuracy and their pair-resampling bootstrap stay in
:mod:`cvalues.mc.metrics`; this module holds what the report needs beyond them:

* :func:`bootstrap_ratio` (from :mod:`cvalues.statistics`): percentile bootstrap interval of
  ``sum(num) / sum(den)`` over clusters drawn with replacement (a refusal rate over pairs, a safety
  score over answers, a mean expert score);
* :func:`mcnemar_exact`: McNemar's exact test for two models scored right/wrong on the same units: the
  two-sided binomial test of the discordant counts ``b`` (only A right) against ``c`` (only B right)
  with ``p = 0.5``;
* :func:`paired_bootstrap`: the difference of two models' mean scores on the same items, its
  percentile interval from resampling items (both models' values together), and a two-sided p-value
  from the bootstrap distribution shifted to the null (``p = (1 + #{|d* - d| >= |d|}) / (1 + B)``);
* :func:`holm`: Holm's step-down adjustment of a family of p-values;
* :func:`kendall_tau`: Kendall's tau-b between two rankings of the same models, with its p-value
  (``scipy.stats.kendalltau``).

Every resampling function takes a ``seed`` and draws through :mod:`cvalues.statistics` (numpy's
``default_rng``), so a report is reproducible to the digit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cvalues import statistics
from cvalues.statistics import Interval, sign_test
from cvalues.statistics import bootstrap_ratio as bootstrap_ratio  # re-exported for the report

#: Default number of bootstrap resamples and confidence level of the report.
RESAMPLES = statistics.RESAMPLES
LEVEL = statistics.LEVEL


@dataclass(frozen=True, slots=True)
class McNemar:
    """McNemar's exact test over ``n`` paired units: ``b`` only A right, ``c`` only B right."""

    n: int
    both: int
    b: int
    c: int
    neither: int
    p_value: float


def mcnemar_exact(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> McNemar:
    """McNemar's exact test: two-sided binomial test of ``b`` successes in ``b + c`` trials at 0.5.

    ``a_correct[i]`` and ``b_correct[i]`` are the two models' results on the same unit ``i``. With no
    discordant unit the p-value is 1.
    """
    if len(a_correct) != len(b_correct):
        raise ValueError(f"paired results differ in length ({len(a_correct)} vs {len(b_correct)})")
    pairs = list(zip(map(bool, a_correct), map(bool, b_correct), strict=True))
    both = sum(a and b for a, b in pairs)
    b = sum(a and not y for a, y in pairs)
    c = sum(y and not a for a, y in pairs)
    p = sign_test(b, b + c)
    return McNemar(len(pairs), both, b, c, len(pairs) - both - b - c, min(1.0, p))


@dataclass(frozen=True, slots=True)
class PairedDifference:
    """Mean of A minus mean of B on ``n`` shared items, its bootstrap interval and p-value."""

    n: int
    mean_a: float | None
    mean_b: float | None
    diff: float | None
    interval: Interval
    p_value: float | None
    resamples: int
    seed: int


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> PairedDifference:
    """Paired bootstrap of ``mean(a) - mean(b)`` (``a[i]``, ``b[i]``: the same item's two scores).

    Items are resampled with replacement, both values of an item together. The interval is the
    percentile interval of the resampled differences; the two-sided p-value is the share of resampled
    differences at least as far from the observed one as the observed one is from zero (the bootstrap
    distribution shifted to the null of no difference), ``(1 + count) / (1 + resamples)``.
    """
    statistics.check_level(level)
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired scores differ in length ({x.size} vs {y.size})")
    n = x.size
    if n == 0:
        return PairedDifference(0, None, None, None, Interval(None, None), None, resamples, seed)
    d = x - y
    observed = float(d.mean())
    if resamples <= 0:
        return PairedDifference(
            n, float(x.mean()), float(y.mean()), observed, Interval(None, None), None, 0, seed
        )
    means = statistics.mean_draws(d, resamples=resamples, seed=seed)
    tol = 1e-12 * max(1.0, abs(observed))
    extreme = int(np.count_nonzero(np.abs(means - observed) >= abs(observed) - tol))
    p = (1 + extreme) / (1 + resamples)
    return PairedDifference(
        n,
        float(x.mean()),
        float(y.mean()),
        observed,
        statistics.percentile_interval(means, level, finite_only=True),
        min(1.0, p),
        resamples,
        seed,
    )


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values, in the input order (``None`` stays ``None``, not counted).

    Sorted ascending, the ``k``-th smallest of ``m`` becomes ``max_{j<=k} min(1, (m - j + 1) p_(j))``.
    """
    present = [(p, i) for i, p in enumerate(p_values) if p is not None]
    for p, i in present:
        if math.isnan(p) or not 0 <= p <= 1:
            raise ValueError(f"p-value #{i} is not a probability: {p}")
    m = len(present)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


@dataclass(frozen=True, slots=True)
class KendallTau:
    """Kendall's tau-b between two score vectors over the same ``n`` models, and its p-value."""

    n: int
    tau: float | None
    p_value: float | None


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> KendallTau:
    """Kendall's tau-b (ties handled) of two scorings of the same models; None below two models or
    when one scoring is constant (the ranking is undefined)."""
    from scipy.stats import kendalltau

    if len(x) != len(y):
        raise ValueError(f"rankings differ in length ({len(x)} vs {len(y)})")
    n = len(x)
    if n < 2 or len(set(x)) < 2 or len(set(y)) < 2:
        return KendallTau(n, None, None)
    result = kendalltau(x, y)
    tau, p = float(result.statistic), float(result.pvalue)
    return KendallTau(n, None if math.isnan(tau) else tau, None if math.isnan(p) else p)
