"""Near-duplicate prompts: paraphrases that exact-text deduplication keeps twice.

Public safety sets reuse each other's prompts with small edits (a particle changed, a clause added), so
the pooled substitute held pairs that a sample could draw both of. Two texts are near-duplicates when
the Jaccard similarity of their character-bigram sets (after NFKC folding and whitespace removal) is at
least ``threshold`` (0.7 by default). Character bigrams suit Chinese, which has no word boundaries.

All pairs above the threshold are found exactly, without comparing every pair: with tokens ordered
rarest first, two sets with Jaccard >= t must share a token among the first ``|A| - ceil(t*|A|) + 1``
of each (prefix filtering, Chaudhuri et al. 2006; Bayardo et al. 2007), so only texts sharing such a
token are compared.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from cvalues.data.readers import normalise_text

DEFAULT_THRESHOLD = 0.7


def bigrams(text: str) -> frozenset[str]:
    """Character bigrams of the normalised text (the text itself when shorter than two characters)."""
    key = normalise_text(text)
    if len(key) < 2:
        return frozenset([key]) if key else frozenset()
    return frozenset(key[i : i + 2] for i in range(len(key) - 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def near_duplicate_pairs(
    texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD
) -> list[tuple[int, int, float]]:
    """Every pair ``(i, j, similarity)``, ``i < j``, whose bigram Jaccard similarity is >= ``threshold``."""
    if not 0 < threshold <= 1:
        raise ValueError("threshold must be in (0, 1]")
    sets = [bigrams(t) for t in texts]
    frequency = Counter(token for s in sets for token in s)
    ordered = [sorted(s, key=lambda tok: (frequency[tok], tok)) for s in sets]
    index: dict[str, list[int]] = {}
    pairs: list[tuple[int, int, float]] = []
    # Shorter sets first: a pair is found when the second of them is probed against the first's prefix.
    order = sorted(range(len(texts)), key=lambda i: (len(sets[i]), i))
    for i in order:
        tokens = ordered[i]
        if not tokens:
            continue
        prefix = len(tokens) - math.ceil(threshold * len(tokens)) + 1
        candidates: set[int] = set()
        for token in tokens[:prefix]:
            candidates.update(index.get(token, ()))
        for j in candidates:
            # Length filter: |B| >= t|A| for sets probed in increasing size.
            if len(sets[j]) < threshold * len(tokens):
                continue
            similarity = jaccard(sets[i], sets[j])
            if similarity >= threshold:
                pairs.append((min(i, j), max(i, j), similarity))
        for token in tokens[:prefix]:
            index.setdefault(token, []).append(i)
    return sorted(pairs)
