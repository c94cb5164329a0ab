"""FASTopic (Wu et al. 2024): dual semantic-relation reconstruction, under BoW or LM (DSL) supervision.

Documents, topics and words are points in one embedding space. Two entropic transport plans link them:
documents (uniform mass) to topics (learned weights) with Sinkhorn strength `dt_alpha`, and topics
(uniform) to words (learned weights) with `tw_alpha`. theta = N * plan(documents, topics),
beta = K * plan(topics, words); the target is reconstructed from theta @ beta by cross-entropy, and both
transport costs are added to the loss. Document embeddings are inputs, never trained; topic and word
embeddings are learned from a random start. Training is full batch.

- FASTopic: sentence-encoder embeddings (`TopicData.embeddings`, L2-normalised) in, BoW counts out;
  evaluation theta from distances to the topic embeddings (softmax over topics of
  -d / theta_temp, each topic's column first normalised over the training documents).
- DSL-FASTopic: the LM hidden state in (unnormalised, as the authors' release feeds it), the soft label
  cut to its top 20 words out; evaluation theta from the document-topic transport plan, as the
  release computes it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from softtopic.models.base import TopicData
from softtopic.models.neural import BowSupervision, LMSupervision, NeuralTopicModel, required_array
from softtopic.models.transport import sinkhorn_plan, squared_distances, uniform

THETA_MODES = ("distance", "transport")


class FASTopicNetwork(nn.Module):
    """Topic and word embeddings with their weights; the plans are solved for each (full) batch."""

    def __init__(self, embedding_dim: int, vocab_size: int, num_topics: int, dt_alpha: float, tw_alpha: float,
                 theta_temp: float, theta_mode: str, sinkhorn_max_iter: int):
        super().__init__()
        self.topic_embeddings = nn.Parameter(F.normalize(nn.init.trunc_normal_(torch.empty(num_topics, embedding_dim))))
        self.topic_weights = nn.Parameter(torch.full((num_topics,), 1.0 / num_topics))
        self.word_embeddings = nn.Parameter(F.normalize(nn.init.trunc_normal_(torch.empty(vocab_size, embedding_dim))))
        self.word_weights = nn.Parameter(torch.full((vocab_size,), 1.0 / vocab_size))
        self.dt_alpha = dt_alpha
        self.tw_alpha = tw_alpha
        self.theta_temp = theta_temp
        self.theta_mode = theta_mode
        self.sinkhorn_max_iter = sinkhorn_max_iter
        self.register_buffer("train_log_mass", torch.zeros(num_topics))  # set by fit_inference
        self.register_buffer("topic_potential", torch.zeros(num_topics))

    def plan(self, x: torch.Tensor, y: torch.Tensor, y_weights: torch.Tensor, alpha: float):
        """(transport plan from x (uniform) to y (softmax of its weights), transport cost)."""
        cost = squared_distances(x, y)
        plan = sinkhorn_plan(cost, uniform(len(x), cost), torch.softmax(y_weights, dim=0), alpha,
                             self.sinkhorn_max_iter)
        return plan, (plan * cost).sum()

    def document_topic(self, x: torch.Tensor):
        plan, cost = self.plan(x, self.topic_embeddings, self.topic_weights, self.dt_alpha)
        return plan * len(x), cost

    def topic_word_plan(self):
        plan, cost = self.plan(self.topic_embeddings, self.word_embeddings, self.word_weights, self.tw_alpha)
        return plan * len(self.topic_embeddings), cost

    def forward(self, x: torch.Tensor, tau: float = 1.0):
        """(theta @ beta over V, both transport costs, given to every document of the batch)."""
        theta, dt_cost = self.document_topic(x)
        beta, tw_cost = self.topic_word_plan()
        return theta @ beta, (dt_cost + tw_cost).expand(len(x))

    @torch.no_grad()
    def fit_inference(self, x: torch.Tensor) -> None:
        """Keep what theta of a document needs from the training inputs `x`, so that it does not depend on
        the other documents it is inferred with: the topics' log mass over the training documents
        ('distance') or the topic-side potential of the training document-topic plan ('transport')."""
        if self.theta_mode == "transport":
            cost = squared_distances(x, self.topic_embeddings)
            self.topic_potential.copy_(sinkhorn_plan(cost, uniform(len(x), cost), torch.softmax(self.topic_weights, dim=0),
                                                     self.dt_alpha, self.sinkhorn_max_iter, potentials=True)[1])
        else:
            self.train_log_mass.copy_(torch.logsumexp(-squared_distances(x, self.topic_embeddings) / self.theta_temp, dim=0))

    @torch.no_grad()
    def infer_theta(self, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """Each document's theta from its distances to the topics and what `fit_inference` kept: the
        softmax over topics of -d / theta_temp less the topic's training log mass ('distance'), or the
        document's row of the transport plan to the training topic potential ('transport': the plan's
        row for a training document, normalised). Deterministic; `seed` is unused. The squared distances
        leave out |x|^2, the same for every topic of a document (the softmax is unchanged, and large
        inputs lose no precision)."""
        topics = self.topic_embeddings
        cost = (topics**2).sum(1) - 2.0 * x @ topics.T
        if self.theta_mode == "transport":
            return torch.softmax(-self.dt_alpha * cost + self.topic_potential, dim=-1)
        return torch.softmax(-cost / self.theta_temp - self.train_log_mass, dim=-1)

    @torch.no_grad()
    def topic_word(self) -> torch.Tensor:
        beta = self.topic_word_plan()[0]
        return beta / beta.sum(1, keepdim=True)


class _FASTopicBackbone(NeuralTopicModel):
    """FASTopic under either supervision: full batch, 200 epochs, Adam lr 0.002."""

    theta_mode = "distance"

    def __init__(self, num_topics: int, dt_alpha: float = 3.0, tw_alpha: float = 2.0, theta_temp: float = 1.0,
                 sinkhorn_max_iter: int = 1000, epochs: int = 200, batch_size: int | None = None, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), **kwargs):
        super().__init__(num_topics, epochs=epochs, batch_size=batch_size, lr=lr, betas=betas, **kwargs)
        self.dt_alpha = dt_alpha
        self.tw_alpha = tw_alpha
        self.theta_temp = theta_temp
        self.sinkhorn_max_iter = sinkhorn_max_iter

    def build_network(self, data: TopicData, input_dim: int) -> FASTopicNetwork:
        return FASTopicNetwork(input_dim, len(data.vocabulary), self.num_topics, self.dt_alpha, self.tw_alpha,
                               self.theta_temp, self.theta_mode, self.sinkhorn_max_iter)


class FASTopic(BowSupervision, _FASTopicBackbone):
    """The baseline: sentence-encoder document embeddings in, BoW counts reconstructed."""

    requires = frozenset({"bow", "embeddings"})

    def inputs(self, data: TopicData, rows):
        embeddings = required_array(data, "embeddings", "FASTopic", "sentence-encoder document embeddings")
        return F.normalize(torch.as_tensor(embeddings[rows]), dim=-1)


class DSLFASTopic(LMSupervision, _FASTopicBackbone):
    """FASTopic reading the LM hidden state and reconstructing the LM soft label cut to its top 20 words."""

    requires = frozenset({"lm"})
    theta_mode = "transport"

    def __init__(self, num_topics: int, target_top_k: int | None = 20, kl_weight: float = 1.0, loss: str = "ce",
                 **kwargs):
        super().__init__(num_topics, target_top_k=target_top_k, kl_weight=kl_weight, loss=loss, **kwargs)
