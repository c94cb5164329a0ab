"""Issue 15: DSL-ProdLDA's options beyond the paper reach the network: the K-means start (`init:
kmeans`), its anchor (`anchor_weight`), the two-block encoder input, and the K-means reference row on it."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.cluster import KMeans

from softtopic.metrics.clustering import purity
from softtopic.models import TopicData, make_model
from softtopic.models.neural import block_scales
from softtopic.models.prodlda import KMeansStart


def planted(n=120, k=3, seed=0):
    """Documents of k planted groups: hidden states and embeddings separate them, the soft label only weakly."""
    rng = np.random.default_rng(seed)
    group = np.arange(n) % k
    centres = rng.normal(0, 4, (k, 16))
    hidden = (centres[group] + rng.normal(0, 1, (n, 16))).astype(np.float32)
    embeddings = (np.eye(k)[group] @ rng.normal(0, 1, (k, 6)) + rng.normal(0, 0.3, (n, 6))).astype(np.float32)
    logits = rng.normal(0, 1, (n, 30)).astype(np.float32) + 0.3 * np.eye(k)[group] @ rng.normal(0, 1, (k, 30))
    data = TopicData(bow=sp.csr_matrix(rng.poisson(1.0, (n, 30)).astype(np.float32)),
                     vocabulary=[f"w{i}" for i in range(30)], logits=logits.astype(np.float32), hidden=hidden,
                     embeddings=embeddings)
    return data, group


def test_block_scales_give_each_block_the_same_weight():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 50, (500, 10)) * np.arange(1, 11), rng.normal(3, 0.01, (500, 4))], axis=1)
    std = block_scales(torch.as_tensor(x.std(0)), ((10, "features"), (4, "whole"))).numpy()
    scaled = (x - x.mean(0)) / std
    assert (scaled[:, :10] ** 2).sum(1).mean() == pytest.approx(1, rel=1e-6)
    assert (scaled[:, 10:] ** 2).sum(1).mean() == pytest.approx(1, rel=1e-6)
    assert np.allclose(scaled[:, :10].std(0), scaled[:, 0].std())  # per feature within the 'features' block
    ratio = scaled[:, 10:].std(0) / x[:, 10:].std(0)
    assert np.allclose(ratio, ratio[0])  # one scale for the whole 'whole' block: its geometry kept
    with pytest.raises(ValueError, match="cover 10 features, the input has 14"):
        block_scales(torch.as_tensor(x.std(0)), ((10, "features"),))


def test_kmeans_start_sets_centroids_beta_and_encoder():
    data, group = planted()
    model = make_model("dsl", num_topics=3, tau=3.0, init="kmeans", epochs=1, batch_size=32, standardize_input=True)
    model.fit(data, seed=0)
    network = model.network
    scaled = network.input_norm(torch.as_tensor(data.hidden)).detach().numpy().astype(np.float64)
    expected = KMeans(3, n_init=10, random_state=0).fit(scaled).cluster_centers_
    np.testing.assert_allclose(network.centroids.numpy(), expected, atol=1e-4)
    # after 20 epochs of the start and one of training, the topics are the clusters
    clusters = network.nearest(torch.as_tensor(scaled, dtype=torch.float32)).numpy()
    assert purity(group, model.theta().argmax(1)) == 1.0 == purity(group, clusters)
    assert (model.theta().argmax(1) == clusters).mean() > 0.95


def test_kmeans_start_beta_is_each_clusters_mean_soft_label():
    data, _ = planted()
    model = make_model("dsl", num_topics=3, tau=3.0, init="kmeans", epochs=1)
    model.fit(data, seed=1)
    x, target = torch.as_tensor(data.hidden), model.targets(data, np.arange(120))
    network = model.build_network(data, 16)
    start = KMeansStart(network, 3)
    start.EPOCHS = 0  # only centroids and beta
    start.apply(x, target, 1, model.settings)
    clusters = network.nearest(network.input_norm(x))
    logs = torch.stack([target[clusters == k].mean(0).log() for k in range(3)])
    torch.testing.assert_close(network.beta.detach(), logs - logs.mean(0), atol=1e-5, rtol=1e-5)


def test_anchor_adds_the_cluster_cross_entropy_to_the_penalty():
    data, _ = planted()
    anchored = make_model("dsl", num_topics=3, tau=3.0, init="kmeans", anchor_weight=10.0, epochs=1)
    anchored.fit(data, seed=0)
    network = anchored.network.eval()
    x = torch.as_tensor(data.hidden[:20])
    torch.manual_seed(0)
    _, with_anchor = network(x)
    network.anchor_weight = 0.0
    torch.manual_seed(0)
    _, without = network(x)
    mu, _ = network.encoder(network.input_norm(x))
    expected = 10.0 * torch.nn.functional.cross_entropy(mu, network.nearest(network.input_norm(x)), reduction="none")
    torch.testing.assert_close(with_anchor - without, expected.detach(), atol=1e-4, rtol=1e-4)


def test_anchor_needs_the_kmeans_start():
    with pytest.raises(ValueError, match="anchor_weight 5.0 needs init 'kmeans'"):
        make_model("dsl", num_topics=3, anchor_weight=5.0)
    with pytest.raises(ValueError, match="DSL init must be 'random' or 'kmeans'"):
        make_model("dsl", num_topics=3, init="pca")


def test_two_block_kmeans_model_saves_and_infers_its_own_theta():
    data, _ = planted()
    model = make_model("dsl", num_topics=3, tau=3.0, encoder_input="hidden+embeddings", init="kmeans",
                       anchor_weight=10.0, epochs=2)
    model.fit(data, seed=0)
    assert model.transform_reads() == {"hidden", "embeddings"}
    tensors, extra = model.export()
    assert {"centroids", "input_norm.mean", "input_norm.std"} <= set(tensors)
    again = make_model("dsl", num_topics=3, tau=3.0, encoder_input="hidden+embeddings", init="kmeans",
                       anchor_weight=10.0, epochs=2)
    again.restore(tensors, extra, data.vocabulary)
    np.testing.assert_allclose(again.transform(data), model.theta(), atol=1e-6)
    # the embeddings are read: changing them changes theta
    shuffled = TopicData(**{**vars(data), "embeddings": data.embeddings[::-1].copy()})
    assert not np.allclose(again.transform(shuffled), model.theta(), atol=1e-3)


def test_kmeans_combined_reference_clusters_both_blocks():
    data, group = planted()
    reference = make_model("kmeans-combined", num_topics=3)
    reference.fit(data, seed=0)
    assert reference.transform_reads() == {"hidden", "embeddings"}
    assert purity(group, reference.theta().argmax(1)) == 1.0
    # the embedding block alone separates the groups here; with the hidden block made noise, still found
    noisy = TopicData(**{**vars(data), "hidden": np.random.default_rng(5).normal(0, 1, data.hidden.shape).astype(np.float32)})
    reference.fit(noisy, seed=0)
    assert purity(group, reference.theta().argmax(1)) > 0.9
    np.testing.assert_allclose(reference.transform(noisy), reference.theta(), atol=1e-5)
