"""LDA baseline: gensim's online variational Bayes, behind the common contract.

theta (of the training documents and of new ones alike) comes from `infer_gamma`: the variational
E-step against the trained topics, each document started from gamma = 1 (gensim starts it from a random
draw, so its own `inference` gives a different theta on every call). A document's theta depends on it
and the saved arrays alone.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import psi

from softtopic.models.base import TopicData, TopicModel


class LDA(TopicModel):
    """Latent Dirichlet allocation on BoW counts (documents with an empty BoW are left out).

    The defaults are the release's (OCTIS over gensim): one pass, 50 iterations, chunks of 2,000,
    symmetric alpha, random_state = seed. passes=10, iterations=100 gives a stronger LDA.
    """

    requires = frozenset({"bow"})

    def __init__(self, num_topics: int, passes: int = 1, iterations: int = 50, chunksize: int = 2000,
                 alpha: str = "symmetric"):
        self.num_topics = num_topics
        self.passes = passes
        self.iterations = iterations
        self.chunksize = chunksize
        self.alpha = alpha

    def fit(self, data: TopicData, seed: int) -> list[float]:
        from gensim.models import LdaModel

        self._rows = data.nonempty_documents()
        bow = data.bow[self._rows]
        corpus = [list(zip(row.indices.tolist(), row.data.tolist())) for row in bow]
        self.model = LdaModel(
            corpus=corpus,
            num_topics=self.num_topics,
            id2word=dict(enumerate(data.vocabulary)),
            random_state=seed,
            passes=self.passes,
            iterations=self.iterations,
            chunksize=self.chunksize,
            alpha=self.alpha,
        )
        self.exp_elog_beta = np.asarray(self.model.expElogbeta, dtype=np.float64)
        self.alpha_vector = np.asarray(self.model.alpha, dtype=np.float64)
        self.gamma_threshold = float(self.model.gamma_threshold)
        self._topic_word = self.model.get_topics().astype(np.float32)
        self._theta = self.transform(data)[self._rows]
        bound = self.model.log_perplexity(corpus)
        return [float(-bound)]

    def theta(self) -> np.ndarray:
        return self._theta.astype(np.float32)

    def beta(self) -> np.ndarray:
        return self._topic_word

    def documents(self) -> np.ndarray:
        return self._rows

    # ---- saving and inference (softtopic.trained)
    def transform_reads(self) -> frozenset[str]:
        return frozenset({"bow"})

    def transform(self, data: TopicData) -> np.ndarray:
        """theta of every document of `data` (NaN rows for an empty BoW)."""
        theta = np.full((data.bow.shape[0], self.num_topics), np.nan, dtype=np.float32)
        for row in data.nonempty_documents():
            start, stop = data.bow.indptr[row], data.bow.indptr[row + 1]
            gamma = infer_gamma(data.bow.indices[start:stop], data.bow.data[start:stop], self.exp_elog_beta,
                                self.alpha_vector, self.iterations, self.gamma_threshold)
            theta[row] = gamma / gamma.sum()
        return theta

    def export(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors = {"exp_elog_beta": self.exp_elog_beta, "alpha": self.alpha_vector, "topic_word": self._topic_word}
        return {k: torch.as_tensor(np.ascontiguousarray(v)) for k, v in tensors.items()}, {
            "gamma_threshold": self.gamma_threshold}

    def restore(self, tensors: dict[str, torch.Tensor], extra: dict, vocabulary: list[str]) -> None:
        self.exp_elog_beta = tensors["exp_elog_beta"].numpy().astype(np.float64)
        self.alpha_vector = tensors["alpha"].numpy().astype(np.float64)
        self._topic_word = tensors["topic_word"].numpy().astype(np.float32)
        self.gamma_threshold = extra["gamma_threshold"]


def infer_gamma(ids: np.ndarray, counts: np.ndarray, exp_elog_beta: np.ndarray, alpha: np.ndarray,
                iterations: int, threshold: float) -> np.ndarray:
    """The variational Dirichlet parameter of one document (word `ids` with `counts`) under topics
    exp(E[log beta]) (K x |V|) and prior `alpha`: coordinate ascent from gamma = 1 until the mean absolute
    change of gamma falls below `threshold`, at most `iterations` steps (Hoffman et al. 2010, the E-step)."""
    beta = exp_elog_beta[:, ids]
    counts = np.asarray(counts, dtype=np.float64)
    gamma = np.ones(len(alpha))
    exp_elog_theta = np.exp(psi(gamma) - psi(gamma.sum()))
    for _ in range(iterations):
        previous = gamma
        norm = exp_elog_theta @ beta + 1e-100
        gamma = alpha + exp_elog_theta * (beta @ (counts / norm))
        exp_elog_theta = np.exp(psi(gamma) - psi(gamma.sum()))
        if np.abs(gamma - previous).mean() < threshold:
            break
    return gamma
