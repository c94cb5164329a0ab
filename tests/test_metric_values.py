"""ARI, RBO and I-RBO against values computed by hand."""

import numpy as np
import pytest

from softtopic.metrics.clustering import clustering_scores
from softtopic.metrics.diversity import inverted_rbo, rank_biased_overlap

LABELS = ["a", "a", "a", "b", "b", "c"]


def test_ari_perfect_one_cluster_and_by_hand():
    assert clustering_scores(LABELS, np.eye(3)[[2, 2, 2, 0, 0, 1]])["ari"] == pytest.approx(1.0)
    assert clustering_scores(LABELS, np.ones((6, 1)))["ari"] == pytest.approx(0.0)
    # clusters {a, a} and {a, b, b, c}: sum C(n_ij, 2) = 2, rows 4, columns 1 + 6 = 7, C(6, 2) = 15
    expected_index = 4 * 7 / 15
    ari = (2 - expected_index) / ((4 + 7) / 2 - expected_index)
    scores = clustering_scores(LABELS, np.eye(2)[[0, 0, 1, 1, 1, 1]])
    assert scores["ari"] == pytest.approx(ari)  # 0.0367
    assert scores["nmi"] != pytest.approx(ari, abs=0.01)


def rbo_by_hand(overlaps, p=0.9):
    """Extrapolated RBO from the overlap X_d at each depth d = 1..k (Webber et al. 2010, eq. 32)."""
    k = len(overlaps)
    return overlaps[-1] / k * p**k + (1 - p) / p * sum(x / d * p**d for d, x in enumerate(overlaps, start=1))


def test_rbo_counts_overlap_at_different_ranks():
    # abcd vs badc: X = 0, 2, 2, 4 -> 0.1/0.9 (0.81 + 2/3 0.729 + 0.6561) + 0.6561
    assert rbo_by_hand([0, 2, 2, 4]) == pytest.approx(0.1 / 0.9 * (0.81 + 0.486 + 0.6561) + 0.6561)
    assert rank_biased_overlap(list("abcd"), list("badc")) == pytest.approx(0.873, abs=5e-4)
    assert rank_biased_overlap(list("abcd"), list("badc")) == pytest.approx(rbo_by_hand([0, 2, 2, 4]))
    # abcd vs xyab: a and b only appear two ranks lower -> X = 0, 0, 1, 2
    assert rank_biased_overlap(list("abcd"), list("xyab")) == pytest.approx(rbo_by_hand([0, 0, 1, 2]))
    # abcd vs axbc: X = 1, 1, 2, 3; symmetric in its arguments
    assert rank_biased_overlap(list("abcd"), list("axbc")) == pytest.approx(rbo_by_hand([1, 1, 2, 3]))
    assert rank_biased_overlap(list("axbc"), list("abcd")) == pytest.approx(rbo_by_hand([1, 1, 2, 3]))
    assert rank_biased_overlap(list("abcd"), list("axbc"), p=0.5) == pytest.approx(rbo_by_hand([1, 1, 2, 3], 0.5))


def test_inverted_rbo_is_one_minus_the_mean_over_pairs():
    topics = [list("abcd"), list("badc"), list("xyab")]
    pairs = [rbo_by_hand([0, 2, 2, 4]), rbo_by_hand([0, 0, 1, 2]), rbo_by_hand([0, 0, 1, 2])]
    # badc vs xyab: b at 1 vs 4, a at 2 vs 3 -> X = 0, 0, 1, 2
    assert inverted_rbo(topics) == pytest.approx(1 - sum(pairs) / 3)
    assert inverted_rbo([list("abcd")]) == 1.0
