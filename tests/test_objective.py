"""The DSL objective term by term, against values computed by hand (SPEC §3)."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from softtopic.models import TopicData
from softtopic.models.neural import cross_entropy_reconstruction, kl_reconstruction
from softtopic.models.prodlda import DSLProdLDA, ProdLDA, ProdLDANetwork
from softtopic.trainer import train_network

P = torch.tensor([[0.8, 0.2]])
Q = torch.tensor([[0.5, 0.5]])


def test_kl_reconstruction_is_kl_of_target_from_prediction():
    # KL(P || Q) = 0.8 ln(0.8/0.5) + 0.2 ln(0.2/0.5); the reverse, KL(Q || P), is 0.5 ln(0.625) + 0.5 ln(2.5).
    forward = 0.8 * math.log(1.6) + 0.2 * math.log(0.4)
    assert kl_reconstruction(P, Q).item() == pytest.approx(forward, rel=1e-6)
    assert kl_reconstruction(Q, P).item() == pytest.approx(0.5 * math.log(0.625) + 0.5 * math.log(2.5), rel=1e-6)
    assert kl_reconstruction(P, P).item() == pytest.approx(0.0, abs=1e-7)
    # A zero in the target contributes nothing (0 log 0 = 0), one in the prediction is clamped at 1e-9.
    assert kl_reconstruction(torch.tensor([[1.0, 0.0]]), Q).item() == pytest.approx(math.log(2), rel=1e-5)
    assert kl_reconstruction(Q, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(
        0.5 * math.log(0.5) + 0.5 * math.log(0.5 / 1e-9), rel=1e-5)


def test_cross_entropy_reconstruction_by_hand():
    counts = torch.tensor([[2.0, 0.0, 1.0]])
    prediction = torch.tensor([[0.5, 0.25, 0.25]])
    # -(2 ln 0.5 + 1 ln 0.25) = 4 ln 2
    assert cross_entropy_reconstruction(counts, prediction).item() == pytest.approx(4 * math.log(2), rel=1e-6)
    assert ProdLDA(num_topics=2).reconstruction(counts, prediction).item() == pytest.approx(4 * math.log(2), rel=1e-6)


def gaussian_kl(mu, var, prior_mean, prior_var):
    """Textbook KL(N(mu, var) || N(prior_mean, prior_var)) of one coordinate."""
    return 0.5 * (math.log(prior_var / var) + (var + (mu - prior_mean) ** 2) / prior_var - 1.0)


@pytest.fixture
def network():
    torch.manual_seed(0)
    net = ProdLDANetwork(input_dim=6, vocab_size=5, num_topics=3, hidden=(8,), dropout=0.2)
    with torch.no_grad():  # non-trivial running statistics, so that batch normalisation is visible
        net.beta_norm.running_mean.copy_(torch.tensor([0.3, -0.2, 0.1, 0.0, 0.5]))
        net.beta_norm.running_var.copy_(torch.tensor([0.5, 2.0, 1.5, 0.8, 3.0]))
    return net.eval()


def test_gaussian_kl_helper_by_hand():
    # KL(N(1, 1) || N(0, 0.5)) = 0.5 (ln 0.5 + 2 / 0.5 - 1);  KL(N(0, 2) || N(0.5, 0.5)) = 0.5 (ln 0.25 + 2.25 / 0.5 - 1)
    assert gaussian_kl(1.0, 1.0, 0.0, 0.5) == pytest.approx(0.5 * (math.log(0.5) + 3.0))
    assert gaussian_kl(0.0, 2.0, 0.5, 0.5) == pytest.approx(0.5 * (math.log(0.25) + 3.5))
    assert gaussian_kl(0.3, 0.7, 0.3, 0.7) == 0.0


def network_kl_by_hand(network, x):
    """The network's KL(q(z|x) || prior) per document, summed by hand over topics from its posterior."""
    with torch.no_grad():
        mu, logvar = network.encoder(x)
        _, kl = network(x)
    prior_mean = getattr(network, "prior_mean", torch.zeros_like(network.prior_var))  # a learned prior has one
    var = logvar.exp()
    expected = [sum(gaussian_kl(float(mu[d, k]), float(var[d, k]), float(prior_mean[k]), float(network.prior_var[k]))
                    for k in range(mu.shape[1])) for d in range(len(x))]
    return kl.numpy(), np.array(expected)


def test_prior_kl_of_the_logistic_normal_by_hand(network):
    """The prior starts as the Laplace approximation of Dirichlet(1): mean 0, variance 1 - 1/K; any other
    prior enters the KL as a Gaussian's."""
    torch.testing.assert_close(network.prior_var.detach(), torch.full((3,), 1 - 1 / 3))
    if hasattr(network, "prior_mean"):
        torch.testing.assert_close(network.prior_mean.detach(), torch.zeros(3))
    x = torch.randn(4, 6)
    kl, expected = network_kl_by_hand(network, x)
    np.testing.assert_allclose(kl, expected, rtol=1e-5)
    with torch.no_grad():
        network.prior_var.copy_(torch.tensor([0.5, 2.0, 1.5]))
        if hasattr(network, "prior_mean"):
            network.prior_mean.copy_(torch.tensor([0.3, -0.2, 0.0]))
    kl, expected = network_kl_by_hand(network, x)
    np.testing.assert_allclose(kl, expected, rtol=1e-5)
    assert (kl > 0).all()


@pytest.mark.parametrize("tau", [1.0, 3.0])
def test_decoder_is_softmax_of_batch_normalised_theta_beta_over_tau(network, tau):
    x = torch.randn(4, 6)
    torch.manual_seed(1)
    prediction, _ = network(x, tau)
    torch.manual_seed(1)  # the same posterior draw, by hand
    mu, logvar = network.encoder(x)
    theta = torch.softmax(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar), dim=-1)
    logits = theta @ network.beta
    normalised = (logits - network.beta_norm.running_mean) / torch.sqrt(network.beta_norm.running_var + 1e-5)
    expected = torch.softmax(normalised / tau, dim=-1)
    torch.testing.assert_close(prediction, expected)
    assert not torch.allclose(prediction, torch.softmax(normalised, dim=-1)) or tau == 1.0


def dsl_data(logits):
    n, v = logits.shape
    return TopicData(bow=sp.csr_matrix((n, v), dtype=np.float32), vocabulary=[f"w{i}" for i in range(v)],
                     logits=logits, hidden=np.zeros((n, 2), dtype=np.float32))


def test_dsl_target_is_the_tempered_soft_label_with_top_k_masked_and_renormalised():
    logits = np.array([[3.0, 1.0, 2.0, 0.0], [0.0, 4.0, 1.0, 2.0]], dtype=np.float32)
    data = dsl_data(logits)
    rows = np.arange(2)
    full = DSLProdLDA(num_topics=2, tau=2.0).targets(data, rows)
    expected_full = np.exp(logits / 2.0) / np.exp(logits / 2.0).sum(1, keepdims=True)
    np.testing.assert_allclose(full.numpy(), expected_full, rtol=1e-6)
    top2 = DSLProdLDA(num_topics=2, tau=2.0, target_top_k=2).targets(data, rows)
    # row 0 keeps words 0 and 2 (logits 3, 2); row 1 keeps words 1 and 3 (logits 4, 2)
    e = math.exp(0.5)  # row 0: softmax([3, 2] / 2); row 1: softmax([4, 2] / 2) = [e, 1] / (e + 1)
    expected = np.array([[e / (e + 1), 0, 1 / (e + 1), 0], [0, math.e / (math.e + 1), 0, 1 / (math.e + 1)]])
    np.testing.assert_allclose(top2.numpy(), expected, rtol=1e-6)


def test_dsl_reconstruction_is_weighted_kl_or_the_ce_ablation():
    kl_model = DSLProdLDA(num_topics=2, kl_weight=10.0)
    ce_model = DSLProdLDA(num_topics=2, kl_weight=10.0, loss="ce")
    kl = 0.8 * math.log(1.6) + 0.2 * math.log(0.4)
    ce = -(0.8 * math.log(0.5) + 0.2 * math.log(0.5))  # = ln 2
    assert kl_model.reconstruction(P, Q).item() == pytest.approx(10 * kl, rel=1e-6)
    assert ce_model.reconstruction(P, Q).item() == pytest.approx(10 * ce, rel=1e-6)
    # CE and KL differ by the target's entropy, which no parameter can change.
    entropy = -(0.8 * math.log(0.8) + 0.2 * math.log(0.2))
    assert ce == pytest.approx(kl + entropy)
    with pytest.raises(ValueError, match=r"DSL loss must be one of \['kl', 'ce'\], got 'mse'"):
        DSLProdLDA(num_topics=2, loss="mse")


@pytest.mark.parametrize("name", ["dsl", "prodlda"])
def test_the_training_loss_is_prior_kl_plus_reconstruction_with_the_models_tau(monkeypatch, name):
    """fit() adds KL(q || prior) and the reconstruction per document, and tempers the decoder by the model's tau."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(8, 5)).astype(np.float32)
    data = dsl_data(logits)
    data.bow = sp.csr_matrix(rng.poisson(1.0, (8, 5)).astype(np.float32) + np.eye(8, 5, dtype=np.float32))
    model = DSLProdLDA(num_topics=2, tau=2.5, kl_weight=7.0, epochs=1, batch_size=8) if name == "dsl" \
        else ProdLDA(num_topics=2, epochs=1, batch_size=8)
    seen = {}
    forward = ProdLDANetwork.forward

    def spy(self, x, tau=1.0):
        prediction, kl = forward(self, x, tau)
        seen.update(tau=tau, prediction=prediction.detach(), kl=kl.detach())
        return prediction, kl

    first = {}

    def spy_train(network, inputs, targets, loss_fn, *args, **kwargs):
        every = np.arange(len(inputs))  # the whole corpus as one batch (fit passes rows built per batch)
        first.update(loss=loss_fn(inputs[every], targets[every]).item(), target=targets[every], **seen)
        return train_network(network, inputs, targets, loss_fn, *args, **kwargs)

    monkeypatch.setattr(ProdLDANetwork, "forward", spy)
    monkeypatch.setattr("softtopic.models.neural.train_network", spy_train)
    model.fit(data, seed=0)
    assert first["tau"] == seen["tau"] == (2.5 if name == "dsl" else 1.0)
    # the loss of the first call, recomputed from the prediction and KL that call saw
    expected = first["kl"].sum() + model.reconstruction(first["target"], first["prediction"]).sum()
    assert first["loss"] == pytest.approx(float(expected), rel=1e-5)
