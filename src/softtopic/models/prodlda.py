"""ProdLDA's network and its two uses: DSL-ProdLDA (LM supervision, SPEC §3) and BoW ProdLDA.

Both share one inference network and decoder. They differ only in what the encoder reads and what
the decoder must reconstruct (`softtopic.models.neural`'s two supervisions):

- DSL-ProdLDA: LM hidden state in, soft label ``softmax(y / tau)`` out, loss
  ``KL(q || prior) + kl_weight * KL(target || prediction)``, prediction tempered by the same tau.
- ProdLDA: BoW counts in and out, loss ``KL(q || prior) - sum(bow * log prediction)``.
- Beyond the paper, DSL-ProdLDA may start from K-means (`init: kmeans`) and keep its topics near the
  clusters (`anchor_weight`, `KMeansStart`); docs/fair-ground.md says why.
- ZeroShotTM (Bianchi et al. 2021b): the document's sentence embedding in, BoW counts out.
- CombinedTM (Bianchi et al. 2021a): BoW counts concatenated with the sentence embedding in, BoW out.

The logistic-normal prior starts at mean 0, variance 1 - 1/K; as in the release (and OCTIS's AVITM and
contextualized-topic-models), both are trained unless `learn_priors=False`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from softtopic.models.base import TopicData
from softtopic.rows import take
from softtopic.models.neural import (BLOCK_ROWS, BowSupervision, GaussianEncoder, InputStandardizer, LMSupervision,
                                     NeuralTopicModel, gaussian_kl, norm_layer, required_array)
from softtopic.trainer import TrainingSettings, chunks, train_network


class ProdLDANetwork(nn.Module):
    """Encoder (input -> logistic-normal posterior) and product-of-experts decoder over V."""

    def __init__(self, input_dim: int, vocab_size: int, num_topics: int, hidden: tuple[int, ...] = (200, 200),
                 dropout: float = 0.2, theta_samples: int = 10, learn_priors: bool = True,
                 standardize_input: bool = False, decoder_batch_norm: str = "plain",
                 input_blocks: tuple[tuple[int, str], ...] | None = None, anchor_weight: float | None = None):
        super().__init__()
        # beyond the paper: z-scored inputs (the training set's mean and sd; per block for an input of several
        # representations); the decoder's BatchNorm with a learned scale and shift ('affine') or none
        scaled = standardize_input or input_blocks is not None
        self.input_norm = InputStandardizer(input_dim, blocks=input_blocks) if scaled else nn.Identity()
        # K-means start (`KMeansStart`): the centroids in the scaled input space, and the weight of the
        # cross-entropy that keeps each document's topic logits on its nearest centroid's topic
        self.anchor_weight = anchor_weight
        if anchor_weight is not None:
            self.register_buffer("centroids", torch.zeros(num_topics, input_dim))
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
        z = self.input_norm(x)
        mu, logvar = self.encoder(z)
        theta = self.theta_dropout(self.encoder.sample(mu, logvar))
        prediction = torch.softmax(self.beta_norm(theta @ self.beta) / tau, dim=-1)
        penalty = gaussian_kl(mu, logvar, self.prior_var, self.prior_mean)
        if self.anchor_weight:
            penalty = penalty + self.anchor_weight * nn.functional.cross_entropy(mu, self.nearest(z), reduction="none")
        return prediction, penalty

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Index of each scaled input's nearest centroid."""
        return torch.cdist(z, self.centroids).argmin(dim=1)

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

    def network_extras(self, data: TopicData) -> dict:
        """Further ProdLDANetwork arguments (DSL-ProdLDA's input blocks and K-means start)."""
        return {}

    def build_network(self, data: TopicData, input_dim: int) -> ProdLDANetwork:
        settings = {"standardize_input": self.standardize_input, "decoder_batch_norm": self.decoder_batch_norm,
                    **self.network_extras(data)}
        return ProdLDANetwork(input_dim, len(data.vocabulary), self.num_topics, self.hidden, self.dropout,
                              self.theta_samples, self.learn_priors, **settings)


class DSLProdLDA(LMSupervision, _ProdLDABackbone):
    """ProdLDA reading the LM hidden state and reconstructing the LM soft label at temperature tau.

    `init`: 'random' (the paper's) or 'kmeans', a start from K-means on the encoder's scaled inputs
    (`KMeansStart`); `anchor_weight` > 0 (with 'kmeans') keeps each document's topic near its cluster."""

    def __init__(self, num_topics: int, init: str = "random", anchor_weight: float = 0.0, **kwargs):
        super().__init__(num_topics, **kwargs)
        if init not in ("random", "kmeans"):
            raise ValueError(f"DSL init must be 'random' or 'kmeans', got '{init}'")
        if anchor_weight < 0 or (anchor_weight > 0 and init != "kmeans"):
            raise ValueError(f"DSL anchor_weight {anchor_weight} needs init 'kmeans' and must be >= 0: the anchor is "
                             "the K-means clustering the network starts from")
        self.init = init
        self.anchor_weight = anchor_weight

    @property
    def decoder_tau(self) -> float:
        return self.tau

    def network_extras(self, data: TopicData) -> dict:
        # an input of two blocks is always scaled (when rebuilt to load weights, the buffers come with them)
        return {"standardize_input": self.standardize_input or len(self.encoder_fields) > 1,
                "input_blocks": self.input_blocks(data),
                "anchor_weight": self.anchor_weight if self.init == "kmeans" else None}

    def warm_start(self, x, target, seed: int) -> None:
        if self.init == "kmeans":
            KMeansStart(self.network, self.num_topics).apply(x, target, seed, self.settings)


class ProdLDA(BowSupervision, _ProdLDABackbone):
    """The BoW baseline: ProdLDA reading and reconstructing bag-of-words counts."""


class KMeansStart:
    """DSL-ProdLDA's start from K-means (`init: kmeans`), before the usual training:

    1. K-means with K clusters (10 restarts, random_state = seed) on the encoder's scaled inputs, fitted on
       at most `SAMPLE` documents (a seeded sample) and assigned to every document; the centroids stay in
       the network (its anchor).
    2. beta: topic k starts at the log of its cluster's mean soft label, centred over the topics.
    3. The encoder is trained `EPOCHS` epochs to give each document its cluster's topic (cross-entropy
       of its mean topic logits), with the run's optimiser settings.
    """

    SAMPLE = BLOCK_ROWS
    EPOCHS = 20

    def __init__(self, network: ProdLDANetwork, num_topics: int):
        self.network = network
        self.num_topics = num_topics

    @torch.no_grad()
    def scaled_inputs(self, x, rows: np.ndarray) -> torch.Tensor:
        return torch.cat([self.network.input_norm(block) for block in chunks(x, BLOCK_ROWS)]) if len(rows) == len(x) \
            else self.network.input_norm(x[rows])

    def apply(self, x, target, seed: int, settings: TrainingSettings) -> None:
        from sklearn.cluster import KMeans

        network, k = self.network, self.num_topics
        rows = np.arange(len(x))
        if len(x) > self.SAMPLE:
            rows = np.sort(np.random.default_rng(seed).choice(len(x), self.SAMPLE, replace=False))
        sample = self.scaled_inputs(x, rows).double().numpy()
        centroids = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(sample).cluster_centers_
        network.centroids.copy_(torch.as_tensor(centroids, dtype=network.centroids.dtype))
        sums, sizes = torch.zeros(k, network.beta.shape[1], dtype=torch.float64), torch.zeros(k, dtype=torch.float64)
        with torch.no_grad():
            for block_x, block_target in zip(chunks(x, BLOCK_ROWS), chunks(target, BLOCK_ROWS)):
                clusters = network.nearest(network.input_norm(block_x))
                sums.index_add_(0, clusters, block_target.double())
                sizes += torch.bincount(clusters, minlength=k).double()
            mean = sums / sizes.clamp(min=1)[:, None]
            start = mean.clamp(min=1e-9).log()
            network.beta.copy_((start - start.mean(0)).float())

        def cluster_loss(batch_x: torch.Tensor, _target: torch.Tensor) -> torch.Tensor:
            z = network.input_norm(batch_x)
            mu, _ = network.encoder(z)
            return nn.functional.cross_entropy(mu, network.nearest(z), reduction="sum")

        warm = dataclasses.replace(settings, epochs=self.EPOCHS, steps=None)
        train_network(network, x, target, cluster_loss, warm, seed, desc="K-means start")


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
