"""The model contract: every topic model reads `TopicData` and yields theta and beta."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class TopicData:
    """Everything a model may read, one row per prepared document.

    `logits` and `hidden` come from the LM stage; BoW models ignore them, DSL models need them.
    `embeddings` (N x e, from a sentence encoder) feed the contextual baselines; `word_vectors`
    (|V| x w, word2vec trained on the corpus, row i = vocabulary[i]) the word-embedding models.
    """

    bow: sp.csr_matrix
    vocabulary: list[str]
    logits: np.ndarray | None = None
    hidden: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    word_vectors: np.ndarray | None = None

    def nonempty_documents(self) -> np.ndarray:
        """Indices of documents with at least one vocabulary word (what BoW models train on)."""
        return np.flatnonzero(np.asarray(self.bow.sum(axis=1)).ravel() > 0)


class TopicModel(ABC):
    """`fit` learns from data; then `theta` (documents x K) and `beta` (K x |V|) describe it."""

    num_topics: int
    # what `fit` reads from TopicData: "bow", "lm" (logits and hidden), "embeddings", "word_vectors"
    requires: frozenset[str]

    @abstractmethod
    def fit(self, data: TopicData, seed: int) -> list[float]:
        """Train deterministically for `seed`; returns the loss per epoch (or pass)."""

    @abstractmethod
    def theta(self) -> np.ndarray:
        """Document-topic proportions for `documents()`, rows summing to 1."""

    @abstractmethod
    def beta(self) -> np.ndarray:
        """Topic-word distributions, rows summing to 1."""

    @abstractmethod
    def documents(self) -> np.ndarray:
        """Which rows of the prepared corpus `theta` covers."""
