"""The percentile bootstrap, once: every interval of mc, judge, annotate and report is drawn here.

A leaf module (it imports nothing of cvalues), so every layer may use it; numpy is imported inside the
functions, so importing it costs the CLI nothing.

* :func:`resample_indices`: the seeded draws: ``resamples`` rows of ``n`` indices drawn with
  replacement from ``numpy.random.default_rng(seed)``, handed out in chunks of bounded size. The stream
  of indices does not depend on the chunking, so a seed gives the same draws whatever the chunk size.
* :func:`bootstrap_draws`: a statistic of each resample (:func:`mean_draws`: the mean of the values,
  items resampled; :func:`ratio_draws`: ``sum(num) / sum(den)``, units, e.g. pairs, resampled; a
  resample whose denominator is not positive gives NaN). Whole-number counts that come in few kinds
  (a pair's right and answered rows) are resampled as multinomial numbers of units per kind: the same
  distribution, drawn in O(kinds) per resample, so 50,000 pairs cost what 20 do.
* :func:`percentile_interval`: the percentile interval of the draws, NaN draws left out (optionally
  every non-finite draw); no draw left gives ``Interval(None, None)``.
* :func:`bootstrap_ratio` and :func:`bootstrap_mean`: draws and interval in one call.

Also the exact sign test (:func:`sign_test`, the position-bias test and McNemar's exact test), in pure
Python: ``scipy.stats`` costs 1.4 s to import, most of what ``mc score`` on a small file takes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

#: Most index cells drawn at once (bounds the memory of one chunk of resamples).
CHUNK_CELLS = 20_000_000
#: :func:`shared_ratio_draws` draws how many units of each kind a resample holds (multinomial) instead of
#: the units themselves when the units come in at most 1/this many kinds (a pair's right/answered counts:
#: a handful of kinds over thousands of pairs): O(kinds) per resample instead of O(units).
MULTINOMIAL_MIN_RATIO = 8
#: Default number of resamples and confidence level.
RESAMPLES = 1000
LEVEL = 0.95


@dataclass(frozen=True, slots=True)
class Interval:
    """A percentile bootstrap interval (None where there was nothing to resample)."""

    low: float | None
    high: float | None


def check_level(level: float) -> None:
    """Reject a confidence level outside (0, 1)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")


def resample_indices(
    n: int, resamples: int, seed: int, *, chunk_cells: int = CHUNK_CELLS
) -> Iterator[tuple[int, int, Any]]:
    """``(start, stop, idx)`` chunks covering resamples ``start:stop``; ``idx`` has one row of ``n``
    indices (drawn with replacement) per resample."""
    import numpy as np

    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, chunk_cells // max(n, 1)))
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        yield start, stop, rng.integers(0, n, size=(stop - start, n))


def bootstrap_draws(
    n: int,
    statistic: Callable[[Any], Any],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    chunk_cells: int = CHUNK_CELLS,
) -> Any:
    """``statistic(idx)`` (one value per row of an index matrix) over ``resamples`` seeded resamples."""
    import numpy as np

    out = np.empty(max(resamples, 0))
    for start, stop, idx in resample_indices(n, resamples, seed, chunk_cells=chunk_cells):
        out[start:stop] = statistic(idx)
    return out


def mean_draws(
    values: Any, *, resamples: int = RESAMPLES, seed: int = 0, chunk_cells: int = CHUNK_CELLS
) -> Any:
    """The mean of each resample of ``values`` (items drawn with replacement)."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    return bootstrap_draws(
        x.size, lambda idx: x[idx].mean(axis=1), resamples=resamples, seed=seed, chunk_cells=chunk_cells
    )


def ratio_draws(
    num: Any, den: Any = None, *, resamples: int = RESAMPLES, seed: int = 0, chunk_cells: int = CHUNK_CELLS
) -> Any:
    """``sum(num) / sum(den)`` of each resample of the units ``i`` (``num[i]``, ``den[i]`` drawn
    together; ``den=None``: one per unit); NaN where the resampled denominator is not positive."""
    (draws,) = shared_ratio_draws(num, [den], resamples=resamples, seed=seed, chunk_cells=chunk_cells)
    return draws


def shared_ratio_draws(
    num: Any,
    dens: Sequence[Any],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    chunk_cells: int = CHUNK_CELLS,
) -> list[Any]:
    """:func:`ratio_draws` of ``num`` over each of ``dens``, all on the same resamples, drawn once
    (the same numbers as separate calls with one seed, at the cost of one draw)."""
    import numpy as np

    x = np.asarray(num, dtype=float)
    ds = [np.ones_like(x) if den is None else np.asarray(den, dtype=float) for den in dens]
    for d in ds:
        if x.shape != d.shape:
            raise ValueError(f"num and den differ in length ({x.size} vs {d.size})")
    outs = [np.empty(max(resamples, 0)) for _ in ds]
    packed, bits = _packed_counts([x, *ds])
    mask = (1 << bits) - 1

    def fill(start: int, stop: int, sums: Any) -> None:
        top, bottoms = sums & mask, [(sums >> (bits * (k + 1))) & mask for k in range(len(ds))]
        for bottom, out in zip(bottoms, outs, strict=True):
            with np.errstate(invalid="ignore", divide="ignore"):
                out[start:stop] = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1), np.nan)

    if packed is not None:
        kinds, counts = np.unique(packed, return_counts=True)
        if kinds.size * MULTINOMIAL_MIN_RATIO <= x.size and resamples > 0:
            # Units of the same counts are interchangeable: a resample's sums depend only on how many
            # units of each kind it draws, which is multinomial. Drawing those numbers (one row of
            # ``kinds.size`` per resample) gives the same distribution as drawing n indices.
            rng = np.random.default_rng(seed)
            drawn = rng.multinomial(x.size, counts / x.size, size=resamples)
            fill(0, resamples, drawn @ kinds)
            return outs
    for start, stop, idx in resample_indices(x.size, resamples, seed, chunk_cells=chunk_cells):
        if packed is not None:  # one gather for all: the sums of small counts, each in its own bits
            fill(start, stop, packed[idx].sum(axis=1))
            continue
        top, bottoms = x[idx].sum(axis=1), [d[idx].sum(axis=1) for d in ds]
        for bottom, out in zip(bottoms, outs, strict=True):
            with np.errstate(invalid="ignore", divide="ignore"):
                out[start:stop] = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1), np.nan)
    return outs


def _packed_counts(arrays: list[Any]) -> tuple[Any, int]:
    """Counts (whole numbers >= 0) packed into one int64 per unit, each array in its own bits, when
    every resample's sum fits there: then one gather sums them all, exactly (a float sum of whole
    numbers below 2**53 is exact too, so the ratios are the same). (None, 0) when they do not fit."""
    import numpy as np

    bits = 63 // len(arrays)
    n = arrays[0].size
    for a in arrays:
        if n == 0 or a.min() < 0 or not np.array_equal(a, np.floor(a)) or a.max() * n >= 2**bits:
            return None, 0
    packed = np.zeros(n, dtype=np.int64)
    for k, a in enumerate(arrays):
        packed |= a.astype(np.int64) << (bits * k)
    return packed, bits


def percentile_interval(values: Any, level: float = LEVEL, *, finite_only: bool = False) -> Interval:
    """The central ``level`` percentile interval of ``values``; NaN (and None) values are left out, and
    with ``finite_only`` infinite ones too."""
    import numpy as np

    if isinstance(values, np.ndarray):
        arr = values.astype(float, copy=False)
    else:
        arr = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    kept = arr[np.isfinite(arr)] if finite_only else arr[~np.isnan(arr)]
    if kept.size == 0:
        return Interval(None, None)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(kept, [tail, 100 - tail])
    return Interval(float(low), float(high))


def bootstrap_ratio(
    num: Sequence[float],
    den: Sequence[float] | None = None,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
    finite_only: bool = True,
) -> Interval:
    """Percentile interval of ``sum(num) / sum(den)`` resampling units (clusters) with replacement.

    ``den=None`` means one per unit, i.e. the interval of the mean of ``num``. A resample whose
    denominator is zero (or, unless ``finite_only=False``, whose ratio is infinite) is left out; no
    units or ``resamples <= 0`` give ``Interval(None, None)``.
    """
    check_level(level)
    if den is not None and len(num) != len(den):
        raise ValueError(f"num and den differ in length ({len(num)} vs {len(den)})")
    if len(num) == 0 or resamples <= 0:
        return Interval(None, None)
    draws = ratio_draws(num, den, resamples=resamples, seed=seed)
    return percentile_interval(draws, level, finite_only=finite_only)


def bootstrap_mean(
    values: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
    chunk_cells: int = CHUNK_CELLS,
) -> Interval:
    """Percentile interval of the mean of ``values``, items resampled; empty or ``resamples <= 0``
    give ``Interval(None, None)``."""
    check_level(level)
    if len(values) == 0 or resamples <= 0:
        return Interval(None, None)
    return percentile_interval(
        mean_draws(values, resamples=resamples, seed=seed, chunk_cells=chunk_cells), level
    )


def sign_test(successes: int, trials: int) -> float:
    """Two-sided exact binomial test at p = 0.5: the p-value of ``successes`` in ``trials``.

    What ``scipy.stats.binomtest(successes, trials, 0.5).pvalue`` gives, to 1e-8 relative (the float
    rounding of the log-gamma of a million trials; the tests check it):
    at p = 0.5 both tails are alike, so the p-value is twice the smaller tail, at most 1. The tail is
    summed from its largest term outwards until the terms no longer change the sum (a few hundred
    terms even for a million trials). No trial gives 1.
    """
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    k = min(successes, trials - successes)
    if 2 * k >= trials:
        return 1.0
    # the largest term of the tail, P(X = k), in logs (2 ** -trials underflows for large trials)
    term = math.exp(
        math.lgamma(trials + 1) - math.lgamma(k + 1) - math.lgamma(trials - k + 1) - trials * math.log(2)
    )
    total = 0.0
    i = k
    while term > 0.0:
        total += term
        if i == 0 or term < total * 1e-17:
            break
        term *= i / (trials - i + 1)  # P(X = i - 1) / P(X = i)
        i -= 1
    return min(1.0, 2.0 * total)
