"""Our coherence equals gensim's CoherenceModel per topic, on hand-made and real text."""

import numpy as np
import pytest

from softtopic.metrics.coherence import Reference, coherence_report, gensim_coherence, presence, topic_coherences
from softtopic.sources import bbc_records
from softtopic.vocabulary import build_vocabulary, filter_to_vocabulary, tokenize

MEASURES = [("c_v", 110), ("c_npmi", 10), ("c_uci", 10), ("u_mass", None)]


def gensim_per_topic(topics, texts, measure, window):
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    model = CoherenceModel(
        topics=topics, texts=texts, dictionary=Dictionary(texts), coherence=measure,
        window_size=window, topn=max(map(len, topics)), processes=1,
    )
    return np.asarray(model.get_coherence_per_topic())


def test_sliding_window_follows_gensim_incremental_rule():
    # "a" at 0 and 2 with window 3: windows [a b a], [b a c], [a c d], [c d a]. gensim marks "a" absent
    # in window 1 (its first token slid out) although "a" is still inside, and back in window 3.
    reference = Reference.encode([["a", "b", "a", "c", "d", "a"]], ["a", "b", "c", "d"])
    found = presence(reference, np.array([0, 1, 2]), window=3)
    assert found.num_windows == 4
    assert found.counts().tolist() == [2, 2, 3]  # a: windows 0, 3 (not 1, 2); b: 0, 1; c: 1, 2, 3
    assert found.starts[:2].tolist() == [0, 3] and found.ends[:2].tolist() == [1, 4]


def test_short_and_empty_documents_are_one_window_each():
    reference = Reference.encode([["a", "b"], [], ["b", "x"]], ["a", "b"])
    found = presence(reference, np.array([0, 1]), window=110)
    assert found.num_windows == 3 and found.counts().tolist() == [1, 2]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("measure,window", MEASURES + [("c_v", 2), ("c_npmi", 3), ("c_v", 7)])
def test_equals_gensim_on_random_small_corpora(seed, measure, window):
    """Small vocabularies make words repeat inside windows, the case where gensim's rule matters."""
    rng = np.random.default_rng(seed)
    size = int(rng.integers(3, 10))
    vocabulary = [f"w{i}" for i in range(size + 2)]  # the last two never occur: missing words
    texts = [[vocabulary[j] for j in rng.integers(0, size, rng.integers(0, 30))] for _ in range(rng.integers(2, 15))]
    texts.append(vocabulary[:2])
    topics = [list(rng.choice(vocabulary, 5, replace=False)) for _ in range(4)]
    topics = [t for t in topics if sum(w in vocabulary[:size] for w in t) >= 2]  # >= 2 words may occur
    ours, missing = topic_coherences(topics, Reference.encode(texts, vocabulary), measure, window)
    expected = gensim_per_topic(topics, texts, measure, window)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)
    seen = {w for text in texts for w in text}
    assert missing == [[w for w in t if w not in seen] for t in topics]


@pytest.fixture(scope="module")
def bbc_texts():
    records = bbc_records()[::8]  # 279 articles over all five classes
    tokens = [tokenize(r["text"]) for r in records]
    vocabulary = build_vocabulary(tokens, 2000)
    return vocabulary, filter_to_vocabulary(tokens, vocabulary)


@pytest.mark.parametrize("measure,window", MEASURES)
def test_equals_gensim_on_bbc_articles(bbc_texts, measure, window):
    vocabulary, texts = bbc_texts
    rng = np.random.default_rng(1)
    topics = [list(rng.choice(vocabulary[:400], 12, replace=False)) for _ in range(10)]
    topics[0][3] = "unseenword"  # not in the reference: left out, as gensim does, and reported
    ours, missing = topic_coherences(topics, Reference.encode(texts, vocabulary), measure, window)
    assert missing[0] == ["unseenword"] and not any(missing[1:])
    expected = gensim_per_topic(topics, texts, measure, window)
    assert np.abs(ours - expected).max() < 1e-6


def test_report_counts_missing_words_and_round_trips(tmp_path):
    texts = [["apple", "pear", "plum"], ["apple", "pear"], ["plum", "fig"]]
    reference = Reference.encode(texts, ["apple", "pear", "plum", "fig", "kiwi"])
    reference.save(tmp_path / "reference.npz")
    loaded = Reference.load(tmp_path / "reference.npz")
    topics = [["apple", "pear", "kiwi"], ["plum", "fig", "mango"]]
    report = coherence_report(topics, loaded)
    assert report["missing_word_count"] == 2
    assert report["missing_words"] == {"0": ["kiwi"], "1": ["mango"]}
    for measure in ("c_v", "c_npmi"):
        expected = gensim_coherence(topics, texts, measure)
        assert report["per_topic"][measure] == pytest.approx(expected.tolist(), abs=1e-9)
        assert report[measure] == pytest.approx(float(np.mean(expected)), abs=1e-9)


def test_rejects_topics_that_cannot_be_scored():
    reference = Reference.encode([["a", "b"]], ["a", "b", "c"])
    with pytest.raises(ValueError, match="no topic word occurs"):
        topic_coherences([["c"]], reference, "c_v")
    with pytest.raises(ValueError, match="repeats a word"):
        topic_coherences([["a", "a"]], reference, "c_v")
    with pytest.raises(ValueError, match="unknown coherence measure"):
        topic_coherences([["a", "b"]], reference, "c_w2v")


@pytest.mark.parametrize("word_filter", ["release", "simple"])
def test_the_corpus_as_reference_encodes_from_the_vocabulary_texts_as_from_its_documents(
        tmp_path, script_globals, word_filter):
    """encode_reference given the vocabulary stage's texts.txt (the corpus as its own reference) writes the
    same bytes as when it tokenises documents.parquet itself, with a vocabulary small enough that most
    tokens, and whole documents, fall outside it."""
    import zipfile
    from types import SimpleNamespace

    import pandas as pd

    from conftest import load_script

    texts = [r["text"] for r in bbc_records()[::60]] + ["", "a an of", "Xyzzy plugh 123."]
    pd.DataFrame({"text": texts}).to_parquet(tmp_path / "documents.parquet")
    out = {name: str(tmp_path / name) for name in ("vocabulary.txt", "bow.npz", "texts.txt")}
    settings = {"size": 150, "filter": word_filter, "min_word_length": 3}
    load_script("build_vocabulary").main(SimpleNamespace(
        input=SimpleNamespace(documents=str(tmp_path / "documents.parquet")),
        output=SimpleNamespace(vocabulary=out["vocabulary.txt"], bow=out["bow.npz"], texts=out["texts.txt"]),
        params=SimpleNamespace(vocabulary=settings), wildcards=SimpleNamespace(corpus="bbc"),
        log=[str(tmp_path / "vocabulary.log")]))
    encode = load_script("encode_reference").main
    members = {}
    for source, given in (("documents", str(tmp_path / "documents.parquet")), ("tokens", out["texts.txt"])):
        path = tmp_path / f"{source}.npz"
        encode(SimpleNamespace(
            input=SimpleNamespace(vocabulary=out["vocabulary.txt"], **{source: given}),
            output=SimpleNamespace(reference=str(path)),
            params=SimpleNamespace(filter=word_filter, min_word_length=3), log=[str(tmp_path / f"{source}.log")]))
        with zipfile.ZipFile(path) as archive:  # each array's .npy bytes (the zip dates its members)
            members[source] = {name: archive.read(name) for name in archive.namelist()}
    assert members["tokens"] == members["documents"]
    reference = Reference.load(tmp_path / "tokens.npz")
    assert reference.num_docs == len(texts) and reference.doc_lengths[-3:].tolist() == [0, 0, 0]
    assert 0 < reference.token_counts().sum() < sum(len(t.split()) for t in texts) / 2


def test_the_workflow_gives_encode_reference_the_corpus_vocabulary_texts(tmp_path):
    import subprocess
    import sys

    from conftest import REPO

    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--configfile",
         str(REPO / "config" / "test" / "config.yaml"), "-n", "results/bbc/coherence/reference.npz"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    job = (result.stdout + result.stderr).split("rule encode_reference:")[1].split("\n\n")[0]
    assert "input: results/bbc/vocabulary/texts.txt, results/bbc/vocabulary/vocabulary.txt" in job.replace("\n", " ")
