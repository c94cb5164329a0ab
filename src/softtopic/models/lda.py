"""LDA baseline: gensim's online variational Bayes, behind the common contract."""

from __future__ import annotations

import numpy as np
from gensim.models import LdaModel

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
        gamma, _ = self.model.inference(corpus)
        self._theta = gamma / gamma.sum(axis=1, keepdims=True)
        bound = self.model.log_perplexity(corpus)
        return [float(-bound)]

    def theta(self) -> np.ndarray:
        return self._theta.astype(np.float32)

    def beta(self) -> np.ndarray:
        return self.model.get_topics().astype(np.float32)

    def documents(self) -> np.ndarray:
        return self._rows
