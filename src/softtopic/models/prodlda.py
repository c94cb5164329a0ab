"""ProdLDA's network and its two uses: DSL-ProdLDA (LM supervision, SPEC §3) and BoW ProdLDA.

Both share one inference network and decoder. They differ only in what the encoder reads and what
the decoder must reconstruct:

- DSL-ProdLDA: LM hidden state in, soft label ``softmax(y / tau)`` out, loss
  ``KL(q || prior) + kl_weight * KL(target || prediction)``, prediction tempered by the same tau.
- ProdLDA: BoW counts in and out, loss ``KL(q || prior) - sum(bow * log prediction)``.
- ZeroShotTM (Bianchi et al. 2021b): the document's sentence embedding in, BoW counts out.
- CombinedTM (Bianchi et al. 2021a): BoW counts concatenated with the sentence embedding in, BoW out.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from softtopic.models.base import TopicData, TopicModel
from softtopic.softlabel import soft_label
from softtopic.trainer import TrainingSettings, train_network

EPS = 1e-9


class ProdLDANetwork(nn.Module):
    """Encoder (input -> logistic-normal posterior) and product-of-experts decoder over V."""

    def __init__(self, input_dim: int, vocab_size: int, num_topics: int, hidden: tuple[int, ...] = (200, 200),
                 dropout: float = 0.2, learn_priors: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        width = input_dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.Softplus()]
            width = size
        layers.append(nn.Dropout(dropout))
        self.encoder = nn.Sequential(*layers)
        self.mu = nn.Sequential(nn.Linear(width, num_topics), nn.BatchNorm1d(num_topics, affine=False))
        self.logvar = nn.Sequential(nn.Linear(width, num_topics), nn.BatchNorm1d(num_topics, affine=False))
        self.theta_dropout = nn.Dropout(dropout)
        self.beta = nn.Parameter(torch.empty(num_topics, vocab_size))
        nn.init.xavier_uniform_(self.beta)
        self.beta_norm = nn.BatchNorm1d(vocab_size, affine=False)
        # Laplace approximation of a Dirichlet(1) prior: mean 0, variance 1 - 1/K. The release (as OCTIS's
        # AVITM) trains both (`learn_priors=True`); with learn_priors=False they stay fixed buffers.
        prior_mean = torch.zeros(num_topics)
        prior_var = torch.full((num_topics,), 1.0 - 1.0 / num_topics)
        if learn_priors:
            self.prior_mean, self.prior_var = nn.Parameter(prior_mean), nn.Parameter(prior_var)
        else:
            self.register_buffer("prior_mean", prior_mean)
            self.register_buffer("prior_var", prior_var)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def sample_theta(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return torch.softmax(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar), dim=-1)

    def forward(self, x: torch.Tensor, tau: float = 1.0):
        """(prediction over V, KL(q || prior) per document)."""
        mu, logvar = self.posterior(x)
        theta = self.theta_dropout(self.sample_theta(mu, logvar))
        prediction = torch.softmax(self.beta_norm(theta @ self.beta) / tau, dim=-1)
        var = torch.exp(logvar)
        kl = 0.5 * ((var + (mu - self.prior_mean) ** 2) / self.prior_var - 1.0 + torch.log(self.prior_var) - logvar)
        kl = kl.sum(-1)
        return prediction, kl

    @torch.no_grad()
    def mean_theta(self, x: torch.Tensor, samples: int = 10, batch_size: int = 1024) -> torch.Tensor:
        """theta for evaluation: the mean of `samples` posterior draws, in eval mode."""
        self.eval()
        parts = []
        for start in range(0, len(x), batch_size):
            mu, logvar = self.posterior(x[start : start + batch_size])
            parts.append(torch.stack([self.sample_theta(mu, logvar) for _ in range(samples)]).mean(0))
        return torch.cat(parts)


def kl_reconstruction(target: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """KL(target || prediction) per document, probabilities clamped at 1e-9."""
    target = target.clamp(min=EPS)
    return (target * (target.log() - prediction.clamp(min=EPS).log())).sum(-1)


def cross_entropy_reconstruction(target: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """-sum(target * log prediction) per document (BoW counts, or the CE ablation of DSL)."""
    return -(target * prediction.clamp(min=EPS).log()).sum(-1)


class _NeuralTopicModel(TopicModel):
    """Shared fit/theta/beta for the ProdLDA family; subclasses choose inputs, targets and loss."""

    def __init__(self, num_topics: int, epochs: int = 100, batch_size: int = 64, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.99, 0.99), hidden: tuple[int, ...] = (200, 200),
                 dropout: float = 0.2, theta_samples: int = 10, learn_priors: bool = True, device: str = "auto",
                 progress: bool = False):
        self.num_topics = num_topics
        self.settings = TrainingSettings(epochs=epochs, batch_size=batch_size, lr=lr, betas=tuple(betas),
                                         progress=progress, device=device)
        self.hidden = tuple(hidden)
        self.dropout = dropout
        self.learn_priors = learn_priors
        self.theta_samples = theta_samples
        self.network: ProdLDANetwork | None = None
        self._rows: np.ndarray | None = None
        self._theta: np.ndarray | None = None

    tau: float = 1.0  # the decoder's temperature; DSL sets it to the target's

    @abstractmethod
    def rows(self, data: TopicData) -> np.ndarray:
        """Which documents the model trains on."""

    @abstractmethod
    def inputs(self, data: TopicData, rows: np.ndarray) -> torch.Tensor:
        """What the encoder reads."""

    @abstractmethod
    def targets(self, data: TopicData, rows: np.ndarray) -> torch.Tensor:
        """What the decoder reconstructs."""

    @abstractmethod
    def reconstruction(self, target: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        """Reconstruction loss per document."""

    def fit(self, data: TopicData, seed: int) -> list[float]:
        torch.manual_seed(seed)
        self._rows = self.rows(data)
        x = self.inputs(data, self._rows)
        target = self.targets(data, self._rows)
        self.network = ProdLDANetwork(x.shape[1], len(data.vocabulary), self.num_topics, self.hidden, self.dropout,
                                      self.learn_priors)

        def loss(batch_x: torch.Tensor, batch_target: torch.Tensor) -> torch.Tensor:
            prediction, kl = self.network(batch_x, self.tau)
            return (kl + self.reconstruction(batch_target, prediction)).sum()

        history = train_network(self.network, x, target, loss, self.settings, seed, desc=type(self).__name__)
        torch.manual_seed(seed + 1)
        device = next(self.network.parameters()).device
        self._theta = self.network.mean_theta(x.to(device), self.theta_samples).cpu().numpy()
        return history

    def theta(self) -> np.ndarray:
        return self._theta

    def beta(self) -> np.ndarray:
        return torch.softmax(self.network.beta.detach(), dim=-1).cpu().numpy()

    def documents(self) -> np.ndarray:
        return self._rows


class DSLProdLDA(_NeuralTopicModel):
    """ProdLDA reading the LM hidden state and reconstructing the LM soft label at temperature tau."""

    requires = frozenset({"lm"})

    def __init__(self, num_topics: int, tau: float = 3.0, kl_weight: float = 1000.0, loss: str = "kl",
                 target_top_k: int | None = None, **kwargs):
        super().__init__(num_topics, **kwargs)
        if loss not in ("kl", "ce"):
            raise ValueError(f"DSL loss must be 'kl' or 'ce', got '{loss}'")
        self.tau = tau
        self.kl_weight = kl_weight
        self.loss = loss
        self.target_top_k = target_top_k

    def rows(self, data: TopicData) -> np.ndarray:
        if data.hidden is None or data.logits is None:
            raise ValueError("DSL needs the LM stage's hidden states and logits")
        return np.arange(len(data.hidden))  # DSL keeps every document: it needs no BoW

    def inputs(self, data, rows):
        return torch.as_tensor(data.hidden[rows], dtype=torch.float32)

    def targets(self, data, rows):
        return soft_label(data.logits[rows], self.tau, top_k=self.target_top_k)

    def reconstruction(self, target, prediction):
        term = kl_reconstruction if self.loss == "kl" else cross_entropy_reconstruction
        return self.kl_weight * term(target, prediction)


class ProdLDA(_NeuralTopicModel):
    """The BoW baseline: ProdLDA reading and reconstructing bag-of-words counts."""

    requires = frozenset({"bow"})

    def rows(self, data: TopicData) -> np.ndarray:
        return data.nonempty_documents()

    def inputs(self, data, rows):
        return torch.as_tensor(data.bow[rows].toarray(), dtype=torch.float32)

    targets = inputs

    def reconstruction(self, target, prediction):
        return cross_entropy_reconstruction(target, prediction)


def document_embeddings(data: TopicData, rows: np.ndarray) -> torch.Tensor:
    """The sentence-encoder embeddings of `rows` (the contextual models' input)."""
    if data.embeddings is None:
        raise ValueError("this model needs the sentence-encoder document embeddings (results/<corpus>/embeddings/)")
    return torch.as_tensor(data.embeddings[rows], dtype=torch.float32)


class ZeroShotTM(ProdLDA):
    """ProdLDA whose encoder reads only the document's sentence embedding; the decoder reconstructs BoW."""

    requires = frozenset({"bow", "embeddings"})

    def inputs(self, data, rows):
        return document_embeddings(data, rows)


class CombinedTM(ProdLDA):
    """ProdLDA whose encoder reads the BoW concatenated with the sentence embedding."""

    requires = frozenset({"bow", "embeddings"})

    def inputs(self, data, rows):
        return torch.cat([ProdLDA.targets(self, data, rows), document_embeddings(data, rows)], dim=1)
