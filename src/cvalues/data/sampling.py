"""Deterministic stratified sampling: how many prompts per scenario, and which.

The default safety suite draws 1,300 prompts (the paper's size) over the 10 scenarios. Allocation is
``equal`` by default: every scenario gets the same share, a scenario with fewer prompts gives all it has
and the rest is shared among the others (water-filling); leftover units go to the largest pools first.
The pooled public sources have arbitrary sizes per scenario (JailBench alone wraps 108 questions in 20
templates), so a proportional sample would mirror source sizes, not anything about the benchmark;
``proportional`` (largest-remainder rounding) is available as an option. Which prompts are drawn within
a scenario is fixed by a seeded hash of their ids, independent of input order.

Records that share ``meta["sample_group"]`` (JailBench's 20 jailbreak templates of one seed question)
count once: each group is represented in its stratum by one member, the one with the lowest seeded hash,
so a sample never holds two templates of the same seed and the allocation counts seeds, not templates.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Literal

from cvalues.data.schema import PromptRecord

Allocation = Literal["equal", "proportional"]
ALLOCATIONS: tuple[str, ...] = ("equal", "proportional")


def _order(sizes: Mapping[str, int]) -> list[str]:
    """Strata by pool size (largest first), then name: who gets leftover units first."""
    return sorted(sizes, key=lambda k: (-sizes[k], k))


def allocate(sizes: Mapping[str, int], total: int, method: Allocation = "equal") -> dict[str, int]:
    """Units per stratum summing to ``min(total, sum(sizes))``, never above a stratum's size."""
    if total < 0:
        raise ValueError("sample size must be >= 0")
    if method not in ALLOCATIONS:
        raise ValueError(f"unknown allocation {method!r}; choose {' or '.join(ALLOCATIONS)}")
    available = sum(sizes.values())
    if total >= available:
        return dict(sizes)
    quota = dict.fromkeys(sizes, 0)
    if method == "proportional":
        exact = {k: sizes[k] * total / available for k in sizes}
        quota = {k: math.floor(v) for k, v in exact.items()}
        left = total - sum(quota.values())
        by_remainder = sorted(sizes, key=lambda k: (-(exact[k] - quota[k]), -sizes[k], k))
        for k in by_remainder[:left]:
            quota[k] += 1
        return quota
    remaining = total
    open_ = [k for k in _order(sizes) if sizes[k] > 0]
    while open_:
        share = remaining // len(open_)
        full = [k for k in open_ if sizes[k] <= share]
        if not full:
            for k in open_:
                quota[k] = share
            for k in open_[: remaining - share * len(open_)]:
                quota[k] += 1
            break
        for k in full:
            quota[k] = sizes[k]
            remaining -= sizes[k]
        open_ = [k for k in open_ if k not in full]
    return quota


def sample_key(seed: int, record_id: str) -> str:
    return hashlib.sha256(f"{seed}:{record_id}".encode()).hexdigest()


def one_per_group(records: Sequence[PromptRecord], seed: int = 0) -> list[PromptRecord]:
    """``records`` with each ``meta["sample_group"]`` reduced to its member of lowest seeded hash."""
    best: dict[str, PromptRecord] = {}
    for record in records:
        group = record.meta.get("sample_group")
        if group is None:
            continue
        held = best.get(group)
        if held is None or sample_key(seed, record.id) < sample_key(seed, held.id):
            best[group] = record
    return [r for r in records if r.meta.get("sample_group") is None or best[r.meta["sample_group"]] is r]


def stratified_sample(
    records: Sequence[PromptRecord], total: int, seed: int = 0, method: Allocation = "equal"
) -> tuple[list[PromptRecord], dict[str, int]]:
    """Draw ``total`` records stratified by category; returns (records in input order, quota)."""
    strata: dict[str, list[PromptRecord]] = {}
    for record in one_per_group(records, seed):
        strata.setdefault(record.category, []).append(record)
    quota = allocate({k: len(v) for k, v in strata.items()}, total, method)
    chosen: set[str] = set()
    for key, members in strata.items():
        ranked = sorted(members, key=lambda r: sample_key(seed, r.id))
        chosen.update(r.id for r in ranked[: quota[key]])
    return [r for r in records if r.id in chosen], quota
