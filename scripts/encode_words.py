"""Vocabulary -> the sentence encoder's vector of each word alone, centred (|V| x e): pretrained-quality
word vectors for the ETM family's `word_vectors: encoder` (docs/fair-ground.md)."""

from pathlib import Path

import numpy as np
import torch

from softtopic.embeddings import encode_words, load_encoder
from softtopic.lm import pick_device
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    torch.set_num_threads(snakemake.threads)
    vocabulary = Path(snakemake.input.vocabulary).read_text().split()
    device = pick_device(snakemake.params.device)
    vectors = encode_words(vocabulary, load_encoder(snakemake.params.encoder, device=device),
                           snakemake.params.batch_size)
    np.save(snakemake.output.vectors, vectors)
    log.info("%s on %s: %d words -> %s", snakemake.params.encoder, device, len(vocabulary), vectors.shape)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
