"""One training loop for every neural topic model: Adam, shuffled mini-batches, fixed epochs, on CUDA
when present (`device: auto`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

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


def train_network(
    network: torch.nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    settings: TrainingSettings,
    seed: int,
    desc: str = "train",
) -> list[float]:
    """Minimise `loss_fn(batch_inputs, batch_targets)` (a batch sum); returns the mean loss per document
    for each epoch. No early stopping. A trailing batch of one document is folded into the one before,
    since batch normalisation needs two. The network and the data are moved to `settings.device` (and
    stay there)."""
    device = pick_device(settings.device)
    network.to(device)
    inputs, targets = inputs.to(device), targets.to(device)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(network.parameters(), lr=settings.lr, betas=settings.betas,
                                 weight_decay=settings.weight_decay)
    n = len(inputs)
    history = []
    epochs = tqdm(range(settings.epochs), desc=desc, disable=not settings.progress, file=sys.stderr,
                  mininterval=5.0)
    for _ in epochs:
        network.train()
        order = torch.randperm(n, generator=generator)
        bounds = list(range(0, n, settings.batch_size)) + [n]
        if len(bounds) > 2 and bounds[-1] - bounds[-2] < 2:
            bounds.pop(-2)
        total = 0.0
        for start, stop in zip(bounds[:-1], bounds[1:]):
            index = order[start:stop].to(device)
            loss = loss_fn(inputs[index], targets[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item()
        history.append(total / n)
        epochs.set_postfix(loss=f"{history[-1]:.4g}")
    return history
