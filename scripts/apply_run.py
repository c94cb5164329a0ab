"""A trained run's saved model + the prepared documents of another corpus -> their theta (a Parquet
table: doc_id, then topic_0 .. topic_<K-1>; NaN rows for documents a BoW-supervised model cannot read)."""

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from softtopic.lm import discard_shards
from softtopic.trained import load_run
from softtopic.workflow import script_logging


def theta_table(doc_ids, theta: np.ndarray) -> pd.DataFrame:
    """doc_id and one column per topic, numbered as in the run."""
    table = pd.DataFrame(theta, columns=[f"topic_{k}" for k in range(theta.shape[1])])
    table.insert(0, "doc_id", np.asarray(doc_ids))
    return table


def main(snakemake):
    log = script_logging(snakemake.log[0])
    torch.set_num_threads(snakemake.threads)
    run = load_run(Path(snakemake.input.model).parent, lm_manifest=getattr(snakemake.input, "manifest", None),
                   cache_dir=snakemake.params.shard_dir)
    documents = pd.read_parquet(snakemake.input.documents, columns=["doc_id", "text"])
    theta = run.transform(documents["text"].tolist())
    theta_table(documents["doc_id"], theta).to_parquet(snakemake.output.theta, index=False)
    if Path(snakemake.params.shard_dir).exists():
        for shards in Path(snakemake.params.shard_dir).iterdir():
            if shards.is_dir():
                discard_shards(shards)
    unread = int(np.isnan(theta).any(axis=1).sum())
    log.info("%s: theta of %d documents (%d without a vocabulary word: NaN)", run.folder, len(theta), unread)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
