"""Benchmark: retrieval P@{1,5,10} over 20,000 StackOverflow titles (SPEC §5), timed.

Two representations of the same documents: their bag of words over the 2,000-word vocabulary (cosine),
and a random theta with K topics (KL; random, so only the time means anything). Each is queried in
blocks of `--block` documents, so memory holds block x N distances, never N x N.

    .venv/bin/python bench/retrieval.py --texts ../shared/datasets/stackoverflow.tsv
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from softtopic.metrics.retrieval import precision_at_k
from softtopic.vocabulary import bag_of_words, build_vocabulary, tokenize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", default="../shared/datasets/stackoverflow.tsv", help="TSV: text, label")
    parser.add_argument("--documents", type=int, default=20000)
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--block", type=int, default=512)
    args = parser.parse_args()

    table = pd.read_csv(args.texts, sep="\t", dtype=str, keep_default_na=False).head(args.documents)
    tokens = [tokenize(text) for text in table["text"]]
    bow = bag_of_words(tokens, build_vocabulary(tokens, 2000))
    theta = np.random.default_rng(0).dirichlet(np.full(args.topics, 0.1), size=len(table))
    labels = table["label"].to_numpy()
    print(f"{len(table)} documents; distances held at once: {args.block} x {len(table)} "
          f"({args.block * len(table) * 8 / 2**20:.0f} MiB in float64)")
    for name, rows, distance in [("BoW cosine", bow, "cosine"), (f"theta K={args.topics}, KL", theta, "kl")]:
        start = time.perf_counter()
        scores = precision_at_k(rows, labels, (1, 5, 10), distance, block=args.block)
        print(f"{name}: {time.perf_counter() - start:.1f} s, " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))


if __name__ == "__main__":
    main()
