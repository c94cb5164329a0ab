import numpy as np
import pytest
import scipy.sparse as sp

from softtopic.models import INPUTS, MODELS, TopicData, make_model
from softtopic.output import ModelOutput


@pytest.fixture(scope="module")
def data():
    """Two planted themes: hidden states and LM logits that point to each theme's words."""
    rng = np.random.default_rng(0)
    n, vocab_size, hidden_size = 120, 30, 16
    theme = np.arange(n) % 2
    logits = rng.normal(0, 0.5, (n, vocab_size)).astype(np.float32)
    logits[theme == 0, :15] += 3.0
    logits[theme == 1, 15:] += 3.0
    hidden = rng.normal(0, 1, (n, hidden_size)).astype(np.float32) + theme[:, None] * 2.0
    counts = rng.poisson(np.where(np.arange(vocab_size) < 15, 1.0, 0.1)[None, :] * (1 - theme[:, None])
                         + np.where(np.arange(vocab_size) >= 15, 1.0, 0.1)[None, :] * theme[:, None])
    counts[5] = 0  # a document with an empty BoW
    bow = sp.csr_matrix(counts.astype(np.float32))
    embeddings = rng.normal(0, 1, (n, 8)).astype(np.float32) + theme[:, None]
    return TopicData(bow=bow, vocabulary=[f"w{i}" for i in range(vocab_size)], logits=logits, hidden=hidden,
                     embeddings=embeddings)


FAST = {"dsl": dict(epochs=20, batch_size=16, tau=2.0), "prodlda": dict(epochs=20, batch_size=16),
        "lda": dict(passes=2, iterations=20), "zeroshottm": dict(epochs=20, batch_size=16),
        "combinedtm": dict(epochs=20, batch_size=16), "bertopic": dict(n_init=2)}


@pytest.mark.parametrize("name", sorted(FAST))
def test_output_shapes_and_distributions(data, name):
    model = make_model(name, num_topics=4, **FAST[name])
    model.fit(data, seed=0)
    theta, beta = model.theta(), model.beta()
    rows = model.documents()
    assert theta.shape == (len(rows), 4) and beta.shape == (4, 30)
    np.testing.assert_allclose(theta.sum(1), 1, rtol=1e-4)
    np.testing.assert_allclose(beta.sum(1), 1, rtol=1e-4)
    if name == "dsl":
        assert len(rows) == 120  # DSL needs no BoW and keeps every document
    else:
        assert 5 not in rows and len(rows) == 119


def test_dsl_loss_falls_and_is_deterministic(data):
    first = make_model("dsl", num_topics=2, **FAST["dsl"])
    history = first.fit(data, seed=3)
    assert np.mean(history[-5:]) < 0.75 * np.mean(history[:5])
    second = make_model("dsl", num_topics=2, **FAST["dsl"])
    assert second.fit(data, seed=3) == history
    np.testing.assert_array_equal(first.theta(), second.theta())


def test_dsl_recovers_planted_themes(data):
    model = make_model("dsl", num_topics=2, **{**FAST["dsl"], "epochs": 40})
    model.fit(data, seed=0)
    assignment = model.theta().argmax(1)
    theme = np.arange(120) % 2
    agreement = max((assignment == theme).mean(), (assignment != theme).mean())
    assert agreement > 0.9


def test_unknown_model_and_missing_lm_outputs_are_named(data):
    with pytest.raises(ValueError, match="unknown model 'nmf'"):
        make_model("nmf", num_topics=2)
    with pytest.raises(ValueError, match="needs the LM stage"):
        make_model("dsl", num_topics=2).fit(TopicData(bow=data.bow, vocabulary=data.vocabulary), seed=0)


def test_model_output_round_trip(tmp_path):
    beta = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype=np.float32)
    output = ModelOutput(theta=np.array([[0.9, 0.1]], dtype=np.float32), beta=beta, doc_index=np.array([4]),
                         vocabulary=["a", "b", "c"], config={"model": "dsl", "tau": 3.0}, history=[2.0, 1.0], top_n=2)
    output.save(tmp_path / "output.npz")
    loaded = ModelOutput.load(tmp_path / "output.npz")
    assert loaded.top_words() == [["a", "b"], ["c", "a"]]
    assert loaded.config == {"model": "dsl", "tau": 3.0} and loaded.history == [2.0, 1.0]
    np.testing.assert_array_equal(loaded.theta, output.theta)
    with pytest.raises(ValueError, match="theta has 2 topics, beta 3"):
        ModelOutput(theta=np.ones((1, 2)), beta=np.ones((3, 3)), doc_index=np.array([0]), vocabulary=list("abc"))


def test_every_model_names_what_it_reads():
    for name, cls in MODELS.items():
        assert cls.requires and cls.requires <= INPUTS, name
    assert MODELS["dsl"].requires == {"lm"} and MODELS["lda"].requires == {"bow"}
    assert MODELS["combinedtm"].requires == {"bow", "embeddings"}


@pytest.mark.parametrize("name", ["zeroshottm", "combinedtm", "bertopic"])
def test_contextual_models_name_missing_embeddings(data, name):
    with pytest.raises(ValueError, match="document embeddings"):
        make_model(name, num_topics=2).fit(TopicData(bow=data.bow, vocabulary=data.vocabulary), seed=0)


def test_contextual_encoders_read_what_the_paper_says(data):
    rows = np.arange(10)
    zeroshot = make_model("zeroshottm", num_topics=2).inputs(data, rows)
    combined = make_model("combinedtm", num_topics=2).inputs(data, rows)
    assert zeroshot.shape == (10, 8) and combined.shape == (10, 30 + 8)
    np.testing.assert_array_equal(combined[:, :30].numpy(), data.bow[:10].toarray())
    np.testing.assert_array_equal(combined[:, 30:].numpy(), zeroshot.numpy())


@pytest.mark.parametrize("name", ["dsl", "prodlda"])
def test_learned_prior_moves_and_fixed_prior_stays(data, name):
    num_topics = 4
    initial_var = np.full(num_topics, 1 - 1 / num_topics, dtype=np.float32)
    learned = make_model(name, num_topics=num_topics, **FAST[name])
    learned.fit(data, seed=0)
    parameters = dict(learned.network.named_parameters())
    assert "prior_mean" in parameters and "prior_var" in parameters
    assert np.abs(parameters["prior_mean"].detach().numpy()).max() > 1e-5  # BatchNorm keeps mu centred
    assert np.abs(parameters["prior_var"].detach().numpy() - initial_var).max() > 1e-3
    fixed = make_model(name, num_topics=num_topics, learn_priors=False, **FAST[name])
    fixed.fit(data, seed=0)
    assert "prior_mean" not in dict(fixed.network.named_parameters())
    np.testing.assert_array_equal(fixed.network.prior_mean.numpy(), np.zeros(num_topics))
    np.testing.assert_array_equal(fixed.network.prior_var.numpy(), initial_var)
