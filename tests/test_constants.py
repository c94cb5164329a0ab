"""Each metric's and table's defining constant, pinned to its outside definition (issue 19): gensim's own
defaults for the coherence measures, and the literals of SPEC.md (the paper's p < .05, I-RBO's p = 0.9,
the top 15 words, P@{1,5,10}, the 1-3 rating scale, the default tau = 3) -- never to the project's own
constant, so that changing one of them (C_V's window 110 -> 100, the Welch threshold .05 -> .5) fails here.
"""

import re

import numpy as np
import pytest
import yaml
from scipy.stats import ttest_ind

from conftest import REPO, SHARED

SPEC = (SHARED / "SPEC.md").read_text() if (SHARED / "SPEC.md").exists() else None
SCHEMA = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())


def spec(pattern: str) -> str:
    """The first group of `pattern` in SPEC.md (the method/metrics spec beside the repository)."""
    if SPEC is None:
        pytest.fail(f"{SHARED / 'SPEC.md'} (the spec) is missing: put the shared material at ../shared beside the "
                    "repository, or set SOFTTOPIC_SHARED to its folder", pytrace=False)
    found = re.search(pattern, SPEC)
    assert found, f"SPEC.md no longer says {pattern!r}"
    return found.group(1)


def schema_default(*keys):
    node = SCHEMA["properties"]
    for key in keys[:-1]:
        node = node[key]["properties"]
    return node[keys[-1]]["default"]


# ---------------------------------------------------------------- coherence: gensim's own defaults
def long_documents(seed=0, documents=12, length=400, words=25):
    """Documents much longer than C_V's window, so that the window size changes the scores."""
    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(words)]
    texts = []
    for _ in range(documents):  # runs of a few words each, so co-occurrence depends on distance
        theme = rng.choice(words, 5, replace=False)
        texts.append([vocabulary[rng.choice(theme)] if rng.random() < 0.7 else vocabulary[rng.integers(words)]
                      for _ in range(length)])
    return texts, vocabulary


@pytest.mark.parametrize("measure", ["c_v", "c_npmi", "c_uci", "u_mass"])
def test_coherence_at_its_default_window_is_gensims_default(measure):
    """Our score with its default window equals gensim's CoherenceModel with gensim's default window
    (window_size=None), on documents long enough for the window to matter."""
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    from softtopic.metrics.coherence import Reference, topic_coherences

    texts, vocabulary = long_documents()
    topics = [vocabulary[i: i + 5] for i in range(0, 20, 5)]
    ours, _ = topic_coherences(topics, Reference.encode(texts, vocabulary), measure)
    gensim = CoherenceModel(topics=topics, texts=texts, dictionary=Dictionary(texts), coherence=measure,
                            topn=5, processes=1).get_coherence_per_topic()
    np.testing.assert_allclose(ours, gensim, rtol=0, atol=1e-9)
    if measure == "c_v":  # the check can fail: another window gives other scores on these documents
        other, _ = topic_coherences(topics, Reference.encode(texts, vocabulary), measure, window=100)
        assert np.abs(other - np.asarray(gensim)).max() > 1e-6


def test_coherence_constants_are_gensims():
    from gensim.models.coherencemodel import SLIDING_WINDOW_SIZES
    from gensim.topic_coherence.direct_confirmation_measure import EPSILON

    from softtopic.metrics import coherence

    assert coherence.WINDOW_SIZES == {m: SLIDING_WINDOW_SIZES[m] for m in coherence.WINDOW_SIZES}
    assert coherence.EPSILON == EPSILON
    assert SLIDING_WINDOW_SIZES["c_v"] == int(spec(r"boolean sliding window (\d+)"))  # SPEC §5 says gensim's


# ---------------------------------------------------------------- the tables: Welch's test at the paper's p
def groups_with_p(p_target: float, seed: int = 0) -> list[np.ndarray]:
    """Two groups of 10 whose one-sided Welch p (first above second) is p_target, by bisection on a shift."""
    rng = np.random.default_rng(seed)
    base, other = rng.normal(0, 1, 10), rng.normal(0, 1.5, 10)
    other = other - other.mean() + base.mean()
    low, high = 0.0, 10.0
    for _ in range(200):
        shift = (low + high) / 2
        p = ttest_ind(base + shift, other, equal_var=False, alternative="greater").pvalue
        low, high = (shift, high) if p > p_target else (low, shift)
    return [base + (low + high) / 2, other]


def test_welch_threshold_is_the_papers_p():
    import pandas as pd

    from softtopic.tables import summarise

    alpha = float(spec(r"best/worst marked by Welch's t-test at p < (\.\d+)"))
    assert alpha == 0.05

    def marked(p: float) -> bool:
        best, other = groups_with_p(p)
        runs = pd.DataFrame({"corpus": "c", "method": ["A"] * 10 + ["B"] * 10, "c_v": np.concatenate([best, other])})
        summary = summarise(runs, ["c_v"])
        return bool(summary.loc[summary["method"] == "A", "best"].item())

    assert marked(alpha * 0.9) and not marked(alpha * 1.1)


def test_the_main_table_caption_states_the_papers_threshold():
    caption = (REPO / "scripts" / "main_table.py").read_text()
    threshold = spec(r"Welch's t-test at p < (\.\d+)")
    assert f"p < {threshold}" in caption


# ---------------------------------------------------------------- the other metric and table constants of SPEC
def test_irbo_p_is_the_specs():
    from softtopic.metrics.diversity import inverted_rbo

    p = float(spec(r"I-RBO \(inverted rank-biased overlap, p = ([\d.]+)\)"))
    topics = [["a", "b", "c", "d"], ["b", "a", "e", "f"], ["c", "e", "a", "g"]]
    assert inverted_rbo(topics) == inverted_rbo(topics, p=p) != inverted_rbo(topics, p=p - 0.1)


def test_top_words_retrieval_cutoffs_rating_scale_and_tau_are_the_specs():
    from softtopic.metrics.rating import ANSWERS
    from softtopic.tables import RETRIEVAL_COLUMNS

    assert schema_default("metrics", "top_words") == int(spec(r"## 5\. Metrics \(top (\d+) words"))
    cutoffs = [int(k) for k in spec(r"Retrieval P@\{([\d,]+)\}").split(",")]
    assert schema_default("metrics", "retrieval_k") == cutoffs
    assert list(RETRIEVAL_COLUMNS) == [f"p@{k}" for k in cutoffs]
    low, high = spec(r"from (\d) \(not very related\) to (\d)"), spec(r"from \d \(not very related\) to (\d)")
    assert ANSWERS == tuple(str(score) for score in range(int(low), int(high) + 1))
    assert schema_default("metrics", "table_tau") == float(spec(r"Default τ = (\d+(?:\.\d+)?)"))
    assert schema_default("training", "dsl", "kl_weight") == float(spec(r"\+ (\d+) \* KL\(softmax"))
