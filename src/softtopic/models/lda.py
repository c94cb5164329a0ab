"""LDA baseline: gensim's online variational Bayes, behind the common contract."""

from __future__ import annotations

import logging
import re

import numpy as np
from gensim.models import LdaModel

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
            self.model = self._train(corpus, data.vocabulary, seed)
        finally:
            gensim_log.removeHandler(counts)
            gensim_log.setLevel(level)
            gensim_log.propagate = propagate
        self.converged = counts.last_pass(len(corpus))
        if self.converged is not None:
            logging.getLogger("softtopic").info(
                "LDA: %.1f%% of %d documents converged within %d iterations in the last of %d passes",
                100 * self.converged, len(corpus), self.iterations, self.passes)
        gamma, _ = self.model.inference(corpus)
        self._theta = gamma / gamma.sum(axis=1, keepdims=True)
        bound = self.model.log_perplexity(corpus)
        return [float(-bound)]

    def _train(self, corpus, vocabulary, seed: int) -> LdaModel:
        return LdaModel(
            corpus=corpus,
            num_topics=self.num_topics,
            id2word=dict(enumerate(vocabulary)),
            random_state=seed,
            passes=self.passes,
            iterations=self.iterations,
            chunksize=self.chunksize,
            alpha=self.alpha,
            eta=None if self.eta == "symmetric" else self.eta,
        )

    def theta(self) -> np.ndarray:
        return self._theta.astype(np.float32)

    def beta(self) -> np.ndarray:
        return self.model.get_topics().astype(np.float32)

    def documents(self) -> np.ndarray:
        return self._rows


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
