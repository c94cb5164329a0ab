"""Document clustering quality: each document goes to its argmax-theta topic (SPEC §5)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def contingency(labels: Sequence, clusters: Sequence[int]) -> np.ndarray:
    """Gold class x cluster count table."""
    _, label_ids = np.unique(np.asarray(labels, dtype=str), return_inverse=True)
    _, cluster_ids = np.unique(np.asarray(clusters), return_inverse=True)
    table = np.zeros((label_ids.max() + 1, cluster_ids.max() + 1), dtype=np.int64)
    np.add.at(table, (label_ids, cluster_ids), 1)
    return table


def purity(labels: Sequence, clusters: Sequence[int]) -> float:
    """Sum over clusters of the dominant class count, over N."""
    table = contingency(labels, clusters)
    return float(table.max(axis=0).sum() / table.sum())


def inverse_purity(labels: Sequence, clusters: Sequence[int]) -> float:
    """Sum over classes of the count in the class's dominant cluster, over N."""
    table = contingency(labels, clusters)
    return float(table.max(axis=1).sum() / table.sum())


def harmonic_purity(labels: Sequence, clusters: Sequence[int]) -> float:
    """Harmonic mean of purity and inverse purity."""
    p, ip = purity(labels, clusters), inverse_purity(labels, clusters)
    return 0.0 if p + ip == 0 else 2 * p * ip / (p + ip)


def clustering_scores(labels: Sequence, theta: np.ndarray) -> dict[str, float]:
    """Purity family, NMI and ARI of the argmax-theta assignment against gold labels."""
    clusters = np.asarray(theta).argmax(axis=1)
    labels = np.asarray(labels, dtype=str)
    return {
        "purity": purity(labels, clusters),
        "inverse_purity": inverse_purity(labels, clusters),
        "harmonic_purity": harmonic_purity(labels, clusters),
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
        "ari": float(adjusted_rand_score(labels, clusters)),
    }


def labelled_clustering_scores(labels: Sequence, theta: np.ndarray) -> dict:
    """`clustering_scores` over the documents that have a label (None, NaN or '' means none), with
    ``labelled_documents``: how many the scores cover."""
    labels = pd.Series(labels, dtype=object)
    labelled = (labels.notna() & (labels.astype(str).str.strip() != "")).to_numpy()
    row: dict = {"labelled_documents": int(labelled.sum())}
    if labelled.any():
        row |= clustering_scores(labels[labelled].astype(str).to_numpy(), np.asarray(theta)[labelled])
    return row
