"""Prepared documents -> word vocabulary (most frequent first), the bag-of-words matrix, and each
document restricted to the vocabulary (one line each, words in order: what the sentence encoder and
word2vec read)."""

from pathlib import Path

import pandas as pd
import scipy.sparse as sp

from softtopic.files import atomic_write
from softtopic.vocabulary import bag_of_words, build_vocabulary, check_vocabulary, filter_to_vocabulary, tokenize_documents
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    settings = snakemake.params.vocabulary
    texts = pd.read_parquet(snakemake.input.documents, columns=["text"])["text"]
    tokens = tokenize_documents(texts, settings["filter"], settings["min_word_length"])
    vocabulary = build_vocabulary(tokens, settings["size"])
    check_vocabulary(vocabulary, snakemake.wildcards.corpus, len(texts), settings["min_word_length"], settings["filter"])
    if len(vocabulary) < settings["size"]:
        log.warning("only %d distinct words, fewer than vocabulary.size = %d", len(vocabulary), settings["size"])
    bow = bag_of_words(tokens, vocabulary)
    with atomic_write(snakemake.output.vocabulary) as tmp:
        tmp.write_text("\n".join(vocabulary) + "\n")
    with atomic_write(snakemake.output.bow) as tmp:
        sp.save_npz(tmp, bow)
    lines = (" ".join(words) for words in filter_to_vocabulary(tokens, vocabulary))
    with atomic_write(snakemake.output.texts) as tmp:
        tmp.write_text("".join(line + "\n" for line in lines))
    empty = int((bow.getnnz(axis=1) == 0).sum())
    log.info("%s filter: vocabulary of %d words; %d documents, %d with an empty BoW", settings["filter"],
             len(vocabulary), bow.shape[0], empty)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
