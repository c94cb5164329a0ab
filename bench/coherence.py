"""Benchmark: our C_V and NPMI against gensim's CoherenceModel, on the same topics and texts, in one run.

Topics are `--topics` x `--words` words drawn (seeded) from the 1,000 most frequent vocabulary words;
the reference is the corpus itself, tokenised and filtered to its 2,000-word vocabulary as the workflow
does. Prints each side's time, the speed-up, and the largest per-topic difference. Encoding the
reference (done once per corpus and vocabulary by the `encode_reference` rule) is timed on its own.

    .venv/bin/python bench/coherence.py --texts ../shared/datasets/stackoverflow.tsv
    .venv/bin/python bench/coherence.py --bbc-copies 9      # ~20,000 BBC articles (long texts)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from softtopic.metrics.coherence import Reference, gensim_coherence, topic_coherences
from softtopic.sources import bbc_records
from softtopic.vocabulary import build_vocabulary, filter_to_vocabulary, tokenize


def load_texts(args) -> list[str]:
    if args.bbc_copies:
        return [r["text"] for r in bbc_records()] * args.bbc_copies
    table = pd.read_csv(args.texts, sep="\t", dtype=str, keep_default_na=False)
    return table["text"].tolist()[: args.documents]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", default="../shared/datasets/stackoverflow.tsv", help="TSV with a 'text' column")
    parser.add_argument("--bbc-copies", type=int, default=0, help="use the BBC articles this many times instead")
    parser.add_argument("--documents", type=int, default=20000)
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--words", type=int, default=15)
    parser.add_argument("--measures", nargs="+", default=["c_v", "c_npmi"])
    args = parser.parse_args()

    tokens = [tokenize(text) for text in load_texts(args)]
    vocabulary = build_vocabulary(tokens, 2000)
    texts = filter_to_vocabulary(tokens, vocabulary)
    rng = np.random.default_rng(0)
    pool = vocabulary[:1000]
    topics = [list(rng.choice(pool, args.words, replace=False)) for _ in range(args.topics)]
    print(f"{len(texts)} documents, {np.mean([len(t) for t in texts]):.1f} vocabulary tokens each, "
          f"{args.topics} topics x {args.words} words")

    start = time.perf_counter()
    reference = Reference.encode(texts, vocabulary)
    encode_s = time.perf_counter() - start
    ours, theirs, ours_s, theirs_s = {}, {}, 0.0, 0.0
    for measure in args.measures:
        start = time.perf_counter()
        ours[measure], _ = topic_coherences(topics, reference, measure)
        ours_s += (mid := time.perf_counter()) - start
        theirs[measure] = gensim_coherence(topics, texts, measure)
        theirs_s += time.perf_counter() - mid
        gap = np.nanmax(np.abs(ours[measure] - theirs[measure]))
        print(f"{measure}: mean ours {np.nanmean(ours[measure]):.6f} gensim {np.nanmean(theirs[measure]):.6f}, "
              f"largest per-topic |difference| {gap:.2e}")
    print(f"gensim {theirs_s:.2f} s; ours {ours_s:.3f} s (+ {encode_s:.2f} s to encode the reference once)")
    print(f"speed-up {theirs_s / ours_s:.1f}x; {theirs_s / (ours_s + encode_s):.1f}x counting the encoding")


if __name__ == "__main__":
    main()
