"""DSL-ProdLDA's training knobs beyond the paper (issue 10): input standardisation, the decoder's BatchNorm."""

import copy

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import yaml
from torch import nn

from conftest import REPO
from softtopic.config import ConfigError, validate_schema

from softtopic.models import TopicData, make_model
from softtopic.models.neural import InputStandardizer
from softtopic.models.prodlda import ProdLDANetwork

FAST = dict(epochs=4, batch_size=16, tau=2.0, hidden=(8,))


@pytest.fixture(scope="module")
def data():
    """Two themes; hidden states with features on very different scales and offsets."""
    rng = np.random.default_rng(0)
    n, vocab_size = 64, 12
    theme = np.arange(n) % 2
    logits = rng.normal(0, 0.5, (n, vocab_size)).astype(np.float32)
    logits[theme == 0, :6] += 3.0
    logits[theme == 1, 6:] += 3.0
    hidden = rng.normal(0, 1, (n, 6)) + theme[:, None]
    hidden = (hidden * np.array([1, 50, 0.01, 3, 200, 1]) + np.array([0, 400, -3, 7, 0, 90])).astype(np.float32)
    return TopicData(bow=sp.csr_matrix((n, vocab_size), dtype=np.float32), vocabulary=[f"w{i}" for i in range(vocab_size)],
                     logits=logits, hidden=hidden)


def test_standardizer_uses_the_training_inputs_mean_and_sd(data):
    model = make_model("dsl", num_topics=3, standardize_input=True, **FAST)
    model.fit(data, seed=0)
    norm = model.network.input_norm
    assert isinstance(norm, InputStandardizer)
    np.testing.assert_allclose(norm.mean.numpy(), data.hidden.mean(0), rtol=1e-5)
    np.testing.assert_allclose(norm.std.numpy(), data.hidden.std(0), rtol=1e-5)
    z = norm(torch.as_tensor(data.hidden)).numpy()
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-4)
    # off (the paper): no standardiser at all
    plain = make_model("dsl", num_topics=3, **FAST)
    plain.fit(data, seed=0)
    assert not any(isinstance(m, InputStandardizer) for m in plain.network.modules())


def test_standardizer_applies_at_inference(data):
    model = make_model("dsl", num_topics=3, standardize_input=True, **FAST)
    model.fit(data, seed=0)
    model.network.theta_samples = 0  # softmax(mu): no draws, so batches of any size compare
    x = torch.as_tensor(data.hidden[:10])
    theta = model.network.infer_theta(x)
    bare = copy.deepcopy(model.network)
    bare.input_norm = nn.Identity()  # the same network reading inputs standardised by hand
    by_hand = bare.infer_theta((x - torch.as_tensor(data.hidden.mean(0))) / torch.as_tensor(data.hidden.std(0)))
    torch.testing.assert_close(theta, by_hand, rtol=1e-4, atol=1e-5)
    # the stored statistics are the training set's, not the batch's: one document alone gives the same theta
    one = model.network.infer_theta(x[:2])
    torch.testing.assert_close(one, theta[:2], rtol=1e-4, atol=1e-5)


def test_standardized_model_ignores_each_features_scale_and_offset(data):
    """Standardised, rescaling each feature of the hidden states leaves training unchanged; raw, it does not.
    (Powers of two, so that the standardised inputs are the same floats.)"""
    moved = copy.copy(data)
    moved.hidden = (data.hidden * np.float32(2.0) ** np.arange(-2, 4)).astype(np.float32)
    thetas = {}
    for standardize in (True, False):
        for name, d in (("data", data), ("moved", moved)):
            model = make_model("dsl", num_topics=3, standardize_input=standardize, **FAST)
            model.fit(d, seed=0)
            thetas[standardize, name] = model.theta()
    np.testing.assert_allclose(thetas[True, "data"], thetas[True, "moved"], atol=1e-6)
    assert np.abs(thetas[False, "data"] - thetas[False, "moved"]).max() > 0.05


def test_decoder_without_batch_norm_is_softmax_of_theta_beta_over_tau():
    torch.manual_seed(0)
    network = ProdLDANetwork(input_dim=6, vocab_size=5, num_topics=3, hidden=(8,), decoder_batch_norm="none").eval()
    assert not any(isinstance(m, nn.BatchNorm1d) and m.num_features == 5 for m in network.modules())
    x = torch.randn(4, 6)
    torch.manual_seed(1)
    prediction, _ = network(x, 3.0)
    torch.manual_seed(1)
    mu, logvar = network.encoder(x)
    theta = torch.softmax(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar), dim=-1)
    torch.testing.assert_close(prediction, torch.softmax(theta @ network.beta / 3.0, dim=-1))
    plain = ProdLDANetwork(input_dim=6, vocab_size=5, num_topics=3, hidden=(8,))  # the paper's
    assert isinstance(plain.beta_norm, nn.BatchNorm1d) and plain.beta_norm.num_features == 5
    assert not plain.beta_norm.affine


def test_affine_decoder_batch_norm_learns_a_scale_and_shift_per_word(data):
    model = make_model("dsl", num_topics=3, decoder_batch_norm="affine", **FAST)
    model.fit(data, seed=0)
    norm = model.network.beta_norm
    assert norm.affine and norm.weight.shape == (12,)
    assert np.abs(norm.weight.detach().numpy() - 1).max() > 1e-3  # trained away from the identity
    assert np.abs(norm.bias.detach().numpy()).max() > 1e-3
    plain = make_model("dsl", num_topics=3, **FAST)
    plain.fit(data, seed=0)
    assert "beta_norm.weight" not in dict(plain.network.named_parameters())


def test_decoder_batch_norm_switch_changes_the_trained_topics(data):
    betas = {}
    for switch in ("plain", "none"):  # 'affine' starts as 'plain': its own test checks that it learns
        model = make_model("dsl", num_topics=3, decoder_batch_norm=switch, **FAST)
        model.fit(data, seed=0)
        betas[switch] = model.beta()
        np.testing.assert_allclose(betas[switch].sum(1), 1, rtol=1e-5)
    assert np.abs(betas["plain"] - betas["none"]).max() > 1e-3


def test_unknown_decoder_batch_norm_is_refused():
    with pytest.raises(ValueError, match="'none', 'plain', 'shift' or 'affine', got 'scaled'"):
        ProdLDANetwork(input_dim=6, vocab_size=5, num_topics=3, decoder_batch_norm="scaled")


def test_schema_defaults_are_the_papers_and_the_knobs_are_checked():
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    minimal = {"corpora": {"c": {"path": "p"}}, "lms": {"l": {"source": "s"}},
               "run": {"corpora": ["c"], "lms": ["l"], "models": ["dsl"]}}
    dsl = validate_schema(copy.deepcopy(minimal), schema)["training"]["dsl"]
    assert dsl["standardize_input"] is False and dsl["decoder_batch_norm"] == "plain"
    bad = copy.deepcopy(minimal) | {"training": {"dsl": {"decoder_batch_norm": "scaled"}}}
    with pytest.raises(ConfigError, match="decoder_batch_norm"):
        validate_schema(bad, schema)
