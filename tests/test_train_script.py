"""τ end to end through the training job: the τ of a run's path is the τ of its model and of its output.npz.

`scripts/train_model.py`'s `main` is called in-process with a stand-in for Snakemake's `snakemake` object.
"""

import fcntl
import os
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from softtopic.output import ModelOutput

from conftest import load_script


@pytest.fixture(scope="module")
def train_script():
    return load_script("train_model")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A small corpus with LM outputs of two planted themes."""
    folder = tmp_path_factory.mktemp("train_inputs")
    rng = np.random.default_rng(1)
    n, vocab_size = 40, 12
    theme = np.arange(n) % 2
    logits = rng.normal(0, 1, (n, vocab_size)).astype(np.float32) + 2.0 * (theme[:, None] == (np.arange(vocab_size) < 6))
    hidden = rng.normal(0, 1, (n, 8)).astype(np.float32) + theme[:, None]
    sp.save_npz(folder / "bow.npz", sp.csr_matrix(rng.poisson(1.0, (n, vocab_size)).astype(np.float32)))
    (folder / "vocabulary.txt").write_text("\n".join(f"w{i}" for i in range(vocab_size)) + "\n")
    np.save(folder / "logits.npy", logits)
    np.save(folder / "hidden.npy", hidden)
    np.save(folder / "embeddings.npy", rng.normal(0, 1, (n, 5)).astype(np.float32) + theme[:, None])
    return folder


@pytest.fixture
def run_job(train_script, inputs, tmp_path, monkeypatch, script_globals):
    """Run the training job for one (τ, seed) path; returns (the model it built, its output)."""
    made = []
    real_make_model = train_script.make_model

    def make_model(name, **params):
        made.append(real_make_model(name, **params))
        return made[-1]

    monkeypatch.setattr(train_script, "make_model", make_model)

    def run(tau: str, seed: str = "0", name: str = "dsl", base: str | None = None, settings: dict | None = None,
            reads: tuple = ("logits", "hidden")):
        base = base or name
        folder = tmp_path / f"{name}-tau{tau}-seed{seed}"
        folder.mkdir(exist_ok=True)
        wildcards = SimpleNamespace(corpus="tiny", K="2", seed=seed)
        if base == "dsl":
            wildcards.__dict__.update(lm="smollm2", prompt="default", tau=tau)
        else:
            wildcards.baseline = name
        job = SimpleNamespace(
            input=SimpleNamespace(bow=str(inputs / "bow.npz"), vocabulary=str(inputs / "vocabulary.txt"),
                                  **{field: str(inputs / f"{field}.npy") for field in reads}),
            output=SimpleNamespace(model=str(folder / "output.npz")),
            log=[str(folder / "job.log")],
            params=SimpleNamespace(model=name, base_model=base, top_words=3,
                                   hyperparameters={"epochs": 3, "batch_size": 16, "hidden": [16], **(settings or {})}
                                   if base != "lda" else {"passes": 1, "iterations": 5}),
            wildcards=wildcards,
            threads=torch.get_num_threads(),
        )
        train_script.main(job)
        return made[-1], ModelOutput.load(folder / "output.npz")

    return run


def test_the_tau_of_the_path_reaches_the_model_and_the_output(run_job):
    model, output = run_job("1.5")
    assert model.tau == model.decoder_tau == 1.5  # the target and the decoder share it
    assert output.config["tau"] == 1.5 and output.config["hyperparameters"]["tau"] == 1.5
    assert output.config["model"] == "dsl" and output.config["num_topics"] == 2 and output.config["seed"] == 0
    assert output.theta.shape == (40, 2)


def test_two_taus_give_different_theta_from_the_same_seed(run_job):
    _, low = run_job("1")
    _, again = run_job("1.0")
    _, high = run_job("5")
    np.testing.assert_array_equal(low.theta, again.theta)  # same τ and seed: same numbers
    assert np.abs(low.theta - high.theta).max() > 1e-3
    assert high.config["tau"] == 5.0


def test_baselines_have_no_tau(run_job):
    model, output = run_job(tau=None, name="prodlda")
    assert output.config["tau"] is None and "tau" not in output.config["hyperparameters"]
    assert model.decoder_tau == 1.0  # ProdLDA's decoder is not tempered


def test_a_variant_trains_its_base_model_under_its_own_name(run_job):
    model, output = run_job("3", name="dsl-ce", base="dsl", settings={"loss": "ce", "target_top_k": 4})
    assert type(model).__name__ == "DSLProdLDA" and model.loss == "ce" and model.target_top_k == 4
    assert output.config["model"] == "dsl-ce" and output.config["base_model"] == "dsl"
    assert output.config["hyperparameters"]["loss"] == "ce"


def test_encoder_input_embeddings_reads_the_document_embeddings(run_job, inputs):
    model, output = run_job("3", name="dsl-emb", base="dsl", settings={"encoder_input": "embeddings"},
                            reads=("logits", "embeddings"))  # no hidden states given
    first = model.network.encoder.hidden[0]
    assert first.in_features == np.load(inputs / "embeddings.npy").shape[1] == 5
    assert output.theta.shape == (40, 2)


def test_bow_target_needs_no_logits(run_job):
    model, output = run_job("2", name="dsl-bow", base="dsl", settings={"target": "bow", "loss": "ce"},
                            reads=("hidden",))  # no logits given
    assert model.target == "bow" and output.theta.shape == (40, 2)


def test_one_writer_per_run_directory(run_job, tmp_path):
    """Issue 19: an orphaned training job still writing output.npz stops a second one, naming its PID."""
    (tmp_path / "dsl-tau1-seed0").mkdir()
    lock = open(tmp_path / "dsl-tau1-seed0" / "output.npz.lock", "w")  # as the other job holds it
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        with pytest.raises(RuntimeError, match=rf"dsl-tau1-seed0 is being written by another training job \(PID {os.getpid()}\)"):
            run_job("1")
        assert not (tmp_path / "dsl-tau1-seed0" / "output.npz").exists()
    finally:
        lock.close()
    run_job("1")
    assert not (tmp_path / "dsl-tau1-seed0" / "output.npz.lock").exists()


def test_encoder_input_hidden_and_embeddings_reads_both_side_by_side(run_job, inputs):
    """Issue 15: `hidden+embeddings` feeds the encoder both, each block scaled to the same weight."""
    model, output = run_job("3", name="dsl-both", base="dsl", settings={"encoder_input": "hidden+embeddings"},
                            reads=("logits", "hidden", "embeddings"))
    assert model.network.encoder.hidden[0].in_features == 8 + 5
    both = np.concatenate([np.load(inputs / "hidden.npy"), np.load(inputs / "embeddings.npy")], axis=1)
    scaled = model.network.input_norm(torch.as_tensor(both)).detach().numpy()
    for block in (scaled[:, :8], scaled[:, 8:]):  # each block centred, mean squared norm 1
        np.testing.assert_allclose(block.mean(0), 0, atol=1e-5)
        assert (block**2).sum(1).mean() == pytest.approx(1, rel=1e-4)
    assert output.theta.shape == (40, 2)
