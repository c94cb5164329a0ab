"""The BoW baselines learn planted themes; θ is inferred in eval mode; the trainer takes any N."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from softtopic.models import TopicData, make_model
from softtopic.models.prodlda import ProdLDANetwork
from softtopic.trainer import TrainingSettings, train_network


@pytest.fixture(scope="module")
def themes():
    """Three planted themes, each with its own eight words; documents draw from their theme's words."""
    rng = np.random.default_rng(7)
    n, k, words = 150, 3, 8
    theme = np.arange(n) % k
    rates = np.full((n, k * words), 0.05)
    for t in range(k):
        rates[theme == t, t * words : (t + 1) * words] = 3.0
    bow = sp.csr_matrix(rng.poisson(rates).astype(np.float32))
    return TopicData(bow=bow, vocabulary=[f"t{j // words}w{j % words}" for j in range(k * words)]), theme


def agreement(assignment, theme, k):
    """Share of documents in the majority theme of their topic, with each topic a distinct theme."""
    table = np.zeros((k, k), dtype=int)
    np.add.at(table, (assignment, theme), 1)
    assert sorted(table.argmax(1)) == list(range(k)), table  # every theme has a topic of its own
    return table.max(1).sum() / len(theme)


@pytest.mark.parametrize(("name", "params"), [("prodlda", dict(epochs=20, batch_size=16, hidden=(64, 64), lr=5e-3)),
                                              ("lda", dict(passes=10, iterations=50))])
def test_bow_baselines_recover_planted_themes(themes, name, params):
    data, theme = themes
    model = make_model(name, num_topics=3, **params)
    model.fit(data, seed=0)
    rows = model.documents()
    assert agreement(model.theta().argmax(1), theme[rows], 3) > 0.9
    for topic in model.beta():  # each topic's top words come from one theme
        assert len({data.vocabulary[j][:2] for j in np.argsort(-topic)[:5]}) == 1


def test_mean_theta_is_the_eval_mode_posterior_mean():
    torch.manual_seed(0)
    network = ProdLDANetwork(input_dim=5, vocab_size=7, num_topics=3, hidden=(8,), dropout=0.5, theta_samples=4)
    x = torch.randn(20, 5)
    network.train()
    for _ in range(3):  # move the batch-norm running statistics away from their start
        network(x)
    network.eval()
    mu, logvar = network.encoder(x)
    # common random numbers: the same 4 standard-normal draws, from a generator seeded by the seed, for every document
    noise = torch.randn((4, 3), generator=torch.Generator().manual_seed(5))
    expected = torch.softmax(mu + noise[:, None, :] * torch.exp(0.5 * logvar), dim=-1).mean(0)
    network.train()
    torch.manual_seed(123)  # the global RNG plays no part
    theta = network.infer_theta(x, seed=5)
    assert not network.training
    torch.testing.assert_close(theta, expected)
    # in eval mode the encoder has no dropout and fixed statistics: μ is the same on every call
    torch.manual_seed(6)
    torch.testing.assert_close(network.encoder(x)[0], mu)
    network.train()
    assert not torch.allclose(network.encoder(x)[0], mu)


def test_fitted_theta_is_inferred_in_eval_mode():
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(24, 4)).astype(np.float32)
    data = TopicData(bow=sp.csr_matrix((24, 6), dtype=np.float32), vocabulary=list("abcdef"),
                     logits=rng.normal(size=(24, 6)).astype(np.float32), hidden=hidden)
    model = make_model("dsl", num_topics=2, epochs=2, batch_size=8, hidden=(8,))
    model.fit(data, seed=0)
    assert not model.network.training
    other = model.network.infer_theta(torch.as_tensor(hidden), seed=1).numpy()
    np.testing.assert_allclose(other, model.theta(), rtol=0, atol=0.2)  # other draws, same network and mode: close
    assert np.abs(other - model.theta()).max() > 0
    # fit infers θ with the draws of the run's seed
    np.testing.assert_array_equal(model.network.infer_theta(torch.as_tensor(hidden), seed=0).numpy(), model.theta())


@pytest.mark.parametrize(("n", "batch_size", "sizes"), [(33, 16, [16, 17]), (17, 16, [17]), (32, 16, [16, 16]),
                                                        (35, 16, [16, 16, 3])])
def test_trainer_folds_a_trailing_batch_of_one(n, batch_size, sizes):
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    inputs, targets = torch.randn(n, 3), torch.randn(n, 4)
    seen = []

    def loss(x, y):
        seen.append(len(x))
        return ((network(x) - y) ** 2).sum()

    history = train_network(network, inputs, targets, loss, TrainingSettings(epochs=2, batch_size=batch_size), seed=0)
    assert seen == sizes * 2 and len(history) == 2
    assert all(np.isfinite(history))


def test_dsl_trains_when_n_mod_batch_size_is_one():
    rng = np.random.default_rng(0)
    data = TopicData(bow=sp.csr_matrix((33, 6), dtype=np.float32), vocabulary=list("abcdef"),
                     logits=rng.normal(size=(33, 6)).astype(np.float32),
                     hidden=rng.normal(size=(33, 4)).astype(np.float32))
    model = make_model("dsl", num_topics=2, epochs=2, batch_size=16, hidden=(8,))
    history = model.fit(data, seed=0)
    assert len(history) == 2 and model.theta().shape == (33, 2)
