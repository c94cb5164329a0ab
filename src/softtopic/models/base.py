"""The model contract: every topic model reads `TopicData` and yields theta and beta."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


INPUTS = frozenset({"bow", "lm", "embeddings", "word_vectors"})


@dataclass
class TopicData:
    """Everything a model may read, one row per prepared document.

    `logits` and `hidden` come from the LM stage; BoW models ignore them, DSL models need them.
    `embeddings` (documents x e) come from the sentence encoder, `word_vectors` (|V| x w, row i is
    `vocabulary[i]`) from word2vec trained on the corpus. A model reads what its `requires` names.
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
    """`fit` learns from data; then `theta` (documents x K) and `beta` (K x |V|) describe it.

    `requires` names what the model reads, a subset of INPUTS: "bow" (bag of words), "lm" (the LM
    stage's logits and hidden states; such a model is trained per LM, prompt and tau), "embeddings"
    and "word_vectors". The workflow loads exactly these into `TopicData`.
    """

    num_topics: int
    requires: frozenset[str]

    @classmethod
    def reads(cls, settings: dict) -> frozenset[str]:
        """The `TopicData` fields that `fit` reads with these hyperparameters ("bow", "logits", "hidden",
        "embeddings", "word_vectors"): what the workflow loads. "lm" in `requires` stands for the logits
        and the hidden states; a model whose settings change its inputs overrides this."""
        lm = {"logits", "hidden"} if "lm" in cls.requires else set()
        return frozenset((cls.requires - {"lm"}) | lm)

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
