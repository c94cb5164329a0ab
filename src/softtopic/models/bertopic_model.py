"""BERTopic (Grootendorst 2022) through its package, made comparable with the other models.

- Documents are embedded once by the workflow's sentence encoder (`TopicData.embeddings`); BERTopic
  embeds nothing itself.
- No UMAP: the embeddings are clustered directly (umap-learn needs numba, which the pinned stack
  does not carry). KMeans with K clusters gives exactly K topics and no outlier topic, where the
  paper ran HDBSCAN and reduced to `nr_topics = K + 1`.
- Its CountVectorizer is fixed to the vocabulary and reads each document as its vocabulary words
  joined by spaces (the vocabulary-filtered text), so BERTopic's own cleaning (which turns
  "wouldn't" into "wouldnt") cannot leave a vocabulary word without counts.
- beta = each topic's c-TF-IDF row, normalised to sum 1; theta = the one-hot topic assignment
  (BERTopic assigns each document to one topic).
- A new document gets the topic whose K-means centre (kept in topic order) is nearest its embedding: the
  assignment K-means itself gives the training documents.
"""

from __future__ import annotations

import numpy as np

from softtopic.models.base import TopicData, TopicModel
from softtopic.models.neural import required_array


class BERTopicModel(TopicModel):
    """BERTopic over precomputed document embeddings, K-means clustering and the fixed vocabulary."""

    requires = frozenset({"bow", "embeddings"})

    def __init__(self, num_topics: int, n_init: int = 10):
        self.num_topics = num_topics
        self.n_init = n_init

    def fit(self, data: TopicData, seed: int) -> list[float]:
        from bertopic import BERTopic
        from bertopic.dimensionality import BaseDimensionalityReduction
        from sklearn.cluster import KMeans
        from sklearn.feature_extraction.text import CountVectorizer

        embeddings = required_array(data, "embeddings", "BERTopic", "the sentence-encoder document embeddings")
        self._rows = data.nonempty_documents()
        bow = data.bow[self._rows]
        words = np.asarray(data.vocabulary, dtype=object)
        texts = [" ".join(np.repeat(words[bow.indices[a:b]], bow.data[a:b].astype(int)))
                 for a, b in zip(bow.indptr[:-1], bow.indptr[1:])]
        clusters = KMeans(n_clusters=self.num_topics, n_init=self.n_init, random_state=seed)
        self.model = BERTopic(
            umap_model=BaseDimensionalityReduction(),
            hdbscan_model=clusters,
            vectorizer_model=CountVectorizer(vocabulary=data.vocabulary, lowercase=False, token_pattern=r"\S+"),
            top_n_words=15,
            calculate_probabilities=False,
        )
        topics, _ = self.model.fit_transform(texts, embeddings=embeddings[self._rows])
        topics = np.asarray(topics)
        if topics.min() < 0 or len(set(topics)) != self.num_topics:
            raise RuntimeError(f"BERTopic gave topics {sorted(set(topics))}, expected 0..{self.num_topics - 1}")
        self._theta = np.eye(self.num_topics, dtype=np.float32)[topics]
        self.centres = np.zeros_like(clusters.cluster_centers_, dtype=np.float32)
        for cluster, topic in set(zip(clusters.labels_.tolist(), topics.tolist())):
            self.centres[topic] = clusters.cluster_centers_[cluster]
        c_tf_idf = np.asarray(self.model.c_tf_idf_.todense(), dtype=np.float64)
        self._beta = c_tf_idf / c_tf_idf.sum(axis=1, keepdims=True)
        return [float(clusters.inertia_)]

    def theta(self) -> np.ndarray:
        return self._theta

    def beta(self) -> np.ndarray:
        return self._beta.astype(np.float32)

    def documents(self) -> np.ndarray:
        return self._rows

    # ---- saving and inference (softtopic.trained)
    def transform_reads(self) -> frozenset[str]:
        return frozenset({"bow", "embeddings"})

    def transform(self, data: TopicData) -> np.ndarray:
        """One-hot theta of the nearest K-means centre, for every document (NaN rows for an empty BoW)."""
        theta = np.full((data.bow.shape[0], self.num_topics), np.nan, dtype=np.float32)
        rows = data.nonempty_documents()
        embeddings = required_array(data, "embeddings", "BERTopic", "the sentence-encoder document embeddings")[rows]
        distances = ((embeddings[:, None, :] - self.centres[None, :, :]) ** 2).sum(-1)
        theta[rows] = np.eye(self.num_topics, dtype=np.float32)[distances.argmin(1)]
        return theta

    def export(self):
        import torch

        return {"centres": torch.as_tensor(self.centres), "topic_word": torch.as_tensor(self.beta())}, {}

    def restore(self, tensors, extra: dict, vocabulary: list[str]) -> None:
        self.centres = tensors["centres"].numpy()
        self._beta = tensors["topic_word"].numpy().astype(np.float64)
