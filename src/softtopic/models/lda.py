"""LDA baseline: gensim's online variational Bayes, behind the common contract.

theta (of the training documents and of new ones alike) comes from `infer_gamma`: the variational
E-step against the trained topics, each document started from gamma = 1 (gensim starts it from a random
draw, so its own `inference` gives a different theta on every call). A document's theta depends on it
and the saved arrays alone.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import torch
from scipy.special import psi

from softtopic.models.base import TopicData, TopicModel


class LDA(TopicModel):
    """Latent Dirichlet allocation on BoW counts (documents with an empty BoW are left out).

    The defaults are the release's (OCTIS over gensim): one pass, 50 iterations, chunks of 2,000,
    symmetric alpha and eta, random_state = seed. The fair protocol's (gensim's LDA tutorial) are
    passes 20, iterations 400, alpha and eta 'auto'. `converged` holds, after `fit`, the share of
    documents whose E-step converged in the last pass (gensim's own count, read from its log).
    """

    requires = frozenset({"bow"})

    def __init__(self, num_topics: int, passes: int = 1, iterations: int = 50, chunksize: int = 2000,
                 alpha: str = "symmetric", eta: str = "symmetric"):
        self.num_topics = num_topics
        self.passes = passes
        self.iterations = iterations
        self.chunksize = chunksize
        self.alpha = alpha
        self.eta = eta
        self.converged: float | None = None

    def fit(self, data: TopicData, seed: int) -> list[float]:
        from gensim.models import LdaModel

        self._rows = data.nonempty_documents()
        bow = data.bow[self._rows]
        corpus = [list(zip(row.indices.tolist(), row.data.tolist())) for row in bow]
        gensim_log = logging.getLogger("gensim.models.ldamodel")
        level, propagate = gensim_log.level, gensim_log.propagate
        counts = _ConvergenceCounts(forward_level=gensim_log.getEffectiveLevel())
        gensim_log.addHandler(counts)
        gensim_log.setLevel(logging.DEBUG)
        gensim_log.propagate = False  # the handler passes on what the log showed before, no debug flood
        try:
            self.model = LdaModel(
                corpus=corpus,
                num_topics=self.num_topics,
                id2word=dict(enumerate(data.vocabulary)),
                random_state=seed,
                passes=self.passes,
                iterations=self.iterations,
                chunksize=self.chunksize,
                alpha=self.alpha,
                eta=None if self.eta == "symmetric" else self.eta,
            )
        finally:
            gensim_log.removeHandler(counts)
            gensim_log.setLevel(level)
            gensim_log.propagate = propagate
        self.converged = counts.last_pass(len(corpus))
        if self.converged is not None:
            logging.getLogger("softtopic").info(
                "LDA: %.1f%% of %d documents converged within %d iterations in the last of %d passes",
                100 * self.converged, len(corpus), self.iterations, self.passes)
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


class _ConvergenceCounts(logging.Handler):
    """Collects gensim's "N/M documents converged within I iterations" debug records (one per chunk) and
    passes the records at `forward_level` or above on to the root logger, as gensim's logger would have."""

    PATTERN = re.compile(r"(\d+)/(\d+) documents converged within")

    def __init__(self, forward_level: int):
        super().__init__(logging.DEBUG)
        self.forward_level = forward_level
        self.chunks: list[tuple[int, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = self.PATTERN.search(record.getMessage())
        if match:
            self.chunks.append((int(match.group(1)), int(match.group(2))))
        elif record.levelno >= self.forward_level:
            logging.getLogger().handle(record)

    def last_pass(self, documents: int) -> float | None:
        """Converged share over the chunks of the last pass (the last chunks covering `documents`)."""
        done = total = 0
        for converged, size in reversed(self.chunks):
            if total >= documents:
                break
            done, total = done + converged, total + size
        return done / total if total else None
