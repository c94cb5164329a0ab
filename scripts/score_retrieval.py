"""One output.npz -> retrieval P@k of its theta by KL, over the labelled documents it covers (JSON; exact, or
over a seeded sample of queries with standard errors above metrics.retrieval_sampling.exact_up_to)."""

import json

import pandas as pd

from softtopic.metrics.retrieval import retrieval_scores
from softtopic.output import ModelOutput
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    output = ModelOutput.load(snakemake.input.model)
    labels = pd.read_parquet(snakemake.input.documents, columns=["label"])["label"].iloc[output.doc_index]
    scores = retrieval_scores(output.theta, labels, snakemake.params.ks, "kl", snakemake.params.sampling, log=log)
    with open(snakemake.output.retrieval, "w") as handle:
        json.dump(scores, handle, indent=2)
    log.info("%s", scores)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
