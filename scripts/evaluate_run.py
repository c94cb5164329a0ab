"""One output.npz -> its metrics (purity family, NMI, ARI, TD, I-RBO, coherence) as a JSON row."""

import json

import pandas as pd

from softtopic.metrics.clustering import labelled_clustering_scores
from softtopic.metrics.coherence import coherence
from softtopic.metrics.diversity import inverted_rbo, topic_diversity
from softtopic.output import ModelOutput
from softtopic.vocabulary import filter_to_vocabulary, tokenize
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    output = ModelOutput.load(snakemake.input.model)
    row = {key: output.config.get(key) for key in ("corpus", "model", "lm", "prompt", "num_topics", "tau", "seed")}
    row["documents"] = len(output.doc_index)
    labels = pd.read_parquet(snakemake.input.documents, columns=["label"])["label"].iloc[output.doc_index]
    row |= labelled_clustering_scores(labels.to_numpy(dtype=object), output.theta)
    if row["labelled_documents"] < row["documents"]:
        log.warning("%d of %d documents have no label: purity, NMI and ARI cover the other %d",
                    row["documents"] - row["labelled_documents"], row["documents"], row["labelled_documents"])
    topics = output.top_words()
    row["td"] = topic_diversity(topics)
    row["irbo"] = inverted_rbo(topics)
    texts = pd.read_parquet(snakemake.input.reference, columns=["text"])["text"]
    reference = filter_to_vocabulary((tokenize(t, snakemake.params.min_word_length) for t in texts), output.vocabulary)
    row |= coherence(topics, reference, snakemake.params.measures)
    with open(snakemake.output.metrics, "w") as handle:
        json.dump(row, handle, indent=2)
    log.info("%s", row)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
