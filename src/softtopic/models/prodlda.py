"""ProdLDA's network and its two uses: DSL-ProdLDA (LM supervision, SPEC §3) and BoW ProdLDA.

Both share one inference network and decoder. They differ only in what the encoder reads and what
the decoder must reconstruct (`softtopic.models.neural`'s two supervisions):

- DSL-ProdLDA: LM hidden state in, soft label ``softmax(y / tau)`` out, loss
  ``KL(q || prior) + kl_weight * KL(target || prediction)``, prediction tempered by the same tau.
- ProdLDA: BoW counts in and out, loss ``KL(q || prior) - sum(bow * log prediction)``.
- ZeroShotTM (Bianchi et al. 2021b): the document's sentence embedding in, BoW counts out.
- CombinedTM (Bianchi et al. 2021a): BoW counts concatenated with the sentence embedding in, BoW out.

The logistic-normal prior starts at mean 0, variance 1 - 1/K; as in the release (and OCTIS's AVITM and
contextualized-topic-models), both are trained unless `learn_priors=False`.
"""

from __future__ import annotations

import torch
from torch import nn

from softtopic.models.base import TopicData
from softtopic.rows import take
from softtopic.models.neural import (BowSupervision, GaussianEncoder, InputStandardizer, LMSupervision,
                                     NeuralTopicModel, gaussian_kl, norm_layer, required_array)


class ProdLDANetwork(nn.Module):
    """Encoder (input -> logistic-normal posterior) and product-of-experts decoder over V."""

    def __init__(self, input_dim: int, vocab_size: int, num_topics: int, hidden: tuple[int, ...] = (200, 200),
                 dropout: float = 0.2, theta_samples: int = 10, learn_priors: bool = True,
                 standardize_input: bool = False, decoder_batch_norm: str = "plain"):
        super().__init__()
        # beyond the paper: z-scored inputs (the training set's mean and sd); the decoder's BatchNorm with a
        # learned scale and shift ('affine') or none
        self.input_norm = InputStandardizer(input_dim) if standardize_input else nn.Identity()
        self.encoder = GaussianEncoder(input_dim, num_topics, hidden, dropout)
        self.theta_samples = theta_samples
        self.theta_dropout = nn.Dropout(dropout)
        self.beta = nn.Parameter(torch.empty(num_topics, vocab_size))
        nn.init.xavier_uniform_(self.beta)
        self.beta_norm = norm_layer(vocab_size, decoder_batch_norm)
        # Laplace approximation of a Dirichlet(1) prior: mean 0, variance 1 - 1/K; trained or fixed.
        prior_mean = torch.zeros(num_topics)
        prior_var = torch.full((num_topics,), 1.0 - 1.0 / num_topics)
        if learn_priors:
            self.prior_mean, self.prior_var = nn.Parameter(prior_mean), nn.Parameter(prior_var)
        else:
            self.register_buffer("prior_mean", prior_mean)
            self.register_buffer("prior_var", prior_var)

    def forward(self, x: torch.Tensor, tau: float = 1.0):
        """(prediction over V, KL(q || prior) per document)."""
        mu, logvar = self.encoder(self.input_norm(x))
        theta = self.theta_dropout(self.encoder.sample(mu, logvar))
        prediction = torch.softmax(self.beta_norm(theta @ self.beta) / tau, dim=-1)
        return prediction, gaussian_kl(mu, logvar, self.prior_var, self.prior_mean)

    def infer_theta(self, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """theta for evaluation: the mean of `theta_samples` posterior draws (common random numbers seeded
        by `seed`, `GaussianEncoder.infer_theta`), in eval mode."""
        self.eval()
        return self.encoder.infer_theta(self.input_norm(x), self.theta_samples, seed)

    def topic_word(self) -> torch.Tensor:
        return torch.softmax(self.beta.detach(), dim=-1)


class _ProdLDABackbone(NeuralTopicModel):
    """The ProdLDA network behind either supervision."""

    def __init__(self, num_topics: int, hidden: tuple[int, ...] = (200, 200), dropout: float = 0.2,
                 learn_priors: bool = True, standardize_input: bool = False, decoder_batch_norm: str = "plain",
                 **kwargs):
        super().__init__(num_topics, **kwargs)
        self.hidden = tuple(hidden)
        self.dropout = dropout
        self.learn_priors = learn_priors
        self.standardize_input = standardize_input
        self.decoder_batch_norm = decoder_batch_norm

    def build_network(self, data: TopicData, input_dim: int) -> ProdLDANetwork:
        return ProdLDANetwork(input_dim, len(data.vocabulary), self.num_topics, self.hidden, self.dropout,
                              self.theta_samples, self.learn_priors, self.standardize_input,
                              self.decoder_batch_norm)


class DSLProdLDA(LMSupervision, _ProdLDABackbone):
    """ProdLDA reading the LM hidden state and reconstructing the LM soft label at temperature tau."""

    @property
    def decoder_tau(self) -> float:
        return self.tau


class ProdLDA(BowSupervision, _ProdLDABackbone):
    """The BoW baseline: ProdLDA reading and reconstructing bag-of-words counts."""


def document_embeddings(model: object, data: TopicData, rows) -> torch.Tensor:
    """The sentence-encoder embeddings of `rows` (the contextual models' encoder input)."""
    embeddings = required_array(data, "embeddings", type(model).__name__, "the sentence-encoder document embeddings")
    return torch.as_tensor(take(embeddings, rows))


class ZeroShotTM(ProdLDA):
    """ProdLDA whose encoder reads only the document's sentence embedding; the decoder reconstructs BoW."""

    requires = frozenset({"bow", "embeddings"})

    def inputs(self, data, rows):
        return document_embeddings(self, data, rows)


class CombinedTM(ProdLDA):
    """ProdLDA whose encoder reads the BoW concatenated with the sentence embedding."""

    requires = frozenset({"bow", "embeddings"})

    def inputs(self, data, rows):
        return torch.cat([self.targets(data, rows), document_embeddings(self, data, rows)], dim=1)
