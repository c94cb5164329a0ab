"""Retrieval P@k on hand-computed cases, and the chunked ranking against a brute-force one."""

import numpy as np
import pytest
import scipy.sparse as sp

from softtopic.metrics.retrieval import kl_distances, nearest, precision_at_k


def test_two_clear_groups():
    theta = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8]])
    scores = precision_at_k(theta, ["x", "x", "y", "y"], ks=(1, 3))
    # each document's nearest other is its group mate; its 3 others hold 1 mate
    assert scores == {"p@1": pytest.approx(1.0), "p@3": pytest.approx(1 / 3)}


def test_kl_direction_is_query_to_document():
    q, d1, d2 = [1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.6, 0.2, 0.2]
    distances = kl_distances(np.array([q]), np.array([d1, d2]))
    np.testing.assert_allclose(distances[0], [np.log(2), np.log(1 / 0.6)])
    # q -> d2 (same label a); d1 -> d2 (KL .367 against a clamped zero of q); d2 -> d1 (one clamped
    # zero instead of two): 1 hit in 3 queries
    assert precision_at_k(np.array([q, d1, d2]), ["a", "b", "a"], ks=(1,))["p@1"] == pytest.approx(1 / 3)


def test_ties_go_to_the_earlier_document_and_the_query_is_excluded():
    theta = np.array([[0.5, 0.5]] * 4)
    np.testing.assert_array_equal(nearest(kl_distances(theta, theta), np.arange(4), 2), [[1, 2], [0, 2], [0, 1], [0, 1]])
    assert precision_at_k(theta, ["a", "b", "b", "a"], ks=(1,))["p@1"] == pytest.approx((0 + 0 + 1 + 0) / 4)


def test_bow_cosine_on_a_hand_made_case():
    bow = sp.csr_matrix(np.array([[2, 0, 1], [4, 0, 2], [0, 3, 0], [0, 1, 1], [0, 0, 0]], dtype=float))
    # doc0 ~ doc1 (cosine 1); doc2 -> doc3 (.71); doc3 -> doc2 (.71, against .32 for doc0 and doc1);
    # doc4 is empty: everything at distance 1, the tie goes to doc0 (label a)
    scores = precision_at_k(bow, ["a", "a", "b", "b", "b"], ks=(1,), distance="cosine")
    assert scores["p@1"] == pytest.approx((1 + 1 + 1 + 1 + 0) / 5)
    np.testing.assert_array_equal(nearest(1 - np.zeros((1, 5)), np.array([4]), 2), [[0, 1]])


def brute_force(theta, labels, k):
    n = len(labels)
    total = 0.0
    for q in range(n):
        d = [(sum(a * np.log(max(a, 1e-12) / max(b, 1e-12)) for a, b in zip(theta[q], theta[j])), j) for j in range(n) if j != q]
        top = [j for _, j in sorted(d)[:k]]
        total += np.mean([labels[j] == labels[q] for j in top])
    return total / n


@pytest.mark.parametrize("block", [1, 7, 1000])
def test_blocks_change_nothing_and_match_brute_force(block):
    rng = np.random.default_rng(0)
    theta = rng.dirichlet(np.full(4, 0.3), size=40)
    theta[3] = theta[5]  # an exact tie
    labels = rng.integers(0, 3, size=40)
    scores = precision_at_k(theta, labels, ks=(1, 5, 10), block=block)
    for k in (1, 5, 10):
        assert scores[f"p@{k}"] == pytest.approx(brute_force(theta, labels, k), abs=1e-12)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="3 representations but 2 labels"):
        precision_at_k(np.eye(3), ["a", "b"])
    with pytest.raises(ValueError, match="unknown retrieval distance"):
        precision_at_k(np.eye(3), ["a", "b", "c"], distance="l2")
