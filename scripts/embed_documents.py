"""Documents -> their sentence-encoder embeddings (documents x e), computed once per corpus and encoder
text for the contextual models (ZeroShotTM, CombinedTM, BERTopic, FASTopic): the raw text (protocol fair)
or the vocabulary-filtered text (the paper's)."""

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from softtopic.embeddings import encode_documents, load_encoder
from softtopic.files import atomic_write
from softtopic.lm import pick_device
from softtopic.workflow import script_logging


def encoder_texts(inputs) -> list[str]:
    """The texts the encoder reads: the prepared documents' `text` column when the job's inputs name the
    documents table (raw), else the lines of the vocabulary-filtered texts.txt (filtered); one per document."""
    documents = getattr(inputs, "documents", None)
    if documents:
        return pd.read_parquet(documents, columns=["text"])["text"].tolist()
    return Path(inputs.texts).read_text().splitlines()


def main(snakemake):
    log = script_logging(snakemake.log[0])
    torch.set_num_threads(snakemake.threads)
    texts = encoder_texts(snakemake.input)
    device = pick_device(snakemake.params.device)
    encoder = load_encoder(snakemake.params.encoder, device=device)
    embeddings = encode_documents(texts, encoder, snakemake.params.batch_size)
    with atomic_write(snakemake.output.embeddings) as tmp:
        np.save(tmp, embeddings)
    log.info("%s on %s, %s text: %d documents -> %s (%d empty texts)", snakemake.params.encoder, device,
             snakemake.params.text, len(texts), embeddings.shape, sum(not t for t in texts))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
