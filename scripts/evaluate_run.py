"""One output.npz -> its metrics (purity family, NMI, ARI, TD, I-RBO; coherence and retrieval from their own jobs) as a JSON row."""

import json

import pandas as pd

from softtopic.metrics.clustering import labelled_clustering_scores
from softtopic.metrics.diversity import inverted_rbo, topic_diversity
from softtopic.output import ModelOutput
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    output = ModelOutput.load(snakemake.input.model)
    row = {key: output.config.get(key) for key in ("corpus", "model", "lm", "prompt", "num_topics", "tau", "seed")}
    row["protocol"] = snakemake.params.protocol
    row["documents"] = len(output.doc_index)
    labels = pd.read_parquet(snakemake.input.documents, columns=["label"])["label"].iloc[output.doc_index]
    row |= labelled_clustering_scores(labels.to_numpy(dtype=object), output.theta)
    if row["labelled_documents"] < row["documents"]:
        log.warning("%d of %d documents have no label: purity, NMI and ARI cover the other %d",
                    row["documents"] - row["labelled_documents"], row["documents"], row["labelled_documents"])
    topics = output.top_words()
    row["td"] = topic_diversity(topics)
    row["irbo"] = inverted_rbo(topics)
    with open(snakemake.input.coherence) as handle:
        scored = json.load(handle)
    row |= {measure: scored[measure] for measure in snakemake.params.measures}
    row["coherence_missing_words"] = scored["missing_word_count"]
    with open(snakemake.input.retrieval) as handle:
        row |= json.load(handle)
    rating = snakemake.input.get("rating")
    if rating:  # LLM rating is on
        with open(rating if isinstance(rating, str) else rating[0]) as handle:
            rated = json.load(handle)
        row |= {key: rated[key] for key in ("llm_rating", "llm_rating_expected") if key in rated}
    with open(snakemake.output.metrics, "w") as handle:
        json.dump(row, handle, indent=2)
    log.info("%s", row)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
