"""Clustering reference rows: K-means on document vectors, no training (docs/fair-ground.md).

The floor any topic model's purity and NMI should clear: K-means with K clusters (scikit-learn,
`n_init` restarts, random_state = seed) on the sentence encoder's embeddings of the documents
(`kmeans-embeddings`; the raw text under protocol fair) or on the LM's last hidden states, each feature
standardised over the corpus (`kmeans-hidden`, per LM and prompt; the temperature plays no part).

- theta: distance-based, softmax(-||x - c_k||^2 / s) over the K centroids, with s the mean squared
  distance of the documents to their own centroid; its argmax is the K-means assignment, so purity and
  NMI are K-means's own, and retrieval (KL between thetas) ranks documents by closeness to the centroids.
- beta: each cluster's c-TF-IDF over the BoW (term frequency in the cluster, L1-normalised, times
  log(1 + mean words per cluster / the word's corpus count), as BERTopic weighs it), normalised to sum
  1; a cluster without vocabulary words gets a uniform row. Every document is clustered, also those
  with an empty BoW.

`kmeans-combined` clusters what `encoder_input: hidden+embeddings` gives DSL-ProdLDA: the hidden state
and the sentence embedding side by side, each block given the same weight (`neural.block_scales`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from softtopic.models.base import TopicData, TopicModel
from softtopic.models.neural import block_scales, hidden_embedding_blocks, required_array


def squared_distances(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """documents x K squared Euclidean distances."""
    distances = (vectors**2).sum(1)[:, None] - 2 * vectors @ centroids.T + (centroids**2).sum(1)[None, :]
    return np.maximum(distances, 0)


def soft_assignments(vectors: np.ndarray, centroids: np.ndarray, scale: float | None = None) -> np.ndarray:
    """documents x K: softmax of minus the squared distances over `scale` (default: their mean at the
    nearest centroid)."""
    distances = squared_distances(vectors, centroids)
    if scale is None:
        scale = max(float(distances.min(axis=1).mean()), 1e-12)
    logits = -distances / scale
    logits -= logits.max(axis=1, keepdims=True)
    theta = np.exp(logits)
    return theta / theta.sum(axis=1, keepdims=True)


def cluster_word_weights(bow: sp.csr_matrix, clusters: np.ndarray, num_topics: int) -> np.ndarray:
    """K x |V| c-TF-IDF of each cluster's summed BoW, rows normalised to 1 (uniform for an empty cluster)."""
    members = sp.csr_matrix((np.ones(len(clusters)), (clusters, np.arange(len(clusters)))),
                            shape=(num_topics, bow.shape[0]))
    counts = np.asarray((members @ bow).todense(), dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    frequency = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    idf = np.log1p(totals.mean() / np.maximum(counts.sum(axis=0), 1))
    weights = frequency * idf
    sums = weights.sum(axis=1, keepdims=True)
    uniform = np.full_like(weights, 1 / weights.shape[1])
    return np.where(sums > 0, weights / np.where(sums > 0, sums, 1), uniform)


class KMeansReference(TopicModel):
    """K-means with K clusters on one kind of document vector (a subclass names which)."""

    field: str
    what: str

    def __init__(self, num_topics: int, n_init: int = 10, tau: float | None = None):
        self.num_topics = num_topics
        self.n_init = n_init  # tau: the LM rows' temperature, which K-means does not read

    def vectors(self, data: TopicData) -> np.ndarray:
        return required_array(data, self.field, type(self).__name__, self.what).astype(np.float64)

    def fit(self, data: TopicData, seed: int) -> list[float]:
        from sklearn.cluster import KMeans

        vectors = self.fit_scaling(self.vectors(data))
        clusters = KMeans(n_clusters=self.num_topics, n_init=self.n_init, random_state=seed).fit(vectors)
        self.centroids = clusters.cluster_centers_
        self.scale = max(float(squared_distances(vectors, self.centroids).min(axis=1).mean()), 1e-12)
        self._theta = soft_assignments(vectors, self.centroids, self.scale)
        self._beta = cluster_word_weights(data.bow, clusters.labels_, self.num_topics)
        self._rows = np.arange(vectors.shape[0])
        return [float(clusters.inertia_)]

    def theta(self) -> np.ndarray:
        return self._theta.astype(np.float32)

    def beta(self) -> np.ndarray:
        return self._beta.astype(np.float32)

    def documents(self) -> np.ndarray:
        return self._rows

    def fit_scaling(self, vectors: np.ndarray) -> np.ndarray:
        """The vectors K-means clusters (a subclass may standardise them, remembering how)."""
        return vectors

    def scaled(self, vectors: np.ndarray) -> np.ndarray:
        return vectors

    # ---- saving and inference (softtopic.trained)
    def transform_reads(self) -> frozenset[str]:
        return frozenset({self.field})

    def transform(self, data: TopicData) -> np.ndarray:
        """theta of every document of `data`, against the trained centroids and scale."""
        return soft_assignments(self.scaled(self.vectors(data)), self.centroids, self.scale).astype(np.float32)

    def export(self):
        import torch

        tensors = {"centroids": self.centroids, "topic_word": self._beta, **self.scaling()}
        return {k: torch.as_tensor(np.ascontiguousarray(v)) for k, v in tensors.items()}, {"scale": self.scale}

    def scaling(self) -> dict:
        return {}

    def restore(self, tensors, extra: dict, vocabulary: list[str]) -> None:
        self.centroids = tensors["centroids"].numpy().astype(np.float64)
        self._beta = tensors["topic_word"].numpy().astype(np.float64)
        self.scale = extra["scale"]


class KMeansEmbeddings(KMeansReference):
    """K-means on the sentence encoder's document embeddings."""

    requires = frozenset({"bow", "embeddings"})
    field, what = "embeddings", "the sentence-encoder document embeddings"


class KMeansHidden(KMeansReference):
    """K-means on the LM's last hidden states, each feature z-scored over the corpus."""

    requires = frozenset({"bow", "lm"})
    field, what = "hidden", "the LM stage's hidden states"

    @classmethod
    def reads(cls, settings: dict) -> frozenset[str]:
        return frozenset({"bow", "hidden"})

    def fit_scaling(self, vectors: np.ndarray) -> np.ndarray:
        self.mean, self.sd = vectors.mean(axis=0), np.maximum(vectors.std(axis=0), 1e-6)
        return self.scaled(vectors)

    def scaled(self, vectors: np.ndarray) -> np.ndarray:
        return (vectors - self.mean) / self.sd

    def scaling(self) -> dict:
        return {"mean": self.mean, "sd": self.sd}

    def restore(self, tensors, extra: dict, vocabulary: list[str]) -> None:
        super().restore(tensors, extra, vocabulary)
        self.mean, self.sd = tensors["mean"].numpy().astype(np.float64), tensors["sd"].numpy().astype(np.float64)


class KMeansCombined(KMeansHidden):
    """K-means on the hidden state and the sentence embedding side by side, scaled as DSL-ProdLDA's
    `encoder_input: hidden+embeddings` scales them: the hidden state z-scored per feature, the embedding
    centred, each block to a mean squared norm of 1."""

    requires = frozenset({"bow", "lm", "embeddings"})
    what = "the LM stage's hidden states and the sentence-encoder document embeddings"

    @classmethod
    def reads(cls, settings: dict) -> frozenset[str]:
        return frozenset({"bow", "hidden", "embeddings"})

    def vectors(self, data: TopicData) -> np.ndarray:
        hidden = required_array(data, "hidden", type(self).__name__, "the LM stage's hidden states")
        embeddings = required_array(data, "embeddings", type(self).__name__, "the sentence-encoder document embeddings")
        self.blocks = hidden_embedding_blocks(hidden.shape[1], embeddings.shape[1])
        return np.concatenate([hidden, embeddings], axis=1).astype(np.float64)

    def fit_scaling(self, vectors: np.ndarray) -> np.ndarray:
        import torch

        self.mean = vectors.mean(axis=0)
        self.sd = block_scales(torch.as_tensor(np.maximum(vectors.std(axis=0), 1e-6)), self.blocks).numpy()
        return self.scaled(vectors)

    def transform_reads(self) -> frozenset[str]:
        return frozenset({"hidden", "embeddings"})
