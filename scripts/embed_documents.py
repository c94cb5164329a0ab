"""Vocabulary-filtered documents -> their sentence-encoder embeddings (documents x e), computed once per
corpus for the contextual models (ZeroShotTM, CombinedTM, BERTopic, FASTopic)."""

from pathlib import Path

import numpy as np
import torch

from softtopic.embeddings import encode_documents, load_encoder
from softtopic.files import atomic_write
from softtopic.lm import pick_device
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    torch.set_num_threads(snakemake.threads)
    texts = Path(snakemake.input.texts).read_text().splitlines()
    device = pick_device(snakemake.params.device)
    encoder = load_encoder(snakemake.params.encoder, device=device)
    embeddings = encode_documents(texts, encoder, snakemake.params.batch_size)
    with atomic_write(snakemake.output.embeddings) as tmp:
        np.save(tmp, embeddings)
    log.info("%s on %s: %d documents -> %s (%d empty texts)", snakemake.params.encoder, device, len(texts),
             embeddings.shape, sum(not t for t in texts))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
