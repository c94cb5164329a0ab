"""Benchmark: the fair-ground screen (issue 15): DSL settings against the fair BERTopic and the K-means
reference rows, per corpus and teacher, on the workflow's own LM outputs and sentence embeddings.

Make the inputs with config/fair-ground.yaml (LM stage of both packaged teachers, MiniLM embeddings of the
raw text, the coherence reference), then screen:

    cp ../shared/datasets/stackoverflow.tsv ../shared/datasets/tweet_topic.tsv data/raw/
    snakemake --configfile config/fair-ground.yaml -c2 $(.venv/bin/python bench/dsl_screen.py --targets)
    .venv/bin/python bench/dsl_screen.py --csv reports/ablations/fair_ground_screen.csv

Each arm is a model of the project (`softtopic.models`) with settings over config/schema.yaml's defaults
(`ARMS`); every arm is fitted in this process on the same TopicData, so an arm differs from another only
by its settings. Per run: purity and NMI of the argmax theta, P@10 (KL between thetas, exact), C_V and
NPMI of the top 15 words against the corpus itself, how many topics take a document, training seconds
(one thread; noisy on a shared machine). One line per run is appended to --csv.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
import yaml

from softtopic.config import validate_schema
from softtopic.metrics.clustering import clustering_scores
from softtopic.metrics.coherence import Reference, coherence_report
from softtopic.metrics.retrieval import precision_at_k
from softtopic.models import TopicData, make_model

REPO = Path(__file__).resolve().parents[1]
ENCODER = "all-minilm-l6-v2"

# arm -> (model, settings over the model's schema defaults). The paper's DSL, the options beyond it one at a
# time and together, the fair BERTopic and the clustering reference rows.
ARMS: dict[str, tuple[str, dict]] = {
    "kmeans-hidden": ("kmeans-hidden", {}),
    "kmeans-embeddings": ("kmeans-embeddings", {}),
    "kmeans-combined": ("kmeans-combined", {}),
    "bertopic": ("bertopic", {}),
    "dsl": ("dsl", {}),
    "dsl-standardized": ("dsl", {"standardize_input": True}),
    "dsl-kmeans": ("dsl", {"init": "kmeans"}),
    "dsl-anchored": ("dsl", {"init": "kmeans", "anchor_weight": 10.0}),
    "dsl-combined": ("dsl", {"encoder_input": "hidden+embeddings"}),
    "dsl-combined-kmeans": ("dsl", {"encoder_input": "hidden+embeddings", "init": "kmeans"}),
    "dsl-combined-anchored1": ("dsl", {"encoder_input": "hidden+embeddings", "init": "kmeans", "anchor_weight": 1.0}),
    "dsl-combined-anchored": ("dsl", {"encoder_input": "hidden+embeddings", "init": "kmeans", "anchor_weight": 10.0}),
    "dsl-combined-anchored100": ("dsl", {"encoder_input": "hidden+embeddings", "init": "kmeans", "anchor_weight": 100.0}),
}
DEFAULT_ARMS = ["kmeans-hidden", "kmeans-embeddings", "kmeans-combined", "bertopic", "dsl", "dsl-anchored",
                "dsl-combined", "dsl-combined-kmeans", "dsl-combined-anchored"]


def model_defaults(model: str) -> dict:
    """training.<model> as config/schema.yaml fills it in."""
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    config = validate_schema({"corpora": {"c": {"path": "p"}}, "lms": {"l": {"source": "s"}},
                              "run": {"corpora": ["c"], "lms": ["l"], "models": [model]}}, schema)
    return dict(config["training"].get(model, {}))


def append_row(path: Path, row: dict) -> None:
    """Append `row` to the CSV at `path`, with a header line when the file is new."""
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def load(results: Path, lm: str, prompt: str) -> tuple[TopicData, np.ndarray, Reference]:
    lm_dir = results / "lm" / lm / prompt
    data = TopicData(bow=sp.load_npz(results / "vocabulary" / "bow.npz").tocsr(),
                     vocabulary=(results / "vocabulary" / "vocabulary.txt").read_text().split(),
                     logits=np.load(lm_dir / "logits.npy"), hidden=np.load(lm_dir / "hidden.npy"),
                     embeddings=np.load(results / "embeddings" / ENCODER / "raw" / "embeddings.npy"))
    labels = pd.read_parquet(results / "corpus" / "documents.parquet", columns=["label"])["label"].astype(str)
    return data, labels.to_numpy(), Reference.load(results / "coherence" / "reference.npz")


def score(model, data: TopicData, labels: np.ndarray, reference: Reference, top_words: int) -> dict:
    theta, rows = model.theta(), model.documents()
    clusters = clustering_scores(labels[rows], theta)
    order = np.argsort(-model.beta(), axis=1, kind="stable")[:, :top_words]
    coherence = coherence_report([[data.vocabulary[j] for j in row] for row in order], reference, ("c_v", "c_npmi"))
    return {"documents": len(rows), "purity": clusters["purity"], "nmi": clusters["nmi"],
            "p@10": precision_at_k(theta.astype(np.float64), labels[rows], [10], "kl")["p@10"],
            "c_v": coherence["c_v"], "c_npmi": coherence["c_npmi"],
            "topics_used": len(np.unique(theta.argmax(1)))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=["stackoverflow", "tweettopic", "bbc"])
    parser.add_argument("--lm", nargs="+", default=["gemma270m", "smollm2"])
    parser.add_argument("--prompt", default="default")
    parser.add_argument("--topics", type=int, default=20)
    parser.add_argument("--tau", type=float, default=3.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=DEFAULT_ARMS, choices=sorted(ARMS))
    parser.add_argument("--top-words", type=int, default=15)
    parser.add_argument("--csv", type=Path, help="append one line per run here")
    parser.add_argument("--targets", action="store_true", help="print the workflow outputs the screen reads, and stop")
    args = parser.parse_args()
    if args.targets:
        print(" ".join(f"results/{c}/lm/{lm}/{args.prompt}/hidden.npy" for c in args.corpus for lm in args.lm),
              " ".join(f"results/{c}/embeddings/{ENCODER}/raw/embeddings.npy results/{c}/coherence/reference.npz"
                       for c in args.corpus))
        return
    torch.set_num_threads(1)
    summary = []
    for corpus in args.corpus:
        for lm in args.lm:
            data, labels, reference = load(REPO / "results" / corpus, lm, args.prompt)
            print(f"{corpus}, {lm}: {len(labels)} documents, hidden {data.hidden.shape[1]}-d, "
                  f"|V| = {len(data.vocabulary)}, K = {args.topics}", flush=True)
            for arm in args.arms:
                name, settings = ARMS[arm]
                defaults = model_defaults(name)
                if "tau" in defaults or name.startswith("dsl"):
                    defaults["tau"] = args.tau
                for seed in args.seeds:
                    model = make_model(name, num_topics=args.topics, **{**defaults, **settings})
                    start = time.perf_counter()
                    model.fit(data, seed=seed)
                    row = {"corpus": corpus, "lm": lm, "arm": arm, "seed": seed,
                           **score(model, data, labels, reference, args.top_words),
                           "seconds": round(time.perf_counter() - start, 1)}
                    summary.append(row)
                    print("  " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
                          flush=True)
                    if args.csv:
                        append_row(args.csv, row)
    table = pd.DataFrame(summary).groupby(["corpus", "lm", "arm"], sort=False)
    print(table[["purity", "nmi", "p@10", "c_v"]].agg(lambda s: f"{s.mean():.3f} ± {s.std():.3f}").to_markdown())


if __name__ == "__main__":
    main()
