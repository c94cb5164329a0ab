"""The topic browser in a real headless browser (Debian's chromium over the DevTools pipe): it loads from
disk without console errors, shows K topics for a run, and selecting a topic shows its words and documents."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from softtopic.browser import page_documents, render_page, run_data
from softtopic.headless import Chromium, find_chromium
from softtopic.output import ModelOutput
from softtopic.topics import labelled, summarise

LABELS = ["business", "politics", "sport"]


def synthetic_run(num_topics: int, documents: int, seed: int, vocabulary: list[str]) -> ModelOutput:
    rng = np.random.default_rng(seed)
    theta = rng.dirichlet(np.full(num_topics, 0.3), size=documents)
    beta = rng.dirichlet(np.full(len(vocabulary), 0.1), size=num_topics)
    return ModelOutput(theta=theta, beta=beta, doc_index=np.arange(documents), vocabulary=vocabulary,
                       config={"corpus": "demo", "model": f"m{num_topics}", "num_topics": num_topics, "seed": seed})


def build_page(path, sizes=(4, 7), documents=120):
    vocabulary = [f"word{i}" for i in range(60)]
    frame = pd.DataFrame({
        "doc_id": [f"doc{i}" for i in range(documents)],
        "text": [f"Document {i} about {LABELS[i % 3]} and <b>markup</b> {'long text ' * 30}" for i in range(documents)],
        "label": [LABELS[i % 3] for i in range(documents)],
        "source_row": range(documents),
    })
    rows = np.arange(documents)
    docs, gold = page_documents(frame, rows, 160)
    position = {int(r): i for i, r in enumerate(rows)}
    runs = []
    for seed, k in enumerate(sizes):
        output = synthetic_run(k, documents, seed, vocabulary)
        coherence = {"per_topic": {"c_v": [0.5] * k, "c_npmi": [0.05] * k}}
        topics = labelled(summarise(output, frame, coherence), {"labeller": "test", "labels": [f"label {j}" for j in range(k)]})
        runs.append(run_data(f"m{k}/K{k}/seed{seed}", output, topics, position, 3, "test"))
    path.write_text(render_page("demo", docs, gold, runs), encoding="utf-8")
    return runs


@pytest.fixture(scope="module")
def chromium():
    if not find_chromium():
        if os.environ.get("SOFTTOPIC_REQUIRE_CHROMIUM") == "1":  # set by .ci/run: there it must run
            pytest.fail("no chromium on PATH (apt-get install chromium)")
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    with Chromium() as browser:
        yield browser


def count(browser, selector):
    return browser.evaluate(f"document.querySelectorAll({json.dumps(selector)}).length")


def text(browser, selector):
    return browser.evaluate(f"document.querySelector({json.dumps(selector)}).textContent")


def test_page_shows_k_topics_and_a_picked_topic_with_its_words_and_documents(chromium, tmp_path):
    page = tmp_path / "browser.html"
    runs = build_page(page)
    chromium.open(page)
    assert chromium.evaluate("typeof window.topicBrowserReady") == "number"
    assert count(chromium, "#map circle") == count(chromium, "#topics .topic-item") == 4
    assert count(chromium, "#run option") == 2 and count(chromium, "#gold option") == 4  # "all" + 3 labels

    chromium.evaluate("const s = document.getElementById('run'); s.value = '1'; s.dispatchEvent(new Event('change'))")
    assert count(chromium, "#map circle") == count(chromium, "#topics .topic-item") == 7

    chromium.evaluate("document.querySelector('#map circle[data-topic=\"5\"]').dispatchEvent(new MouseEvent('click'))")
    topic = runs[1]["topics"][5]
    assert text(chromium, "#topic-title") == "Topic 5: label 5"
    words = chromium.evaluate("[...document.querySelectorAll('#words .bar .name')].map(e => e.textContent)")
    assert words == topic["words"]
    shown = chromium.evaluate("[...document.querySelectorAll('#representatives .doc')].map(e => e.dataset.doc)")
    assert shown == [f"doc{d}" for d in topic["docs"]]
    assert count(chromium, "#topic circle.picked") == 0 and count(chromium, "#map circle.picked") == 1
    assert "<b>" not in chromium.evaluate("document.getElementById('representatives').innerHTML").replace("&lt;b&gt;", "")
    assert chromium.errors == []


def test_search_shows_theta_bars_and_the_gold_filter_restricts_documents(chromium, tmp_path):
    page = tmp_path / "browser.html"
    build_page(page)
    chromium.open(page)
    chromium.evaluate("const q = document.getElementById('search'); q.value = 'Document 17 '; q.dispatchEvent(new Event('input'))")
    chromium.evaluate("new Promise(r => setTimeout(r, 400))")
    assert chromium.evaluate("[...document.querySelectorAll('#results .doc')].map(e => e.dataset.doc)") == ["doc17"]
    assert 1 <= count(chromium, "#results .doc .bar.theta") <= 3

    chromium.evaluate("const g = document.getElementById('gold'); g.value = '2'; g.dispatchEvent(new Event('change'))")
    shown = chromium.evaluate("[...document.querySelectorAll('#representatives .doc')].map(e => Number(e.dataset.doc.slice(3)))")
    assert shown and all(d % 3 == 2 for d in shown)  # sport documents only
    assert chromium.errors == []


def test_a_script_error_is_caught(chromium, tmp_path):
    """The check the tests above rest on: an error in the page reaches `errors`."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    chromium.open(page)
    assert any("undefinedFunction" in e for e in chromium.errors)
    chromium.errors.clear()
