"""Document retrieval precision P@k (SPEC §5).

Every document queries all the others (itself excluded), ranked by ascending distance: KL(theta_q ||
theta_d) for topic proportions or LM soft labels, 1 - cosine for bags of words. P@k is the share of
the k nearest documents that carry the query's label, averaged over queries. Distances are computed
for a block of queries at a time, so memory grows with block x N, never N x N. Ties in distance are
broken by document order (the earlier document first), so the result is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

CLAMP = 1e-12  # probabilities are clamped here before the logarithm (a zero in theta_d)


def kl_distances(queries: np.ndarray, documents: np.ndarray, log_documents: np.ndarray | None = None) -> np.ndarray:
    """KL(q || d) for every query row q and document row d (rows are probability vectors)."""
    queries = np.asarray(queries, dtype=np.float64)
    log_documents = np.log(np.maximum(documents, CLAMP)) if log_documents is None else log_documents
    entropy_term = (queries * np.log(np.maximum(queries, CLAMP))).sum(axis=1)  # 0 log 0 = 0: the clamp keeps 0
    return entropy_term[:, None] - queries @ log_documents.T


def cosine_distances(queries, documents) -> np.ndarray:
    """1 - cosine similarity; rows of zero length are at distance 1 from everything."""

    def unit(matrix):
        if sp.issparse(matrix):
            norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
            return sp.diags(1 / np.where(norms > 0, norms, 1)) @ matrix
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms > 0, norms, 1)

    similarity = unit(queries) @ unit(documents).T
    similarity = similarity.toarray() if sp.issparse(similarity) else np.asarray(similarity)
    return 1.0 - similarity


def nearest(distances: np.ndarray, query_ids: np.ndarray, k: int) -> np.ndarray:
    """The k nearest documents of each query row, itself excluded, ties by document order."""
    distances = np.array(distances, dtype=np.float64)
    distances[np.arange(len(query_ids)), query_ids] = np.inf
    k = min(k, distances.shape[1] - 1)
    candidates = np.argpartition(distances, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(distances, candidates, axis=1).max(axis=1)
    tied = (distances <= kth[:, None]).sum(axis=1) > k
    candidates.sort(axis=1)  # document order first, then a stable sort by distance
    order = np.argsort(np.take_along_axis(distances, candidates, axis=1), axis=1, kind="stable")
    result = np.take_along_axis(candidates, order, axis=1)
    for row in np.flatnonzero(tied):  # more than k documents within the k-th distance: take them in order
        within = np.flatnonzero(distances[row] <= kth[row])
        result[row] = within[np.argsort(distances[row, within], kind="stable")][:k]
    return result


def precision_at_k(
    representations,
    labels: Sequence,
    ks: Sequence[int] = (1, 5, 10),
    distance: str = "kl",
    block: int = 512,
) -> dict[str, float]:
    """Mean P@k over all documents as queries; `representations` are rows (dense, or sparse for cosine)."""
    labels = np.asarray(labels)
    n = representations.shape[0]
    if n != len(labels):
        raise ValueError(f"{n} representations but {len(labels)} labels")
    if n < 2:
        raise ValueError("retrieval needs at least two documents")
    if distance == "kl":
        representations = np.asarray(representations, dtype=np.float64)
        log_documents = np.log(np.maximum(representations, CLAMP))
    elif distance != "cosine":
        raise ValueError(f"unknown retrieval distance {distance!r}; use 'kl' or 'cosine'")
    _, label_ids = np.unique(labels.astype(str), return_inverse=True)
    kmax = max(ks)
    hits = np.zeros(len(ks))
    for start in range(0, n, block):
        query_ids = np.arange(start, min(start + block, n))
        if distance == "kl":
            distances = kl_distances(representations[query_ids], representations, log_documents)
        else:
            distances = cosine_distances(representations[query_ids], representations)
        same = label_ids[nearest(distances, query_ids, kmax)] == label_ids[query_ids, None]
        for i, k in enumerate(ks):
            hits[i] += same[:, :k].mean(axis=1).sum()
    return {f"p@{k}": float(hits[i] / n) for i, k in enumerate(ks)}



def labelled_precision(representations, labels, ks: Sequence[int], distance: str, log=None) -> dict:
    """P@k over the documents that have a label (the others neither query nor are retrieved)."""
    labels = pd.Series(labels).reset_index(drop=True)
    keep = labels.notna().to_numpy()
    if not keep.all() and log is not None:
        log.warning("%d documents have no label: retrieval uses the %d labelled ones", int((~keep).sum()), int(keep.sum()))
    if keep.sum() < 2:
        return {f"p@{k}": None for k in ks}
    rows = representations[np.flatnonzero(keep)]
    return precision_at_k(rows, labels[keep].to_numpy(dtype=str), ks, distance)
