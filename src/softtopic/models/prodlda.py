"""ProdLDA's network and its two uses: DSL-ProdLDA (LM supervision, SPEC §3) and BoW ProdLDA.

Both share one inference network and decoder. They differ only in what the encoder reads and what
the decoder must reconstruct (`softtopic.models.neural`'s two supervisions):

- DSL-ProdLDA: LM hidden state in, soft label ``softmax(y / tau)`` out, loss
  ``KL(q || prior) + kl_weight * KL(target || prediction)``, prediction tempered by the same tau.
- ProdLDA: BoW counts in and out, loss ``KL(q || prior) - sum(bow * log prediction)``.
"""

from __future__ import annotations

import torch
from torch import nn

from softtopic.models.base import TopicData
from softtopic.models.neural import BowSupervision, GaussianEncoder, LMSupervision, NeuralTopicModel, gaussian_kl


class ProdLDANetwork(nn.Module):
    """Encoder (input -> logistic-normal posterior) and product-of-experts decoder over V."""

    def __init__(self, input_dim: int, vocab_size: int, num_topics: int, hidden: tuple[int, ...] = (200, 200),
                 dropout: float = 0.2, theta_samples: int = 10):
        super().__init__()
        self.encoder = GaussianEncoder(input_dim, num_topics, hidden, dropout)
        self.theta_samples = theta_samples
        self.theta_dropout = nn.Dropout(dropout)
        self.beta = nn.Parameter(torch.empty(num_topics, vocab_size))
        nn.init.xavier_uniform_(self.beta)
        self.beta_norm = nn.BatchNorm1d(vocab_size, affine=False)
        # Laplace approximation of a Dirichlet(1) prior: mean 0, variance 1 - 1/K.
        self.register_buffer("prior_var", torch.full((num_topics,), 1.0 - 1.0 / num_topics))

    def forward(self, x: torch.Tensor, tau: float = 1.0):
        """(prediction over V, KL(q || prior) per document)."""
        mu, logvar = self.encoder(x)
        theta = self.theta_dropout(self.encoder.sample(mu, logvar))
        prediction = torch.softmax(self.beta_norm(theta @ self.beta) / tau, dim=-1)
        return prediction, gaussian_kl(mu, logvar, self.prior_var)

    def infer_theta(self, x: torch.Tensor) -> torch.Tensor:
        """theta for evaluation: the mean of `theta_samples` posterior draws, in eval mode."""
        self.eval()
        return self.encoder.infer_theta(x, self.theta_samples)

    def topic_word(self) -> torch.Tensor:
        return torch.softmax(self.beta.detach(), dim=-1)


class _ProdLDABackbone(NeuralTopicModel):
    """The ProdLDA network behind either supervision."""

    def __init__(self, num_topics: int, hidden: tuple[int, ...] = (200, 200), dropout: float = 0.2, **kwargs):
        super().__init__(num_topics, **kwargs)
        self.hidden = tuple(hidden)
        self.dropout = dropout

    def build_network(self, data: TopicData, input_dim: int) -> ProdLDANetwork:
        return ProdLDANetwork(input_dim, len(data.vocabulary), self.num_topics, self.hidden, self.dropout,
                              self.theta_samples)


class DSLProdLDA(LMSupervision, _ProdLDABackbone):
    """ProdLDA reading the LM hidden state and reconstructing the LM soft label at temperature tau."""

    @property
    def decoder_tau(self) -> float:
        return self.tau


class ProdLDA(BowSupervision, _ProdLDABackbone):
    """The BoW baseline: ProdLDA reading and reconstructing bag-of-words counts."""
