"""Benchmark: DSL-ProdLDA against KMeans on the LM's own last hidden states, per corpus (issue 10).

Reads a corpus's existing workflow outputs (make them with config/dsl-vs-kmeans.yaml):
results/<corpus>/lm/<lm>/<prompt>/{logits,hidden}.npy, results/<corpus>/vocabulary/{bow.npz,vocabulary.txt},
results/<corpus>/corpus/documents.parquet (gold labels) and results/<corpus>/coherence/reference.npz.

Rows: KMeans(K) on the raw hidden states, on standardised ones and on the standardised LM logits over V
(what the DSL target is made of) (n_init 10, random_state = seed), and
DSL-ProdLDA under each named setting (`VARIANTS`, or `--set name:key=value,...`) over
`config/schema.yaml`'s `training.dsl` defaults. Each row: purity and NMI of the argmax assignment, and
for DSL the C_V and NPMI of its top words against the corpus itself (exact gensim numbers), as
mean ± sd over the seeds, how many of the K topics take at least one document, and the mean training seconds (noisy on a shared machine). One thread:

    .venv/bin/python bench/dsl_vs_kmeans.py --corpus stackoverflow --variants paper standardized
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
import yaml
from sklearn.cluster import KMeans

from softtopic.metrics.clustering import clustering_scores
from softtopic.metrics.coherence import Reference, coherence_report
from softtopic.models import TopicData, make_model

from dsl_screen import append_row, model_defaults  # bench/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]

# Named DSL settings, each over training.dsl's defaults: the paper's and one knob changed at a time.
VARIANTS: dict[str, dict] = {
    "paper": {"standardize_input": False, "decoder_batch_norm": "plain", "learn_priors": True},
    "default": {},
    "standardized": {"standardize_input": True},
    "no-decoder-bn": {"decoder_batch_norm": "none"},
    "decoder-bn-affine": {"decoder_batch_norm": "affine"},
    "fixed-prior": {"learn_priors": False},
    "kl1": {"kl_weight": 1.0},
    "kl100": {"kl_weight": 100.0},
    "kl10000": {"kl_weight": 10000.0},
    "epochs200": {"epochs": 200},
    "epochs50": {"epochs": 50},
    "lr5e-4": {"lr": 5e-4},
    "lr1e-2": {"lr": 1e-2},
    "dropout0": {"dropout": 0.0},
    "tau1": {"tau": 1.0},
    "tau5": {"tau": 5.0},
}


def parse_setting(text: str) -> tuple[str, dict]:
    """'name:key=value,key=value' -> (name, {key: YAML value})."""
    name, _, body = text.partition(":")
    settings = {}
    for item in filter(None, re.split(r",(?=\s*\w+=)", body)):  # commas inside [..] stay
        key, _, value = item.partition("=")
        settings[key.strip()] = yaml.safe_load(value)
    return name, settings


def load_corpus(results: Path, lm: str, prompt: str) -> tuple[TopicData, np.ndarray, Reference]:
    lm_dir = results / "lm" / lm / prompt
    data = TopicData(bow=sp.load_npz(results / "vocabulary" / "bow.npz").tocsr(),
                     vocabulary=(results / "vocabulary" / "vocabulary.txt").read_text().split(),
                     logits=np.load(lm_dir / "logits.npy"), hidden=np.load(lm_dir / "hidden.npy"))
    labels = pd.read_parquet(results / "corpus" / "documents.parquet", columns=["label"])["label"].astype(str)
    reference = Reference.load(results / "coherence" / "reference.npz")
    return data, labels.to_numpy(), reference


def standardize(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(0)) / np.maximum(x.std(0), 1e-6)


def kmeans_row(x: np.ndarray, labels: np.ndarray, k: int, seed: int) -> dict:
    start = time.perf_counter()
    clusters = KMeans(k, n_init=10, random_state=seed).fit_predict(x)
    scores = clustering_scores(labels, np.eye(k)[clusters])
    return {"purity": scores["purity"], "nmi": scores["nmi"], "clusters": len(np.unique(clusters)),
            "seconds": time.perf_counter() - start}


def dsl_row(data: TopicData, labels: np.ndarray, reference: Reference, k: int, seed: int, settings: dict,
            top_words: int) -> dict:
    model = make_model("dsl", num_topics=k, **settings)
    start = time.perf_counter()
    model.fit(data, seed=seed)
    seconds = time.perf_counter() - start
    scores = clustering_scores(labels[model.documents()], model.theta())
    order = np.argsort(-model.beta(), axis=1, kind="stable")[:, :top_words]
    topics = [[data.vocabulary[j] for j in row] for row in order]
    coherence = coherence_report(topics, reference, ("c_v", "c_npmi"))
    return {"purity": scores["purity"], "nmi": scores["nmi"], "clusters": len(np.unique(model.theta().argmax(1))),
            "c_v": coherence["c_v"], "npmi": coherence["c_npmi"], "seconds": seconds}


def summary(rows: list[dict], key: str) -> str:
    values = [row[key] for row in rows if key in row]
    if not values:
        return ""
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1) if len(values) > 1 else 0.0:.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=["stackoverflow", "tweettopic", "bbc"])
    parser.add_argument("--lm", default="smollm2")
    parser.add_argument("--prompt", default="default")
    parser.add_argument("--topics", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--tau", type=float, default=3.0)
    parser.add_argument("--variants", nargs="*", default=["paper", "default"], choices=sorted(VARIANTS))
    parser.add_argument("--set", dest="custom", action="append", default=[], metavar="NAME:KEY=VALUE,...",
                        help="a further DSL setting over training.dsl's defaults, e.g. 'mine:kl_weight=10,lr=0.001'")
    parser.add_argument("--no-kmeans", action="store_true")
    parser.add_argument("--top-words", type=int, default=15)
    parser.add_argument("--csv", type=Path, help="append one line per run here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    defaults = model_defaults("dsl")
    settings = [(name, {**defaults, "tau": args.tau, **VARIANTS[name]}) for name in args.variants]
    settings += [(name, {**defaults, "tau": args.tau, **extra}) for name, extra in map(parse_setting, args.custom)]
    table = []
    for corpus in args.corpus:
        data, labels, reference = load_corpus(REPO / "results" / corpus, args.lm, args.prompt)
        print(f"{corpus}: {len(labels)} documents, hidden {data.hidden.shape[1]}-d, |V| = {len(data.vocabulary)}, "
              f"K = {args.topics}", flush=True)
        methods = [] if args.no_kmeans else [("kmeans-raw", None), ("kmeans-standardized", None),
                                             ("kmeans-logits", None)]
        for method, extra in methods + [(f"dsl-{name}", s) for name, s in settings]:
            runs = []
            for seed in args.seeds:
                if extra is None:
                    x = {"kmeans-raw": data.hidden, "kmeans-standardized": standardize(data.hidden),
                         "kmeans-logits": standardize(data.logits)}[method]
                    row = kmeans_row(x, labels, args.topics, seed)
                else:
                    row = dsl_row(data, labels, reference, args.topics, seed, extra, args.top_words)
                runs.append(row)
                print(f"  {method} seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
                if args.csv:
                    line = {"corpus": corpus, "lm": args.lm, "method": method, "seed": seed,
                            "settings": "" if extra is None else yaml.safe_dump(
                                {k: v for k, v in extra.items() if defaults.get(k) != v or k == "tau"},
                                default_flow_style=True).strip(), **row}
                    append_row(args.csv, line)
            table.append((corpus, method, runs))
    print("\n| corpus | method | purity | NMI | C_V | NPMI | topics used | train s |\n|---|---|---|---|---|---|---|---|")
    for corpus, method, runs in table:
        seconds = np.mean([r["seconds"] for r in runs])
        used = np.mean([r["clusters"] for r in runs])
        print(f"| {corpus} | {method} | {summary(runs, 'purity')} | {summary(runs, 'nmi')} | {summary(runs, 'c_v')} | "
              f"{summary(runs, 'npmi')} | {used:.1f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
