"""All twelve models and the two K-means reference rows train through Snakemake on 400 real StackOverflow
titles (100 of each of 4 labels), in one run."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml

from softtopic.metrics.clustering import purity
from softtopic.output import ModelOutput

from conftest import REPO, shared_dataset_path
from test_workflow import snakemake

pytestmark = pytest.mark.workflow
CONFIG = REPO / "config" / "test" / "stackoverflow.yaml"
# wordpress, subversion, matlab, magento: on 20 labels, 400 titles of ~8 words were too few for the BoW
# models to beat chance (with the release filter, ProdLDA and LDA at K = 10 gave purity 0.127 and 0.143
# against 0.143 and 0.153 for shuffled labels).
LABELS = ("1", "3", "6", "20")
PER_LABEL = 100
DOCUMENTS = len(LABELS) * PER_LABEL
NUM_TOPICS = 5


def copy_titles(source, dest, labels, per_label):
    """The first `per_label` titles of each of `labels`. Rows with quote characters are skipped, so the
    copy reads the same whether or not the TSV reader processes quotes."""
    taken: dict[str, int] = {}
    with open(source, newline="") as handle, open(dest, "w", newline="") as out:
        header = handle.readline()
        out.write(header)
        for line in handle:
            text, label = line.rstrip("\r\n").rsplit("\t", 1)
            if label not in labels or '"' in text or "\t" in text or taken.get(label, 0) >= per_label:
                continue
            taken[label] = taken.get(label, 0) + 1
            out.write(line)
    return sum(taken.values())


def chance_purity(labels, clusters, draws=200, seed=0):
    """The 99th percentile of purity when the same cluster sizes meet randomly shuffled labels."""
    rng = np.random.default_rng(seed)
    return float(np.quantile([purity(rng.permutation(labels), clusters) for _ in range(draws)], 0.99))


@pytest.fixture(scope="module")
def models_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("stackoverflow")
    (workdir / "data" / "raw").mkdir(parents=True)
    documents = copy_titles(shared_dataset_path("stackoverflow.tsv"), workdir / "data/raw/stackoverflow.tsv", LABELS,
                            PER_LABEL)
    assert documents == DOCUMENTS
    snakemake(workdir, CONFIG, "reports/stackoverflow/metrics.csv", "results/stackoverflow/vocabulary/word2vec.npy")
    return workdir


def model_outputs(workdir):
    config = yaml.safe_load(CONFIG.read_text())
    outputs = {}
    for model in config["run"]["models"] + ["kmeans-embeddings", "kmeans-hidden"]:  # and the reference rows
        (path,) = (workdir / "results/stackoverflow/models" / model).rglob("output.npz")
        outputs[model] = ModelOutput.load(path)
    return outputs


def test_every_model_gives_distributions_and_topics(models_run):
    vocabulary = (models_run / "results/stackoverflow/vocabulary/vocabulary.txt").read_text().split()
    for model, output in model_outputs(models_run).items():
        assert output.theta.shape == (len(output.doc_index), NUM_TOPICS), model
        np.testing.assert_allclose(output.theta.sum(1), 1, atol=1e-4, err_msg=model)
        np.testing.assert_allclose(output.beta.sum(1), 1, atol=1e-4, err_msg=model)
        topics = output.top_words()
        assert len(topics) == NUM_TOPICS, model
        for words in topics:
            assert len(set(words)) == 15 and set(words) <= set(vocabulary), model


def test_every_model_clusters_above_chance(models_run):
    labels = pd.read_parquet(models_run / "results/stackoverflow/corpus/documents.parquet")["label"].astype(str)
    table = pd.read_csv(models_run / "reports/stackoverflow/metrics.csv").set_index("model")
    for model, output in model_outputs(models_run).items():
        covered = labels.to_numpy()[output.doc_index]
        clusters = output.theta.argmax(1)
        chance = chance_purity(covered, clusters)
        assert table.loc[model, "purity"] == pytest.approx(purity(covered, clusters), abs=1e-4), model
        assert table.loc[model, "purity"] > chance, f"{model}: purity {table.loc[model, 'purity']:.3f} <= {chance:.3f}"


def test_bow_models_leave_out_empty_documents(models_run):
    bow = sp.load_npz(models_run / "results/stackoverflow/vocabulary/bow.npz")
    nonempty = int((bow.getnnz(axis=1) > 0).sum())
    assert nonempty < bow.shape[0]  # titles with no vocabulary word exist, so the difference shows
    table = pd.read_csv(models_run / "reports/stackoverflow/metrics.csv").set_index("model")
    for model in ("prodlda", "lda", "zeroshottm", "combinedtm", "bertopic", "etm", "ecrtm", "fastopic"):
        assert table.loc[model, "documents"] == nonempty, model
    for model in ("dsl", "dsl-etm", "dsl-ecrtm", "dsl-fastopic"):  # they need no BoW: every title
        assert table.loc[model, "documents"] == bow.shape[0], model
    log = (models_run / "logs/stackoverflow/models/prodlda/K5/seed0.log").read_text()
    assert f"{bow.shape[0] - nonempty} of {bow.shape[0]} documents left out (empty BoW)" in log


def test_embeddings_and_word_vectors_are_cached_per_corpus(models_run, tmp_path):
    results = models_run / "results/stackoverflow"
    embeddings = np.load(results / "embeddings/all-minilm-l6-v2/raw/embeddings.npy")
    assert embeddings.shape == (DOCUMENTS, 384) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-4)
    texts = (results / "vocabulary/texts.txt").read_text().splitlines()
    vocabulary = (results / "vocabulary/vocabulary.txt").read_text().split()
    assert len(texts) == DOCUMENTS and all(set(line.split()) <= set(vocabulary) for line in texts)
    assert np.load(results / "vocabulary/word2vec.npy").shape == (len(vocabulary), 50)
    config = yaml.safe_load(CONFIG.read_text())
    config["training"]["zeroshottm"]["epochs"] = 41
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(config))
    plan = snakemake(models_run, changed, "-n", "reports/stackoverflow/metrics.csv")
    assert "rule train_baseline" in plan and "embed_documents" not in plan


def test_runs_on_embeddings_record_the_raw_text_and_give_their_theta(models_run):
    """Protocol fair (the config's default): the cards of the runs on document embeddings say the encoder
    read the raw text, and a reloaded run gives the training titles its theta (softtopic.trained)."""
    import json

    from softtopic.trained import load_run

    results = models_run / "results/stackoverflow"
    for model in ("zeroshottm", "combinedtm", "bertopic", "fastopic", "kmeans-embeddings", "prodlda"):
        (card,) = (results / "models" / model).rglob("model.json")
        assert json.loads(card.read_text())["encoder_text"] == (None if model == "prodlda" else "raw"), model
    (folder,) = {path.parent for path in (results / "models/kmeans-embeddings").rglob("model.json")}
    output = ModelOutput.load(folder / "output.npz")
    titles = pd.read_parquet(results / "corpus/documents.parquet")["text"].tolist()
    theta = load_run(folder).transform(titles)
    assert np.abs(theta[output.doc_index] - output.theta).max() <= 1e-6
