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

    # ---- saving and inference (softtopic.trained); every model here implements them
    def transform_reads(self) -> frozenset[str]:
        """The `TopicData` fields that `transform` reads."""
        raise NotImplementedError(f"{type(self).__name__} cannot infer theta of new documents")

    def transform(self, data: TopicData) -> np.ndarray:
        """theta (documents x K) of every document of `data`, by the procedure that gave `theta()`; NaN
        rows for documents the model cannot read. Deterministic, one document independent of the others."""
        raise NotImplementedError(f"{type(self).__name__} cannot infer theta of new documents")

    def export(self) -> tuple[dict, dict]:
        """(named arrays as torch tensors, JSON-able settings) from which `restore` rebuilds the trained model."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved portably")

    def restore(self, tensors: dict, extra: dict, vocabulary: list[str]) -> None:
        """Rebuild the trained state of a model made with the same hyperparameters, from `export`'s output."""
        raise NotImplementedError(f"{type(self).__name__} cannot be loaded")
