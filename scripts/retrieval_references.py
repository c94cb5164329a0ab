"""Bag of words and LM logits -> the retrieval reference rows: BoW cosine, LM soft labels (tau 1) by KL."""

import json

import numpy as np
import pandas as pd
import scipy.sparse as sp

from softtopic.metrics.retrieval import labelled_precision
from softtopic.softlabel import soft_label
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    labels = pd.read_parquet(snakemake.input.documents, columns=["label"])["label"]
    ks = snakemake.params.ks
    rows = {
        "bow_cosine": labelled_precision(sp.load_npz(snakemake.input.bow).tocsr(), labels, ks, "cosine", log),
        "lm_soft_label_tau1": labelled_precision(
            soft_label(np.load(snakemake.input.logits), 1.0).numpy(), labels, ks, "kl", log
        ),
    }
    with open(snakemake.output.retrieval, "w") as handle:
        json.dump(rows, handle, indent=2)
    log.info("%s", rows)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
