"""What every neural topic model here shares: the Gaussian encoder, the KL to a logistic-normal prior,
theta inference, the one `fit` over `trainer.train_network`, and the two kinds of supervision.

A model is a supervision (`BowSupervision` or `LMSupervision`: which documents, what the network reads,
what it must reconstruct, with which loss) combined with a backbone (`NeuralTopicModel.build_network`).
A backbone network takes a batch of inputs and the decoder temperature and returns
``(prediction over V, penalty per document)``; it also gives ``infer_theta(inputs, seed)`` (theta of
each document independently of the others in the batch, deterministic for a seed) and ``topic_word()``
(K x |V|, rows summing to 1); a network that needs statistics of the training inputs to infer theta
keeps them in buffers set by ``fit_inference(inputs)``. The training loss is the batch sum of
``penalty + reconstruction(target, prediction)``.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from functools import partial

import numpy as np
import torch
from torch import nn

from softtopic.models.base import TopicData, TopicModel
from softtopic.rows import take
from softtopic.softlabel import soft_label
from softtopic.trainer import BatchRows, TrainingSettings, chunks, train_network

EPS = 1e-9
# Rows per block when a whole-corpus pass (input statistics, theta inference) reads the data in blocks: a
# multiple of GaussianEncoder.infer_theta's batch, so blocks draw the same noise as one whole-corpus call.
BLOCK_ROWS = 16384

# What a DSL encoder may read (`encoder_input`) -> the TopicData fields, concatenated in this order.
ENCODER_INPUTS = {"hidden": ("hidden",), "embeddings": ("embeddings",), "hidden+embeddings": ("hidden", "embeddings")}

ACTIVATIONS = {"softplus": nn.Softplus, "relu": nn.ReLU, "tanh": nn.Tanh}


class GaussianEncoder(nn.Module):
    """Input -> hidden layers -> dropout -> (mu, log-variance) of a Gaussian over K topic logits.

    ``batch_norm``: 'plain' normalises mu and log-variance without affine parameters (ProdLDA),
    'shift' adds a learned shift with the scale fixed at 1 (ECRTM as TopMost builds it), 'affine' a learned
    shift and scale, 'none' (ETM).
    """

    def __init__(self, input_dim: int, num_topics: int, hidden: tuple[int, ...] = (200, 200), dropout: float = 0.2,
                 activation: str = "softplus", batch_norm: str = "plain"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"encoder activation must be one of {sorted(ACTIVATIONS)}, got '{activation}'")
        layers: list[nn.Module] = []
        width = input_dim
        for size in hidden:
            layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
            width = size
        layers.append(nn.Dropout(dropout))
        self.hidden = nn.Sequential(*layers)
        self.mu = nn.Sequential(nn.Linear(width, num_topics), norm_layer(num_topics, batch_norm))
        self.logvar = nn.Sequential(nn.Linear(width, num_topics), norm_layer(num_topics, batch_norm))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden(x)
        return self.mu(h), self.logvar(h)

    @staticmethod
    def sample(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """theta = softmax of one reparameterised draw."""
        return torch.softmax(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar), dim=-1)

    @torch.no_grad()
    def infer_theta(self, x: torch.Tensor, samples: int, seed: int = 0, batch_size: int = 1024) -> torch.Tensor:
        """theta for evaluation and inference, in eval mode: softmax(mu) if `samples` is 0, else the mean of
        `samples` posterior draws with common random numbers: the same `samples` standard-normal vectors,
        drawn once from a generator seeded by `seed`, for every document. So a document's theta depends on
        the document and the seed only (not on the batch, the call or the global RNG)."""
        self.eval()
        noise = None
        if samples > 0:
            noise = torch.randn((samples, self.mu[0].out_features), generator=torch.Generator().manual_seed(seed))
        parts = []
        for start in range(0, len(x), batch_size):
            mu, logvar = self(x[start : start + batch_size])
            if noise is None:
                parts.append(torch.softmax(mu, dim=-1))
            else:
                eps = noise.to(device=mu.device, dtype=mu.dtype)[:, None, :]
                parts.append(torch.softmax(mu + eps * torch.exp(0.5 * logvar), dim=-1).mean(0))
        return torch.cat(parts)


def block_scales(std: torch.Tensor, blocks: tuple[tuple[int, str], ...]) -> torch.Tensor:
    """Per-feature divisors that give each block of consecutive input features the same weight: a block
    (width, 'features') is z-scored feature by feature, then divided by sqrt(width); a block (width,
    'whole') keeps its geometry, divided by the square root of its total variance. Either way the block's
    mean squared norm is 1, whatever its width or units."""
    parts, start = [], 0
    for width, kind in blocks:
        block = std[start : start + width]
        if kind == "features":
            parts.append(block * width**0.5)
        elif kind == "whole":
            parts.append(block.pow(2).sum().sqrt().clamp(min=block.new_tensor(1e-6)).expand(width))
        else:
            raise ValueError(f"input block kind must be 'features' or 'whole', got '{kind}'")
        start += width
    if start != len(std):
        raise ValueError(f"input blocks cover {start} features, the input has {len(std)}")
    return torch.cat(parts)


def hidden_embedding_blocks(hidden_width: int, embedding_width: int) -> tuple[tuple[int, str], ...]:
    """The blocks of a hidden state beside a sentence embedding (`block_scales`): the hidden state feature by
    feature (an LM's hidden states have a few dominant features), the embedding as a whole (its geometry is
    what its users cluster). DSL's `encoder_input: hidden+embeddings` and the kmeans-combined row share it."""
    return ((hidden_width, "features"), (embedding_width, "whole"))


class InputStandardizer(nn.Module):
    """z-scores each input feature with the training inputs' mean and standard deviation, kept as buffers
    so that the same shift and scale apply at inference and travel with the network. Starts as the
    identity; `NeuralTopicModel.fit` calls `fit_to` with the training inputs. With `blocks` (an input made
    of several representations side by side), each block is centred and scaled to the same weight
    (`block_scales`)."""

    def __init__(self, input_dim: int, eps: float = 1e-6, blocks: tuple[tuple[int, str], ...] | None = None):
        super().__init__()
        self.eps = eps
        self.blocks = blocks
        self.register_buffer("mean", torch.zeros(input_dim))
        self.register_buffer("std", torch.ones(input_dim))

    @torch.no_grad()
    def fit_to(self, x: torch.Tensor | BatchRows) -> None:
        """Mean and sd of `x`'s rows: at once when they fit in one block, else in two passes over blocks
        (float64 sums)."""
        if len(x) <= BLOCK_ROWS:
            x = x[np.arange(len(x))] if isinstance(x, BatchRows) else x
            mean, std = x.mean(0), x.std(0, unbiased=False).clamp(min=self.eps)
        else:
            mean = sum(block.double().sum(0) for block in chunks(x, BLOCK_ROWS)) / len(x)
            variance = sum(((block.double() - mean) ** 2).sum(0) for block in chunks(x, BLOCK_ROWS)) / len(x)
            std = variance.sqrt().clamp(min=self.eps)
        self.mean.copy_(mean)
        self.std.copy_(std if self.blocks is None else block_scales(std.double(), self.blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def norm_layer(size: int, batch_norm: str) -> nn.Module:
    if batch_norm == "none":
        return nn.Identity()
    if batch_norm == "plain":
        return nn.BatchNorm1d(size, affine=False)
    if batch_norm == "shift":
        return shift_batch_norm(size)
    if batch_norm == "affine":
        return nn.BatchNorm1d(size)
    raise ValueError(f"batch_norm must be 'none', 'plain', 'shift' or 'affine', got '{batch_norm}'")


def shift_batch_norm(size: int) -> nn.BatchNorm1d:
    """Batch normalisation with a learned shift and the scale fixed at 1."""
    norm = nn.BatchNorm1d(size)
    norm.weight.requires_grad_(False)
    return norm


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor, prior_var: torch.Tensor | float,
                prior_mean: torch.Tensor | float = 0.0) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(prior_mean, prior_var)) per document, summed over topics."""
    prior_var = torch.as_tensor(prior_var, dtype=mu.dtype)
    return 0.5 * ((torch.exp(logvar) + (mu - prior_mean) ** 2) / prior_var - 1.0 + torch.log(prior_var) - logvar).sum(-1)


def kl_reconstruction(target: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """KL(target || prediction) per document, probabilities clamped at 1e-9."""
    target = target.clamp(min=EPS)
    return (target * (target.log() - prediction.clamp(min=EPS).log())).sum(-1)


def cross_entropy_reconstruction(target: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """-sum(target * log prediction) per document (BoW counts, or the CE ablation of DSL)."""
    return -(target * prediction.clamp(min=EPS).log()).sum(-1)


class NeuralTopicModel(TopicModel):
    """fit/theta/beta for every torch model; a supervision gives the data hooks, a backbone the network."""

    decoder_tau: float = 1.0  # the decoder's temperature; DSL-ProdLDA sets it to the target's

    def __init__(self, num_topics: int, epochs: int = 100, batch_size: int | None = 64, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.99, 0.99), weight_decay: float = 0.0, theta_samples: int = 10,
                 device: str = "auto", progress: bool = False, steps: int | None = None):
        self.num_topics = num_topics
        # batch_size None trains on the whole corpus at once (full batch)
        self.settings = TrainingSettings(epochs=epochs, batch_size=batch_size or 0, lr=lr, betas=tuple(betas),
                                         weight_decay=weight_decay, progress=progress, device=device, steps=steps)
        self.theta_samples = theta_samples
        self.network: nn.Module | None = None
        self.seed = 0
        self.input_dim = 0
        self._rows: np.ndarray | None = None
        self._theta: np.ndarray | None = None

    @abstractmethod
    def rows(self, data: TopicData) -> np.ndarray:
        """Which documents the model trains on."""

    @abstractmethod
    def inputs(self, data: TopicData, rows: np.ndarray) -> torch.Tensor:
        """What the network reads."""

    @abstractmethod
    def targets(self, data: TopicData, rows: np.ndarray) -> torch.Tensor:
        """What the decoder reconstructs."""

    @abstractmethod
    def reconstruction(self, target: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        """Reconstruction loss per document."""

    @abstractmethod
    def build_network(self, data: TopicData, input_dim: int) -> nn.Module:
        """The backbone, built after the seed is set."""

    def fit(self, data: TopicData, seed: int) -> list[float]:
        torch.manual_seed(seed)
        self._rows = self.rows(data)
        # inputs and targets are built per batch from the (memory-mapped or sparse) data, never whole
        x = BatchRows(partial(self.inputs, data), self._rows)
        target = BatchRows(partial(self.targets, data), self._rows)
        self.input_dim = x[np.arange(1)].shape[1]
        self.network = self.build_network(data, self.input_dim)
        for module in self.network.modules():  # input scaling from the training inputs, kept for inference
            if isinstance(module, InputStandardizer):
                module.fit_to(x)
        self.warm_start(x, target, seed)
        settings = self.settings
        if settings.batch_size <= 0:  # full batch: the whole corpus is one batch anyway, built once
            settings = dataclasses.replace(settings, batch_size=len(x))
            x, target = (rows[np.arange(len(rows))] for rows in (x, target))

        def loss(batch_x: torch.Tensor, batch_target: torch.Tensor) -> torch.Tensor:
            prediction, penalty = self.network(batch_x, self.decoder_tau)
            return (penalty + self.reconstruction(batch_target, prediction)).sum()

        history = train_network(self.network, x, target, loss, settings, seed, desc=type(self).__name__)
        self.seed = seed
        self._theta = self.infer(x, fit=True)
        return history

    def warm_start(self, x: torch.Tensor | BatchRows, target: torch.Tensor | BatchRows, seed: int) -> None:
        """Set the freshly built network's starting point from the training data (DSL-ProdLDA's `init:
        kmeans`); by default it starts where `build_network` left it."""

    def infer(self, x: torch.Tensor, fit: bool = False) -> np.ndarray:
        """theta of encoder inputs `x` by the one procedure that both the end of training and inference on
        new documents use (softtopic.trained): eval mode, common random numbers seeded by the run's seed.
        `fit` first lets the network keep what it needs from the training inputs (`fit_inference`)."""
        device = next(self.network.parameters()).device  # where train_network put it (`device`)
        x = x.to(device)
        if fit and hasattr(self.network, "fit_inference"):  # FASTopic: what theta needs from all documents
            self.network.fit_inference(x[np.arange(len(x))] if isinstance(x, BatchRows) else x)
        # each document's theta is its own (common random numbers), so blocks give one pass's result
        return np.concatenate([self.network.infer_theta(block, seed=self.seed).cpu().numpy()
                               for block in chunks(x, BLOCK_ROWS)])

    # ---- saving and inference (softtopic.trained)
    def transform_reads(self) -> frozenset[str]:
        """The `TopicData` fields that theta of new documents needs: the encoder's input (and the BoW that
        picks the documents a BoW-supervised model can read)."""
        if "lm" in self.requires:
            return frozenset(self.encoder_fields)
        return type(self).reads(vars(self)) - {"word_vectors"}

    def transform(self, data: TopicData) -> np.ndarray:
        """theta (documents x K) of every document of `data`; NaN rows for those a BoW-supervised model
        cannot read (an empty BoW: it trains on non-empty ones)."""
        theta = np.full((data.bow.shape[0], self.num_topics), np.nan, dtype=np.float32)
        rows = data.nonempty_documents() if "bow" in self.requires else np.arange(data.bow.shape[0])
        if len(rows):
            theta[rows] = self.infer(self.inputs(data, rows))
        return theta

    def export(self) -> tuple[dict[str, torch.Tensor], dict]:
        """The network's weights and buffers, and what rebuilding it needs (`restore`)."""
        tensors = {name: value.detach().cpu().contiguous() for name, value in self.network.state_dict().items()}
        return tensors, {"input_dim": int(self.input_dim), "seed": int(self.seed)}

    def restore(self, tensors: dict[str, torch.Tensor], extra: dict, vocabulary: list[str]) -> None:
        """Rebuild the network from `export`'s output (on the CPU, eval mode)."""
        import scipy.sparse as sp

        word_vectors = None
        if "word_embeddings" in tensors:
            word_vectors = np.zeros(tuple(tensors["word_embeddings"].shape), dtype=np.float32)
        stub = TopicData(bow=sp.csr_matrix((0, len(vocabulary)), dtype=np.float32), vocabulary=vocabulary,
                         word_vectors=word_vectors)
        self.network = self.build_network(stub, extra["input_dim"])
        self.network.load_state_dict(tensors, strict=True)
        self.network.eval()
        self.seed = extra["seed"]
        self.input_dim = extra["input_dim"]

    def theta(self) -> np.ndarray:
        return self._theta

    def beta(self) -> np.ndarray:
        with torch.no_grad():
            return self.network.topic_word().cpu().numpy()

    def documents(self) -> np.ndarray:
        return self._rows


class BowSupervision:
    """Documents with a non-empty BoW; the network reads the counts (or their proportions) and
    reconstructs the counts by cross-entropy."""

    requires = frozenset({"bow"})
    normalise_input = False  # ETM reads word proportions

    def rows(self, data: TopicData) -> np.ndarray:
        return data.nonempty_documents()

    def inputs(self, data: TopicData, rows: np.ndarray) -> torch.Tensor:
        counts = self.targets(data, rows)
        return counts / counts.sum(1, keepdim=True) if self.normalise_input else counts

    def targets(self, data: TopicData, rows: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(data.bow[rows].toarray(), dtype=torch.float32)

    def reconstruction(self, target: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        return cross_entropy_reconstruction(target, prediction)


class LMSupervision:
    """The DSL target (SPEC §3): every document; the network reads the LM hidden state and reconstructs
    the soft label ``softmax(y / tau)`` (optionally cut to its top-k words or top-p mass) with weight
    `kl_weight`.

    The paper's ablations as settings: `encoder_input` 'embeddings' reads the sentence encoder's document
    embedding instead of the hidden state ('hidden+embeddings', beyond the paper: both side by side, each
    block given the same weight, `input_blocks`); `target` 'bow' reconstructs ``softmax(counts / tau)`` instead
    of the LM soft label (the release's BoW-target ablation, run there with loss 'ce'; every document is
    kept, an empty one gets the uniform target)."""

    requires = frozenset({"lm"})

    def __init__(self, num_topics: int, tau: float = 3.0, kl_weight: float = 1000.0, loss: str = "kl",
                 target_top_k: int | None = None, target_top_p: float | None = None, target: str = "lm",
                 encoder_input: str = "hidden", **kwargs):
        super().__init__(num_topics, **kwargs)
        for name, value, allowed in (("loss", loss, ("kl", "ce")), ("target", target, ("lm", "bow")),
                                     ("encoder_input", encoder_input, ENCODER_INPUTS)):
            if value not in allowed:
                raise ValueError(f"DSL {name} must be one of {list(allowed)}, got '{value}'")
        self.tau = tau
        self.kl_weight = kl_weight
        self.loss = loss
        self.target_top_k = target_top_k
        self.target_top_p = target_top_p
        self.target = target
        self.encoder_input = encoder_input

    @classmethod
    def reads(cls, settings: dict) -> frozenset[str]:
        target = "bow" if settings.get("target", "lm") == "bow" else "logits"
        encoder = ENCODER_INPUTS[settings.get("encoder_input", "hidden")]
        return frozenset((cls.requires - {"lm"}) | {"bow", target, *encoder})

    @property
    def encoder_fields(self) -> tuple[str, ...]:
        """The `TopicData` fields the encoder reads, in the order they are concatenated."""
        return ENCODER_INPUTS[self.encoder_input]

    def input_blocks(self, data: TopicData) -> tuple[tuple[int, str], ...] | None:
        """For an input of several representations (`hidden+embeddings`): (width, how it is scaled) of
        each, for `InputStandardizer` (`hidden_embedding_blocks`). None for one representation, or when
        `data` holds none of them (a network rebuilt to load weights)."""
        if len(self.encoder_fields) == 1 or data.hidden is None:
            return None
        return hidden_embedding_blocks(data.hidden.shape[1], data.embeddings.shape[1])

    def rows(self, data: TopicData) -> np.ndarray:
        supervision = type(self).reads(vars(self)) & {"logits", "hidden", "embeddings"}  # the backbone checks the rest
        missing = sorted(field for field in supervision if getattr(data, field) is None)
        if missing:
            stage = {"logits": "the LM stage's logits", "hidden": "the LM stage's hidden states",
                     "embeddings": "the sentence-encoder document embeddings"}
            raise ValueError(f"{type(self).__name__} needs " + " and ".join(stage.get(f, f) for f in missing)
                             + f" (TopicData.{', TopicData.'.join(missing)})")
        return np.arange(data.bow.shape[0])  # DSL keeps every document: it needs no BoW

    def inputs(self, data: TopicData, rows: np.ndarray) -> torch.Tensor:
        parts = [torch.as_tensor(take(getattr(data, field), rows), dtype=torch.float32) for field in self.encoder_fields]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def targets(self, data: TopicData, rows: np.ndarray) -> torch.Tensor:
        scores = data.bow[rows].toarray() if self.target == "bow" else take(data.logits, rows)
        return soft_label(scores, self.tau, top_k=self.target_top_k, top_p=self.target_top_p)

    def reconstruction(self, target: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        term = kl_reconstruction if self.loss == "kl" else cross_entropy_reconstruction
        return self.kl_weight * term(target, prediction)


def required_array(data: TopicData, field: str, model: str, what: str) -> np.ndarray:
    """`data.<field>` as float32, or a clear error naming the model and what it needs."""
    value = getattr(data, field)
    if value is None:
        raise ValueError(f"{model} needs TopicData.{field} ({what})")
    return np.asarray(value, dtype=np.float32)
