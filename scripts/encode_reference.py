"""Reference documents -> their tokens within the corpus vocabulary, indexed by word (coherence counts).

The reference is token lines, one document a line, already made with the vocabulary's filter: the corpus's
own vocabulary/texts.txt (its tokens restricted to the vocabulary, which is all that is kept here) or a
MediaWiki dump's tokens file (tokenised once by the tokenise_wikipedia rule); or another corpus's
documents.parquet, tokenised here."""

import pandas as pd

from softtopic.metrics.coherence import Reference
from softtopic.metrics.wikipedia import read_token_lines
from softtopic.vocabulary import tokenize_documents
from softtopic.workflow import script_logging


def main(snakemake):
    log = script_logging(snakemake.log[0])
    vocabulary = open(snakemake.input.vocabulary, encoding="utf-8").read().split()
    if hasattr(snakemake.input, "tokens"):
        tokens = read_token_lines(snakemake.input.tokens)
    else:
        texts = pd.read_parquet(snakemake.input.documents, columns=["text"])["text"]
        # The vocabulary's own filter, so that a word counts in the reference where it counts in the BoW.
        tokens = tokenize_documents(texts, snakemake.params.filter, snakemake.params.min_word_length)
    reference = Reference.encode(tokens, vocabulary)
    reference.save(snakemake.output.reference)
    absent = int((reference.token_counts() == 0).sum())
    log.info("%d reference documents, %d vocabulary tokens; %d vocabulary words never occur in it",
             reference.num_docs, int(reference.token_counts().sum()), absent)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 (injected by Snakemake's script directive)
