"""Vocabulary-filtered documents -> word2vec vectors for the vocabulary (|V| x w), for ETM-style models."""

from pathlib import Path

import numpy as np

from softtopic.embeddings import train_word_vectors
from softtopic.files import atomic_write
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    settings = snakemake.params.word2vec
    sentences = [line.split() for line in Path(snakemake.input.texts).read_text().splitlines()]
    vocabulary = Path(snakemake.input.vocabulary).read_text().split()
    vectors = train_word_vectors(sentences, vocabulary, settings["dimensions"], settings["window"],
                                 settings["epochs"], settings["seed"])
    with atomic_write(snakemake.output.vectors) as tmp:
        np.save(tmp, vectors)
    log.info("word2vec on %d documents: %s", len(sentences), vectors.shape)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
