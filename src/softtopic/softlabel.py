"""Soft labels from stored LM logits: ``softmax(y / tau)`` over the vocabulary only (SPEC §1)."""

from __future__ import annotations

import numpy as np
import torch


def soft_label(
    logits: np.ndarray | torch.Tensor,
    tau: float,
    top_k: int | None = None,
    top_ratio: float | None = None,
) -> torch.Tensor:
    """Row-wise ``softmax(logits / tau)``, optionally keeping only the top-k (or top share) words.

    The stored logits are tau-free; any tau is a cheap transform of them. Sparsified targets are
    renormalised over the words kept.
    """
    if tau <= 0:
        raise ValueError(f"temperature tau must be > 0, got {tau}")
    y = torch.as_tensor(logits, dtype=torch.float32)
    if top_ratio is not None:
        top_k = max(1, int(round(top_ratio * y.shape[-1])))
    if top_k is not None and top_k < y.shape[-1]:
        threshold = torch.topk(y, top_k, dim=-1).values[..., -1:]
        y = y.masked_fill(y < threshold, float("-inf"))
    return torch.softmax(y / tau, dim=-1)
