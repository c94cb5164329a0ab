"""Benchmark: seconds per training epoch of the neural models at the paper's scale, with their
`config/schema.yaml` defaults and K topics.

Data: the first `--documents` StackOverflow titles (real BoW over a 2,000-word vocabulary, word2vec
vectors trained on them with gensim); random stand-ins for the sentence embeddings (384-d) and the LM
outputs (576-d hidden states, |V| logits), which cost the same as real ones. Prints s/epoch and the
time the configured number of epochs would take. One thread, as a training job runs here:

    .venv/bin/python bench/model_epochs.py etm ecrtm fastopic dsl-etm dsl-ecrtm dsl-fastopic prodlda
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from gensim.models import Word2Vec

from softtopic.config import validate_schema
from softtopic.models import TopicData, make_model
from softtopic.vocabulary import bag_of_words, build_vocabulary, filter_to_vocabulary, tokenize

REPO = Path(__file__).resolve().parents[1]


def stackoverflow_data(path: Path, documents: int, seed: int = 0) -> TopicData:
    with path.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))[:documents]
    tokens = [tokenize(row["text"]) for row in rows]
    vocabulary = build_vocabulary(tokens, 2000)
    vectors = Word2Vec(filter_to_vocabulary(tokens, vocabulary), vector_size=300, min_count=1, seed=seed, workers=1)
    rng = np.random.default_rng(seed)
    n = len(tokens)
    return TopicData(
        bow=bag_of_words(tokens, vocabulary),
        vocabulary=vocabulary,
        logits=rng.normal(0, 2, (n, len(vocabulary))).astype(np.float32),
        hidden=rng.normal(0, 3, (n, 576)).astype(np.float32),
        embeddings=rng.normal(0, 1, (n, 384)).astype(np.float32),
        word_vectors=np.stack([vectors.wv[word] for word in vocabulary]),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "datasets" / "stackoverflow.tsv")
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--topics", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed per model")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = stackoverflow_data(args.corpus, args.documents)
    print(f"{data.bow.shape[0]} documents, {len(data.vocabulary)} words, K = {args.topics}", flush=True)
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    for name in args.models:
        config = validate_schema({"corpora": {"c": {"path": "p"}}, "lms": {"l": {"source": "s"}},
                                  "run": {"corpora": ["c"], "lms": ["l"], "models": [name]}}, schema)
        settings = config["training"][name]
        extra = {"tau": 3.0} if name.startswith("dsl") else {}
        model = make_model(name, num_topics=args.topics, **{**settings, "epochs": args.epochs}, **extra)
        start = time.perf_counter()
        model.fit(data, seed=0)
        per_epoch = (time.perf_counter() - start) / args.epochs
        print(f"{name:13s} {per_epoch:6.2f} s/epoch; {settings['epochs']} epochs ~ {per_epoch * settings['epochs'] / 60:.1f} min",
              flush=True)


if __name__ == "__main__":
    main()
