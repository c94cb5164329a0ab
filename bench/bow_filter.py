"""Benchmark: how much of a BoW baseline's purity on short texts is the release's vocabulary filter.

The same model (the project's CombinedTM, ZeroShotTM, ProdLDA at their schema defaults), the same
documents and the same raw-text sentence embeddings, on two bags of words:

- `release`: the workflow's own (results/<corpus>/vocabulary/bow.npz): alphabetic tokens, lowercase as
  written, not sentence-initial, not stopwords, at least 3 characters (SPEC.md §2, the paper's filter);
- `ctm-style`: as contextualized-topic-models' documentation preprocesses for its users: lowercased,
  punctuation stripped, English stopwords removed, the 2,000 most frequent words (scikit-learn's
  CountVectorizer and stopword list here, not the CTM package's code).

Reads a workflow's results folder for one corpus (the corpus, its vocabulary and the embeddings of the
raw text, which `protocol: fair` makes), e.g. after config/paper-small.yaml with --config protocol=fair:

    .venv/bin/python bench/bow_filter.py --results results/stackoverflow --csv reports/fair-ground/bow_filter.csv
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from dsl_screen import ENCODER, append_row, model_defaults  # bench/ is on sys.path when run as a script
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from softtopic.metrics.clustering import clustering_scores
from softtopic.models import TopicData, make_model


def ctm_style_bow(texts, size: int = 2000) -> tuple[sp.csr_matrix, list[str]]:
    """Lowercase, punctuation stripped, English stopwords removed, the `size` most frequent words."""
    cleaned = [re.sub(r"[^\w\s]+", " ", text.lower()) for text in texts]
    vectorizer = CountVectorizer(stop_words=list(ENGLISH_STOP_WORDS), max_features=size,
                                 token_pattern=r"(?u)\b[^\W\d_]\w+\b")
    bow = vectorizer.fit_transform(cleaned).astype(np.float32).tocsr()
    return bow, list(vectorizer.get_feature_names_out())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True, help="results/<corpus> of a workflow run")
    parser.add_argument("--models", nargs="+", default=["combinedtm", "zeroshottm", "prodlda"])
    parser.add_argument("--topics", type=int, default=25)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--csv", type=Path, help="append one line per run here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    documents = pd.read_parquet(args.results / "corpus" / "documents.parquet", columns=["text", "label"])
    labels = documents["label"].astype(str).to_numpy()
    embeddings = np.load(args.results / "embeddings" / ENCODER / "raw" / "embeddings.npy")
    bows = {"release": (sp.load_npz(args.results / "vocabulary" / "bow.npz").tocsr(),
                        (args.results / "vocabulary" / "vocabulary.txt").read_text().split()),
            "ctm-style": ctm_style_bow(documents["text"].tolist())}
    for name, (bow, vocabulary) in bows.items():
        words = np.asarray(bow.sum(axis=1)).ravel()
        print(f"{name}: |V| = {len(vocabulary)}, {words.mean():.2f} words per document, {(words == 0).sum()} empty")
    for model_name in args.models:
        for name, (bow, vocabulary) in bows.items():
            data = TopicData(bow=bow, vocabulary=vocabulary, embeddings=embeddings)
            for seed in args.seeds:
                model = make_model(model_name, num_topics=args.topics, **model_defaults(model_name))
                start = time.perf_counter()
                model.fit(data, seed=seed)
                rows = model.documents()
                scores = clustering_scores(labels[rows], model.theta())
                row = {"corpus": args.results.name, "model": model_name, "bow": name, "num_topics": args.topics,
                       "seed": seed, "documents": len(rows), "purity": round(scores["purity"], 4),
                       "nmi": round(scores["nmi"], 4), "seconds": round(time.perf_counter() - start, 1)}
                print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
                if args.csv:
                    append_row(args.csv, row)


if __name__ == "__main__":
    main()
