"""One run's output.npz, the prepared corpus, its per-topic coherence and the corpus's topic labels ->
the run's topics as Markdown (reports/<corpus>/topics/<run>.md)."""

import json

import pandas as pd

from softtopic.output import ModelOutput
from softtopic.topics import labelled, read_labels, render_markdown, summarise
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    settings, run = snakemake.params.topics, snakemake.wildcards.run
    documents = pd.read_parquet(snakemake.input.documents)
    output = ModelOutput.load(snakemake.input.model)
    with open(snakemake.input.coherence) as handle:
        coherence = json.load(handle)
    named = read_labels(snakemake.input.get("labels")).get(run)
    topics = labelled(summarise(output, documents, coherence, settings["words"], settings["documents"]), named)
    text = render_markdown(run, output.config, topics, documents, labeller=(named or {}).get("labeller", ""))
    with open(snakemake.output.listing, "w") as handle:
        handle.write(text)
    log.info("%d topics of %s", len(topics), run)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
