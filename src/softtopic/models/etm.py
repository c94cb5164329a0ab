"""ETM (Dieng et al. 2020) and ECRTM (Wu et al. 2023), each under BoW or LM (DSL) supervision.

Both score words by embeddings: a topic is a vector in the word-embedding space.

- ETM: beta = softmax over V of (word embeddings @ topic embeddings); prediction theta @ beta;
  prior N(0, I). The BoW baseline keeps the word vectors fixed (word2vec trained on the corpus) and
  reads word proportions; DSL-ETM learns its word embeddings (as the authors' release does).
- ECRTM: beta from Euclidean distances between topic and word embeddings, softmax over topics at
  temperature `beta_temp`; prediction softmax(BN(theta @ beta)); prior the Laplace approximation of
  Dirichlet(1); plus the embedding clustering regulariser: `ecr_weight` times the Sinkhorn transport
  cost from topic embeddings (uniform) to word embeddings (uniform). Word embeddings start from the
  word vectors and are trained.

Evaluation theta is softmax(mu) (`theta_samples` 0), as both reference implementations infer it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from softtopic.models.base import TopicData
from softtopic.models.neural import (BowSupervision, GaussianEncoder, LMSupervision, NeuralTopicModel, gaussian_kl,
                                     required_array, shift_batch_norm)
from softtopic.models.transport import sinkhorn_plan, squared_distances, uniform


class ETMNetwork(nn.Module):
    """Gaussian encoder; topics as embeddings scored against word embeddings."""

    def __init__(self, input_dim: int, num_topics: int, word_embeddings: torch.Tensor, train_word_embeddings: bool,
                 hidden: tuple[int, ...], dropout: float, activation: str, theta_samples: int,
                 batch_norm: str = "none", prior_var: float = 1.0):
        super().__init__()
        self.encoder = GaussianEncoder(input_dim, num_topics, hidden, dropout, activation, batch_norm)
        self.theta_samples = theta_samples
        self.prior_var = prior_var
        if train_word_embeddings:
            self.word_embeddings = nn.Parameter(word_embeddings)
        else:
            self.register_buffer("word_embeddings", word_embeddings)
        self.topic_embeddings = nn.Parameter(self.initial_topic_embeddings(num_topics, word_embeddings.shape[1]))

    def initial_topic_embeddings(self, num_topics: int, size: int) -> torch.Tensor:
        return nn.Linear(size, num_topics, bias=False).weight.detach().clone()

    def decoder_beta(self) -> torch.Tensor:
        """What the decoder mixes: K x V."""
        return torch.softmax(self.word_embeddings @ self.topic_embeddings.T, dim=0).T

    def decode(self, theta: torch.Tensor, tau: float) -> torch.Tensor:
        return theta @ self.decoder_beta()

    def regulariser(self) -> torch.Tensor | float:
        return 0.0

    def forward(self, x: torch.Tensor, tau: float = 1.0):
        """(prediction over V, KL(q || prior) + regulariser per document)."""
        mu, logvar = self.encoder(x)
        prediction = self.decode(self.encoder.sample(mu, logvar), tau)
        return prediction, gaussian_kl(mu, logvar, self.prior_var) + self.regulariser()

    def infer_theta(self, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
        self.eval()
        return self.encoder.infer_theta(x, self.theta_samples, seed)

    def topic_word(self) -> torch.Tensor:
        beta = self.decoder_beta().detach()
        return beta / beta.sum(1, keepdim=True)


class ECRTMNetwork(ETMNetwork):
    """ETM's encoder with distance-based beta, a batch-normalised decoder and the ECR regulariser."""

    def __init__(self, input_dim: int, num_topics: int, word_embeddings: torch.Tensor, hidden: tuple[int, ...],
                 dropout: float, activation: str, theta_samples: int, beta_temp: float, ecr_weight: float,
                 sinkhorn_alpha: float, sinkhorn_max_iter: int):
        super().__init__(input_dim, num_topics, F.normalize(word_embeddings), True, hidden, dropout, activation,
                         theta_samples, batch_norm="shift", prior_var=1.0 - 1.0 / num_topics)
        self.beta_temp = beta_temp
        self.ecr_weight = ecr_weight
        self.sinkhorn_alpha = sinkhorn_alpha
        self.sinkhorn_max_iter = sinkhorn_max_iter
        self.decoder_norm = shift_batch_norm(word_embeddings.shape[0])

    def initial_topic_embeddings(self, num_topics: int, size: int) -> torch.Tensor:
        return F.normalize(nn.init.trunc_normal_(torch.empty(num_topics, size), std=0.1))

    def distances(self) -> torch.Tensor:
        return squared_distances(self.topic_embeddings, self.word_embeddings)

    def decoder_beta(self) -> torch.Tensor:
        return torch.softmax(-self.distances() / self.beta_temp, dim=0)

    def decode(self, theta: torch.Tensor, tau: float) -> torch.Tensor:
        return torch.softmax(self.decoder_norm(theta @ self.decoder_beta()) / tau, dim=-1)

    def regulariser(self) -> torch.Tensor:
        cost = self.distances()
        plan = sinkhorn_plan(cost, uniform(cost.shape[0], cost), uniform(cost.shape[1], cost), self.sinkhorn_alpha,
                             self.sinkhorn_max_iter)
        return self.ecr_weight * (plan * cost).sum()


class _ETMBackbone(NeuralTopicModel):
    """ETM under either supervision. Word embeddings: `data.word_vectors` (fixed) when
    `word_embeddings` is 'fixed', else learned from a random start of size `embedding_size`."""

    def __init__(self, num_topics: int, hidden: tuple[int, ...] = (800, 800), dropout: float = 0.5,
                 activation: str = "relu", word_embeddings: str = "fixed", embedding_size: int = 300,
                 theta_samples: int = 0, lr: float = 5e-3, batch_size: int = 128, weight_decay: float = 1.2e-6,
                 betas: tuple[float, float] = (0.9, 0.999), **kwargs):
        super().__init__(num_topics, theta_samples=theta_samples, lr=lr, batch_size=batch_size,
                         weight_decay=weight_decay, betas=betas, **kwargs)
        if word_embeddings not in ("fixed", "learned"):
            raise ValueError(f"ETM word_embeddings must be 'fixed' or 'learned', got '{word_embeddings}'")
        self.hidden = tuple(hidden)
        self.dropout = dropout
        self.activation = activation
        self.word_embeddings = word_embeddings
        self.embedding_size = embedding_size

    def build_network(self, data: TopicData, input_dim: int) -> ETMNetwork:
        if self.word_embeddings == "fixed":
            vectors = torch.as_tensor(word_vectors(data, type(self).__name__))
        else:
            vectors = nn.Linear(self.embedding_size, len(data.vocabulary), bias=False).weight.detach().clone()
        return ETMNetwork(input_dim, self.num_topics, vectors, self.word_embeddings == "learned", self.hidden,
                          self.dropout, self.activation, self.theta_samples)


class ETM(BowSupervision, _ETMBackbone):
    """The BoW baseline: word proportions in, counts reconstructed, word2vec vectors fixed."""

    requires = frozenset({"bow", "word_vectors"})
    normalise_input = True


class DSLETM(LMSupervision, _ETMBackbone):
    """ETM reading the LM hidden state and reconstructing the LM soft label."""

    requires = frozenset({"lm"})

    def __init__(self, num_topics: int, hidden: tuple[int, ...] = (200, 200), activation: str = "softplus",
                 word_embeddings: str = "learned", lr: float = 2e-3, batch_size: int = 64, weight_decay: float = 0.0,
                 **kwargs):
        super().__init__(num_topics, hidden=hidden, activation=activation, word_embeddings=word_embeddings, lr=lr,
                         batch_size=batch_size, weight_decay=weight_decay, **kwargs)


class _ECRTMBackbone(NeuralTopicModel):
    """ECRTM under either supervision; word embeddings start from `data.word_vectors`."""

    def __init__(self, num_topics: int, hidden: tuple[int, ...] = (200, 200), dropout: float = 0.0,
                 activation: str = "softplus", beta_temp: float = 0.2, ecr_weight: float = 100.0,
                 sinkhorn_alpha: float = 20.0, sinkhorn_max_iter: int = 1000, theta_samples: int = 0,
                 epochs: int = 200, betas: tuple[float, float] = (0.9, 0.999), **kwargs):
        super().__init__(num_topics, theta_samples=theta_samples, epochs=epochs, betas=betas, **kwargs)
        self.hidden = tuple(hidden)
        self.dropout = dropout
        self.activation = activation
        self.beta_temp = beta_temp
        self.ecr_weight = ecr_weight
        self.sinkhorn_alpha = sinkhorn_alpha
        self.sinkhorn_max_iter = sinkhorn_max_iter

    def build_network(self, data: TopicData, input_dim: int) -> ECRTMNetwork:
        vectors = torch.as_tensor(word_vectors(data, type(self).__name__))
        return ECRTMNetwork(input_dim, self.num_topics, vectors, self.hidden, self.dropout, self.activation,
                            self.theta_samples, self.beta_temp, self.ecr_weight, self.sinkhorn_alpha,
                            self.sinkhorn_max_iter)


class ECRTM(BowSupervision, _ECRTMBackbone):
    """The BoW baseline: counts in and out, plus embedding clustering regularisation."""

    requires = frozenset({"bow", "word_vectors"})


class DSLECRTM(LMSupervision, _ECRTMBackbone):
    """ECRTM reading the LM hidden state and reconstructing the LM soft label."""

    requires = frozenset({"lm", "word_vectors"})


def word_vectors(data: TopicData, model: str) -> np.ndarray:
    """`data.word_vectors`, checked against the vocabulary."""
    vectors = required_array(data, "word_vectors", model, "word2vec vectors of the vocabulary")
    if vectors.shape[0] != len(data.vocabulary):
        raise ValueError(f"{model}: word_vectors has {vectors.shape[0]} rows, the vocabulary {len(data.vocabulary)} words")
    return vectors
