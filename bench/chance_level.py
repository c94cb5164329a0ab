"""Benchmark: is a run's purity above chance? For every model output of one corpus (issue 15).

Reads results/<corpus>/models/**/output.npz and the gold labels of results/<corpus>/corpus/documents.parquet
(make them with config/fair-ground-stackoverflow.yaml). Per run: purity and NMI of the argmax assignment,
the 99th percentile of purity when the run's own cluster sizes meet shuffled labels (`--draws` draws,
seed 0), and how many of the K topics take at least one document. Writes one CSV row per run, with the
protocol the caller names (the run's outputs carry none):

    .venv/bin/python bench/chance_level.py --corpus stackoverflow --protocol fair --out reports/fair-ground/chance.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import pandas as pd

from softtopic.metrics.clustering import labelled_clustering_scores, purity
from softtopic.output import ModelOutput


def chance_purity(labels: np.ndarray, clusters: np.ndarray, draws: int, seed: int = 0) -> float:
    """The 99th percentile of purity over `draws` shuffles of the labels against fixed clusters."""
    rng = np.random.default_rng(seed)
    return float(np.quantile([purity(rng.permutation(labels), clusters) for _ in range(draws)], 0.99))


def run_rows(results: Path, protocol: str, draws: int) -> list[dict]:
    labels = pd.read_parquet(results / "corpus/documents.parquet", columns=["label"])["label"].astype(str).to_numpy()
    rows = []
    for path in sorted((results / "models").rglob("output.npz")):
        output = ModelOutput.load(path)
        covered, clusters = labels[output.doc_index], output.theta.argmax(1)
        scores = labelled_clustering_scores(covered.astype(object), output.theta)
        rows.append({"run": str(path.parent.relative_to(results / "models")), "model": output.config["model"],
                     "seed": output.config["seed"], "protocol": protocol, "purity": scores["purity"],
                     "nmi": scores["nmi"], "chance_p99": chance_purity(covered, clusters, draws),
                     "topics_used": len(set(clusters.tolist()))})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="stackoverflow")
    parser.add_argument("--protocol", required=True, help="the protocol the runs were made under (fair or paper)")
    parser.add_argument("--models", nargs="*", help="only these models (default: every run found)")
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--results", default="results", help="the workflow's results folder")
    parser.add_argument("--out", required=True, help="CSV to write (appended to when it exists)")
    args = parser.parse_args(argv)
    rows = [r for r in run_rows(Path(args.results) / args.corpus, args.protocol, args.draws)
            if not args.models or r["model"] in args.models]
    out = Path(args.out)
    new = not out.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        if new:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: f"{v:.4f}" if isinstance(v, float) else v for k, v in row.items()})
    for row in rows:
        print(f"{row['run']:45s} {row['protocol']:5s} purity {row['purity']:.3f} nmi {row['nmi']:.3f} "
              f"chance {row['chance_p99']:.3f} topics {row['topics_used']}")


if __name__ == "__main__":
    main()
