"""Bag of words and LM logits -> the retrieval reference rows: BoW cosine, LM soft labels (tau 1) by KL.

The logits are memory-mapped and turned into soft labels block by block (exact up to
metrics.retrieval_sampling.exact_up_to labelled documents, a seeded sample of queries above)."""

import json
from functools import partial

import numpy as np
import pandas as pd
import scipy.sparse as sp

from softtopic.metrics.retrieval import retrieval_scores
from softtopic.softlabel import soft_label
from softtopic.workflow import script_logging


def soft_labels_tau1(logits: np.ndarray) -> np.ndarray:
    return soft_label(np.asarray(logits), 1.0).numpy()


def main(snakemake):
    log = script_logging(snakemake.log[0])
    labels = pd.read_parquet(snakemake.input.documents, columns=["label"])["label"]
    scores = partial(retrieval_scores, labels=labels, ks=snakemake.params.ks, sampling=snakemake.params.sampling, log=log)
    rows = {
        "bow_cosine": scores(sp.load_npz(snakemake.input.bow).tocsr(), distance="cosine"),
        "lm_soft_label_tau1": scores(np.load(snakemake.input.logits, mmap_mode="r"), distance="kl",
                                     transform=soft_labels_tau1),
    }
    with open(snakemake.output.retrieval, "w") as handle:
        json.dump(rows, handle, indent=2)
    log.info("%s", rows)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
