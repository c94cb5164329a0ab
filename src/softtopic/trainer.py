"""One training loop for every neural topic model: Adam, shuffled mini-batches, fixed epochs, on CUDA
when present (`device: auto`).

The data may be tensors or `BatchRows`: rows built only when a batch asks for them (from memory-mapped
LM outputs or a sparse BoW), so that no whole-corpus dense matrix is ever made. A row is the same either
way, so the same seed gives the same batches and the same model.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from softtopic.lm import pick_device


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int = 100
    batch_size: int = 64
    lr: float = 2e-3
    betas: tuple[float, float] = (0.99, 0.99)
    weight_decay: float = 0.0
    progress: bool = False
    device: str = "auto"
    steps: int | None = None  # stop after this many optimizer steps (throughput benchmarks); None: all epochs


class BatchRows:
    """The rows `rows` of a data set, each batch built on demand by `build(row_numbers) -> tensor`.

    Behaves like a tensor where `train_network` and inference use one: `len`, indexing by positions
    (a tensor or array of them), `.to(device)`; `chunks(size)` yields consecutive blocks.
    """

    def __init__(self, build: Callable[[np.ndarray], torch.Tensor], rows: np.ndarray, device: str | None = None):
        self.build = build
        self.rows = np.asarray(rows)
        self.device = device

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, positions) -> torch.Tensor:
        if isinstance(positions, torch.Tensor):
            positions = positions.cpu().numpy()
        batch = self.build(self.rows[positions])
        return batch if self.device is None else batch.to(self.device)

    def to(self, device) -> "BatchRows":
        return BatchRows(self.build, self.rows, str(device))

    def chunks(self, size: int) -> Iterator[torch.Tensor]:
        for start in range(0, len(self), size):
            yield self[np.arange(start, min(start + size, len(self)))]


def chunks(data: torch.Tensor | BatchRows, size: int) -> Iterator[torch.Tensor]:
    """Consecutive blocks of `size` rows (of a tensor or of `BatchRows`)."""
    if isinstance(data, BatchRows):
        yield from data.chunks(size)
    else:
        for start in range(0, len(data), size):
            yield data[start : start + size]


def train_network(
    network: torch.nn.Module,
    inputs: torch.Tensor | BatchRows,
    targets: torch.Tensor | BatchRows,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    settings: TrainingSettings,
    seed: int,
    desc: str = "train",
) -> list[float]:
    """Minimise `loss_fn(batch_inputs, batch_targets)` (a batch sum); returns the mean loss per document
    for each epoch. No early stopping. A trailing batch of one document is folded into the one before,
    since batch normalisation needs two. The network and the data are moved to `settings.device` (and
    stay there; `BatchRows` move each batch as it is built). With `settings.steps`, training stops after
    that many optimizer steps (the last epoch's loss is then the mean over the documents it saw)."""
    device = pick_device(settings.device)
    network.to(device)
    inputs, targets = inputs.to(device), targets.to(device)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(network.parameters(), lr=settings.lr, betas=settings.betas,
                                 weight_decay=settings.weight_decay)
    n = len(inputs)
    history = []
    steps = 0
    epochs = tqdm(range(settings.epochs), desc=desc, disable=not settings.progress, file=sys.stderr,
                  mininterval=5.0)
    for _ in epochs:
        network.train()
        order = torch.randperm(n, generator=generator)
        bounds = list(range(0, n, settings.batch_size)) + [n]
        if len(bounds) > 2 and bounds[-1] - bounds[-2] < 2:
            bounds.pop(-2)
        total, seen = 0.0, 0
        for start, stop in zip(bounds[:-1], bounds[1:]):
            index = order[start:stop].to(device)
            loss = loss_fn(inputs[index], targets[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item()
            seen += stop - start
            steps += 1
            if settings.steps is not None and steps >= settings.steps:
                break
        history.append(total / seen)
        epochs.set_postfix(loss=f"{history[-1]:.4g}")
        if settings.steps is not None and steps >= settings.steps:
            break
    return history
