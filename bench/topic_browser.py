"""Benchmark: the topic browser's file size and open time in headless Chromium on a 20,000-document corpus.

The page is built by the workflow's own code (softtopic.topics, softtopic.browser) for the default grid's
shape: 24 runs, 12 at K=10 and 12 at K=20, over the 20,000 StackOverflow titles (20 gold labels). theta and beta are drawn (seeded) from Dirichlet distributions, so the page holds as
much as a real run's would. It is opened `--repeats` times in a fresh headless Chromium; printed per
open: the seconds from the navigation request to the load event, and the page's own ready time
(performance.now() when the first run is drawn, i.e. from navigation start); then the time to switch runs
and to filter by a gold label.

    .venv/bin/python bench/topic_browser.py                      # ../shared/datasets/stackoverflow.tsv
    .venv/bin/python bench/topic_browser.py --page reports/bbc/topic_browser.html --screenshot docs/browser.png \
        --run 0 --topic 3 --query election                        # a real page; the README's screenshot
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from softtopic.browser import page_documents, render_page, run_data
from softtopic.headless import Chromium
from softtopic.output import ModelOutput
from softtopic.topics import labelled, summarise


def load_corpus(args) -> pd.DataFrame:
    table = pd.read_csv(args.texts, sep="\t", dtype=str, keep_default_na=False).iloc[: args.documents]
    return pd.DataFrame({"doc_id": [f"doc{i}" for i in range(len(table))], "text": table["text"],
                         "label": table["label"], "source_row": range(len(table))})


def build(args, documents: pd.DataFrame) -> str:
    rng = np.random.default_rng(0)
    vocabulary = [f"word{i}" for i in range(args.vocabulary)]
    rows = np.arange(len(documents))
    position = {int(r): i for i, r in enumerate(rows)}
    docs, gold = page_documents(documents, rows, args.text_chars)
    runs = []
    for index, k in enumerate([10] * (args.runs // 2) + [20] * (args.runs - args.runs // 2)):
        output = ModelOutput(theta=rng.dirichlet(np.full(k, 0.2), size=len(documents)),
                             beta=rng.dirichlet(np.full(len(vocabulary), 0.05), size=k), doc_index=rows,
                             vocabulary=vocabulary, config={"model": "bench", "num_topics": k, "seed": index})
        coherence = {"per_topic": {"c_v": rng.uniform(0.3, 0.7, k).tolist(), "c_npmi": rng.uniform(-0.1, 0.2, k).tolist()}}
        topics = labelled(summarise(output, documents, coherence),
                          {"labeller": "bench", "labels": [f"topic label {j} words" for j in range(k)]})
        runs.append(run_data(f"bench/K{k}/seed{index}", output, topics, position, args.entries, "bench"))
    return render_page("bench", docs, gold, runs)


def screenshot(browser: Chromium, page: Path, args) -> None:
    """The page freshly opened, showing run `args.run`, topic `args.topic` and the search `args.query`."""
    browser.open(page)
    browser.evaluate(f"const s = document.getElementById('run'); s.value = '{args.run}'; s.dispatchEvent(new Event('change'))")
    browser.evaluate(f"document.querySelector('#map circle[data-topic=\"{args.topic}\"]').dispatchEvent(new MouseEvent('click'))")
    if args.query:
        browser.evaluate(f"const q = document.getElementById('search'); q.value = {json.dumps(args.query)};"
                         " q.dispatchEvent(new Event('input'))")
        browser.evaluate("new Promise(r => setTimeout(r, 400))")
    browser.screenshot(args.screenshot)
    print(f"screenshot: {args.screenshot}; errors: {len(browser.errors)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", default="../shared/datasets/stackoverflow.tsv", help="TSV with text and label columns")
    parser.add_argument("--documents", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=24)
    parser.add_argument("--vocabulary", type=int, default=2000)
    parser.add_argument("--text-chars", type=int, default=160)
    parser.add_argument("--entries", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--page", help="measure this page (e.g. reports/bbc/topic_browser.html) instead of building one")
    parser.add_argument("--screenshot", help="then save a PNG of it here, showing --run, --topic and --query")
    parser.add_argument("--run", type=int, default=0, help="the run (index in the page's menu) of the screenshot")
    parser.add_argument("--topic", type=int, default=0)
    parser.add_argument("--query", default="", help="a document search shown in the screenshot")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        if args.page:
            page = Path(args.page)
        else:
            documents = load_corpus(args)
            started = time.perf_counter()
            html = build(args, documents)
            print(f"{len(documents):,} documents, {args.runs} runs, {args.entries} theta entries per document, "
                  f"texts cut at {args.text_chars} characters; built in {time.perf_counter() - started:.1f} s")
            page = Path(folder) / "topic_browser.html"
            page.write_text(html, encoding="utf-8")
        size = page.stat().st_size
        print(f"file size: {size / 1e6:.2f} MB ({size:,} bytes)")
        loads, readies = [], []
        with Chromium() as browser:
            for repeat in range(args.repeats):
                load = browser.open(page)
                ready = browser.evaluate("window.topicBrowserReady") / 1000
                loads.append(load)
                readies.append(ready)
                print(f"open {repeat + 1}: load event {load:.2f} s after the request; page ready at {ready:.2f} s "
                      f"(performance.now); errors: {len(browser.errors)}")
            switch = browser.evaluate(
                "(() => { const t = performance.now(); const s = document.getElementById('run');"
                " s.value = String(s.options.length - 1); s.dispatchEvent(new Event('change'));"
                " return performance.now() - t; })()")
            gold = browser.evaluate(
                "(() => { const t = performance.now(); const g = document.getElementById('gold');"
                " g.value = '0'; g.dispatchEvent(new Event('change')); return performance.now() - t; })()")
            print(f"switching to the last run (first decode of its theta): {switch:.0f} ms; "
                  f"filtering by a gold label: {gold:.0f} ms; errors: {len(browser.errors)}")
            if args.screenshot:
                screenshot(browser, page, args)
        print(f"median: load event {statistics.median(loads):.2f} s, page ready {statistics.median(readies):.2f} s "
              f"(target < 2 s); size {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
