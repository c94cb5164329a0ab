"""Every run of a corpus (output.npz, per-topic coherence, topic labels) and the prepared corpus -> the
corpus's topic browser: one self-contained HTML page (reports/<corpus>/topic_browser.html)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from softtopic.browser import page_documents, render_page, run_data
from softtopic.output import ModelOutput
from softtopic.topics import labelled, read_labels, summarise
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    settings = snakemake.params.topics
    documents = pd.read_parquet(snakemake.input.documents)
    outputs = [ModelOutput.load(path) for path in snakemake.input.models]
    rows = np.unique(np.concatenate([o.doc_index for o in outputs]))
    position = {int(r): i for i, r in enumerate(rows)}
    page_docs, gold = page_documents(documents, rows, settings["browser_text_chars"])
    names = read_labels(snakemake.input.get("labels"))
    runs = []
    for run, output, coherence in zip(snakemake.params.runs, outputs, snakemake.input.coherence, strict=True):
        with open(coherence) as handle:
            topics = summarise(output, documents, json.load(handle), settings["words"], settings["documents"])
        named = names.get(run)
        runs.append(run_data(run, output, labelled(topics, named), position, settings["browser_theta_entries"],
                             (named or {}).get("labeller", "")))
    html = render_page(snakemake.wildcards.corpus, page_docs, gold, runs)
    Path(snakemake.output.browser).write_text(html, encoding="utf-8")
    log.info("%d runs, %d documents, %.1f MB", len(runs), len(rows), len(html.encode()) / 1e6)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
