import numpy as np
import pytest

from softtopic.metrics.clustering import clustering_scores, harmonic_purity, inverse_purity, purity
from softtopic.metrics.coherence import Reference, coherence_report
from softtopic.metrics.diversity import inverted_rbo, rank_biased_overlap, topic_diversity

LABELS = ["a", "a", "a", "b", "b", "c"]
CLUSTERS = [0, 0, 1, 1, 1, 1]


def test_purity_family_on_a_hand_made_case():
    # cluster 0 = {a, a}: dominant 2; cluster 1 = {a, b, b, c}: dominant 2 -> purity 4/6
    assert purity(LABELS, CLUSTERS) == pytest.approx(4 / 6)
    # class a: best cluster holds 2; b: 2; c: 1 -> inverse purity 5/6
    assert inverse_purity(LABELS, CLUSTERS) == pytest.approx(5 / 6)
    assert harmonic_purity(LABELS, CLUSTERS) == pytest.approx(2 * (4 / 6) * (5 / 6) / (4 / 6 + 5 / 6))


def test_perfect_and_trivial_clusterings():
    theta_perfect = np.eye(3)[[0, 0, 0, 1, 1, 2]]
    perfect = clustering_scores(LABELS, theta_perfect)
    assert perfect["purity"] == perfect["inverse_purity"] == perfect["nmi"] == pytest.approx(1.0)
    one_cluster = clustering_scores(LABELS, np.ones((6, 1)))
    assert one_cluster["purity"] == pytest.approx(3 / 6)
    assert one_cluster["inverse_purity"] == pytest.approx(1.0)
    assert one_cluster["nmi"] == pytest.approx(0.0)


def test_topic_diversity():
    assert topic_diversity([["a", "b"], ["c", "d"]]) == 1.0
    assert topic_diversity([["a", "b"], ["a", "c"]]) == 0.75


def test_rank_biased_overlap_bounds_and_order():
    assert rank_biased_overlap(list("abcd"), list("abcd")) == pytest.approx(1.0)
    assert rank_biased_overlap(list("abcd"), list("efgh")) == pytest.approx(0.0)
    top_agree = rank_biased_overlap(list("abcd"), list("abxy"))
    bottom_agree = rank_biased_overlap(list("abcd"), list("xycd"))
    assert 0 < bottom_agree < top_agree < 1
    assert inverted_rbo([list("abc"), list("abc")]) == pytest.approx(0.0)
    assert inverted_rbo([list("abc"), list("def")]) == pytest.approx(1.0)


def test_coherent_topics_score_higher_than_mixed_ones():
    sport = ["match", "goal", "team", "player", "score"]
    money = ["bank", "shares", "market", "profit", "price"]
    texts = [sport[:3] + [sport[(i % 2) + 3]] for i in range(20)] + [money[:3] + [money[(i % 2) + 3]] for i in range(20)]
    reference = Reference.encode(texts, sport + money)
    good = coherence_report([sport, money], reference)
    mixed = coherence_report([sport[:2] + money[:3], money[:2] + sport[:3]], reference)
    assert good["c_v"] > mixed["c_v"]
    assert good["c_npmi"] > mixed["c_npmi"]
