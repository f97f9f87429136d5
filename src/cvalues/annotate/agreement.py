"""How much annotators agree, and the settled label of each answer.

Input is a mapping ``unit -> {annotator: value}`` (a unit is one answer; a value is ``"safe"`` /
``"unsafe"`` or a score 1-10). Definitions:

* **Krippendorff's alpha** over every unit with at least two values, by the ``krippendorff`` package:
  nominal for safety labels, interval for 1-10 scores. None when fewer than two such units exist or
  the data has no variation (alpha is undefined there).
* **Cohen's kappa** for each pair of annotators over the units both labelled: ``(p_o - p_e) / (1 - p_e)``
  with ``p_e`` from each annotator's own marginals; unweighted for safety, quadratic-weighted for
  scores (the usual choice for an ordinal 1-10 scale). None when the pair shares no unit or
  ``p_e == 1``.
* **Agreement with the majority** (safety): for each annotator, the share of their labels equal to the
  majority of the *other* annotators of that unit (units where the others tie, or where nobody else
  labelled, are left out; ``n`` counts those used). For scores: the mean absolute difference from the
  mean of the other annotators' scores.
* **Settled label** (:func:`settle`): the admin's adjudication where there is one; else the majority
  label (safety; a tie settles nothing) or the mean score (responsibility).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Mapping
from itertools import combinations
from typing import Any

Units = Mapping[Hashable, Mapping[str, Any]]


def _numeric(value: Any, nominal: bool) -> float:
    if nominal:
        return {"safe": 1.0, "unsafe": 0.0}[value] if isinstance(value, str) else float(value)
    return float(value)


def krippendorff_alpha(units: Units, *, nominal: bool) -> float | None:
    """Krippendorff's alpha (nominal or interval) over units with two or more values."""
    import numpy as np

    pairable = [u for u in units.values() if len(u) >= 2]
    if len(pairable) < 1:
        return None
    annotators = sorted({a for u in pairable for a in u})
    values = {_numeric(v, nominal) for u in pairable for v in u.values()}
    if len(values) < 2:
        return None
    import krippendorff

    matrix = np.full((len(annotators), len(pairable)), np.nan)
    index = {a: i for i, a in enumerate(annotators)}
    for j, unit in enumerate(pairable):
        for a, v in unit.items():
            matrix[index[a], j] = _numeric(v, nominal)
    alpha = krippendorff.alpha(
        reliability_data=matrix, level_of_measurement="nominal" if nominal else "interval"
    )
    return None if math.isnan(alpha) else float(alpha)


def cohen_kappa(a: list[Any], b: list[Any], *, weights: str | None = None) -> float | None:
    """Cohen's kappa of two equally long label lists; ``weights="quadratic"`` for ordinal scores."""
    if len(a) != len(b):
        raise ValueError("cohen_kappa needs two lists of the same length")
    n = len(a)
    if n == 0:
        return None
    categories = sorted(set(a) | set(b), key=lambda x: (str(type(x)), x))
    if weights is None:
        p_o = sum(x == y for x, y in zip(a, b, strict=True)) / n
        ca, cb = Counter(a), Counter(b)
        p_e = sum(ca[c] * cb[c] for c in categories) / (n * n)
        if p_e == 1:
            return None
        return (p_o - p_e) / (1 - p_e)
    if weights != "quadratic":
        raise ValueError("weights must be None or 'quadratic'")
    # Weighted: 1 - sum(w * observed) / sum(w * expected), w = (i - j)^2 over the score values.
    ca, cb = Counter(a), Counter(b)
    observed = sum((float(x) - float(y)) ** 2 for x, y in zip(a, b, strict=True)) / n
    expected = sum(ca[x] * cb[y] * (float(x) - float(y)) ** 2 for x in ca for y in cb) / (n * n)
    if expected == 0:
        return None
    return 1 - observed / expected


def pairwise_kappa(units: Units, *, weights: str | None = None) -> list[dict[str, Any]]:
    """Cohen's kappa for every pair of annotators over the units both labelled."""
    annotators = sorted({a for u in units.values() for a in u})
    out = []
    for x, y in combinations(annotators, 2):
        shared = [u for u in units.values() if x in u and y in u]
        kappa = cohen_kappa([u[x] for u in shared], [u[y] for u in shared], weights=weights)
        out.append({"a": x, "b": y, "n": len(shared), "kappa": kappa})
    return out


def majority(values: list[Any]) -> Any | None:
    """The most common value, or None on a tie for first place (or no values)."""
    if not values:
        return None
    top = Counter(values).most_common()
    if len(top) > 1 and top[0][1] == top[1][1]:
        return None
    return top[0][0]


def vs_majority(units: Units) -> dict[str, dict[str, Any]]:
    """For each annotator: share of labels equal to the other annotators' majority, and its count."""
    agree: Counter[str] = Counter()
    used: Counter[str] = Counter()
    for unit in units.values():
        for a, v in unit.items():
            others = majority([w for b, w in unit.items() if b != a])
            if others is None:
                continue
            used[a] += 1
            agree[a] += v == others
    annotators = sorted({a for u in units.values() for a in u})
    return {a: {"n": used[a], "agreement": agree[a] / used[a] if used[a] else None} for a in annotators}


def vs_mean(units: Units) -> dict[str, dict[str, Any]]:
    """For each annotator: mean absolute difference of their scores from the others' mean score."""
    total: dict[str, float] = {}
    used: Counter[str] = Counter()
    for unit in units.values():
        for a, v in unit.items():
            others = [float(w) for b, w in unit.items() if b != a]
            if not others:
                continue
            used[a] += 1
            total[a] = total.get(a, 0.0) + abs(float(v) - sum(others) / len(others))
    annotators = sorted({a for u in units.values() for a in u})
    return {a: {"n": used[a], "mae": total[a] / used[a] if used[a] else None} for a in annotators}


def agreement_report(units: Units, task: str) -> dict[str, Any]:
    """Alpha, pairwise kappa and agreement with the others, as one JSON-ready dict."""
    nominal = task == "safety"
    return {
        "task": task,
        "units": len(units),
        "units_with_2_or_more": sum(1 for u in units.values() if len(u) >= 2),
        "alpha": krippendorff_alpha(units, nominal=nominal),
        "alpha_level": "nominal" if nominal else "interval",
        "pairwise_kappa": pairwise_kappa(units, weights=None if nominal else "quadratic"),
        "kappa_weights": None if nominal else "quadratic",
        "vs_others": vs_majority(units) if nominal else vs_mean(units),
    }


def settle(values: list[Any], task: str, adjudicated: Any | None = None) -> Any | None:
    """The settled value of one answer: adjudication, else majority (safety) or mean (scores)."""
    if adjudicated is not None:
        return adjudicated
    if not values:
        return None
    if task == "safety":
        return majority(values)
    return sum(float(v) for v in values) / len(values)


def disagrees(values: list[Any], task: str, *, spread: float = 2.0) -> bool:
    """Whether an answer's labels call for adjudication: safety labels differ, or scores spread >= 2."""
    if len(values) < 2:
        return False
    if task == "safety":
        return len(set(values)) > 1
    return max(float(v) for v in values) - min(float(v) for v in values) >= spread
