"""Document retrieval precision P@k (SPEC §5).

Every document queries all the others (itself excluded), ranked by ascending distance: KL(theta_q ||
theta_d) for topic proportions or LM soft labels, 1 - cosine for bags of words. P@k is the share of
the k nearest documents that carry the query's label, averaged over queries. Distances are computed
for a block of queries at a time, so memory grows with block x N, never N x N. Ties in distance are
broken by document order (the earlier document first), so the result is deterministic.

Exact below a size (`retrieval_scores`' `exact_up_to` labelled documents); above it, a seeded sample of
queries against all documents, read in blocks (a memory map of LM logits never loads whole), with the
standard error of the sampled mean. Both say which in their result (`retrieval_mode`, `retrieval_queries`,
`p@k_se`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from softtopic.rows import take

CLAMP = 1e-12  # probabilities are clamped here before the logarithm (a zero in theta_d)
CELLS = 1 << 24  # query x document distances held at once by the sampled path (128 MiB of float64)


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


def _distances(queries, block, distance: str) -> np.ndarray:
    if distance == "kl":
        return kl_distances(queries, np.asarray(block, dtype=np.float64))
    return cosine_distances(queries, block)


def _merge_nearest(best_d, best_i, distances, first: int, k: int):
    """The k nearest of (the current k, each ordered by distance then document) and a new block of
    documents `first`, `first + 1`, ... (all later than the current ones): ties go to the earlier document."""
    k_block = min(k, distances.shape[1])
    if k_block < distances.shape[1]:
        candidates = np.argpartition(distances, k_block - 1, axis=1)[:, :k_block]
    else:
        candidates = np.broadcast_to(np.arange(distances.shape[1]), distances.shape).copy()
    kth = np.take_along_axis(distances, candidates, axis=1).max(axis=1)
    tied = (distances <= kth[:, None]).sum(axis=1) > k_block
    candidates.sort(axis=1)
    order = np.argsort(np.take_along_axis(distances, candidates, axis=1), axis=1, kind="stable")
    candidates = np.take_along_axis(candidates, order, axis=1)
    for row in np.flatnonzero(tied):  # more documents within the k-th distance than kept: the earliest
        within = np.flatnonzero(distances[row] <= kth[row])
        candidates[row] = within[np.argsort(distances[row, within], kind="stable")][:k_block]
    all_d = np.concatenate([best_d, np.take_along_axis(distances, candidates, axis=1)], axis=1)
    all_i = np.concatenate([best_i, candidates + first], axis=1)
    keep = np.argsort(all_d, axis=1, kind="stable")[:, :k]  # stable: the current (earlier) ones first
    return np.take_along_axis(all_d, keep, axis=1), np.take_along_axis(all_i, keep, axis=1)


def query_precision(
    documents,
    labels: Sequence,
    queries: np.ndarray,
    ks: Sequence[int] = (1, 5, 10),
    distance: str = "kl",
    transform: Callable | None = None,
    cells: int = CELLS,
) -> np.ndarray:
    """P@k of each query (rows `queries` of `documents`) against all documents, itself excluded, ties by
    document order: a (queries x len(ks)) array. `documents` (an array, a memory map or a sparse matrix)
    is read in blocks of rows, each passed through `transform` (e.g. logits -> soft labels) first, so
    memory holds the queries and one block of distances, never N x N or the whole transformed corpus."""
    _, label_ids = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    n, queries = documents.shape[0], np.asarray(queries, dtype=np.int64)
    transform = transform or (lambda rows: rows)
    kmax = min(max(ks), n - 1)
    query_rows = transform(documents[queries])
    if distance == "kl":
        query_rows = np.asarray(query_rows, dtype=np.float64)
    block = max(kmax + 1, cells // max(1, len(queries)))
    best_d = np.full((len(queries), kmax), np.inf)
    best_i = np.full((len(queries), kmax), n, dtype=np.int64)
    for first in range(0, n, block):
        last = min(first + block, n)
        distances = np.array(_distances(query_rows, transform(documents[first:last]), distance), dtype=np.float64)
        inside = np.flatnonzero((queries >= first) & (queries < last))
        distances[inside, queries[inside] - first] = np.inf
        best_d, best_i = _merge_nearest(best_d, best_i, distances, first, kmax)
    same = label_ids[best_i] == label_ids[queries, None]
    return np.stack([same[:, :k].mean(axis=1) for k in ks], axis=1)


def retrieval_scores(
    representations,
    labels,
    ks: Sequence[int],
    distance: str,
    sampling: dict,
    transform: Callable | None = None,
    log=None,
) -> dict:
    """P@k over the labelled documents (the others neither query nor are retrieved): exact when at most
    `sampling["exact_up_to"]` are labelled (`labelled_precision`), else over `sampling["queries"]` queries
    drawn with `sampling["seed"]` against all labelled documents, with the standard error of each mean
    (finite-population corrected). Says which: `retrieval_mode`, `retrieval_queries`, `p@k_se`."""
    labels = pd.Series(labels).reset_index(drop=True)
    keep = np.flatnonzero(labels.notna().to_numpy())
    if len(keep) < 2 or len(keep) <= sampling["exact_up_to"]:
        transform = transform or (lambda rows: rows)
        rows = transform(representations[keep]) if len(keep) else representations[keep]
        exact = labelled_precision(rows, labels[keep].to_numpy(dtype=object), ks, distance, log)
        return exact | {f"p@{k}_se": 0.0 for k in ks} | {"retrieval_mode": "exact", "retrieval_queries": len(keep)}
    if len(keep) < len(labels) and log is not None:
        log.warning("%d documents have no label: retrieval uses the %d labelled ones", len(labels) - len(keep), len(keep))
    documents = _Rows(representations, keep)
    size = min(sampling["queries"], len(keep))
    queries = np.sort(np.random.default_rng(sampling["seed"]).choice(len(keep), size=size, replace=False))
    hits = query_precision(documents, labels[keep].to_numpy(dtype=str), queries, ks, distance, transform)
    correction = np.sqrt((len(keep) - size) / (len(keep) - 1))
    se = hits.std(axis=0, ddof=1) / np.sqrt(size) * correction if size > 1 else np.zeros(len(ks))
    result = {f"p@{k}": float(hits[:, i].mean()) for i, k in enumerate(ks)}
    return result | {f"p@{k}_se": float(se[i]) for i, k in enumerate(ks)} | {
        "retrieval_mode": "sampled", "retrieval_queries": int(size)}


class _Rows:
    """The rows `keep` of a matrix, sliced and fancy-indexed like one (blocks read on demand)."""

    def __init__(self, matrix, keep: np.ndarray):
        self.matrix, self.keep = matrix, keep
        self.shape = (len(keep),) + tuple(matrix.shape[1:])

    def __getitem__(self, index):
        rows = self.keep[index]
        if isinstance(index, slice) and len(rows) and rows[-1] - rows[0] == len(rows) - 1:
            return take(self.matrix, slice(rows[0], rows[-1] + 1))  # a contiguous run: a plain slice of a memory map
        return take(self.matrix, rows)
