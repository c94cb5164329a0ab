"""Topic diversity: TD and inverted rank-biased overlap (SPEC §5)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations


def topic_diversity(topics: Sequence[Sequence[str]]) -> float:
    """Unique words over all words in the topics' top lists (1 = no word shared)."""
    words = [w for topic in topics for w in topic]
    return len(set(words)) / len(words)


def rank_biased_overlap(first: Sequence[str], second: Sequence[str], p: float = 0.9) -> float:
    """Extrapolated RBO of two equally long ranked lists (Webber et al. 2010, eq. 32)."""
    depth = min(len(first), len(second))
    seen_first, seen_second = set(), set()
    overlap, weighted = 0, 0.0
    for d in range(1, depth + 1):
        a, b = first[d - 1], second[d - 1]
        if a == b:
            overlap += 1
        else:
            overlap += (a in seen_second) + (b in seen_first)
        seen_first.add(a)
        seen_second.add(b)
        weighted += (overlap / d) * p**d
    return (overlap / depth) * p**depth + (1 - p) / p * weighted


def inverted_rbo(topics: Sequence[Sequence[str]], p: float = 0.9) -> float:
    """1 - mean RBO over all topic pairs (1 = topics share nothing)."""
    pairs = list(combinations(topics, 2))
    if not pairs:
        return 1.0
    return 1.0 - sum(rank_biased_overlap(a, b, p) for a, b in pairs) / len(pairs)
