"""Soft labels from stored LM logits: ``softmax(y / tau)`` over the vocabulary only (SPEC §1)."""

from __future__ import annotations

import numpy as np
import torch


def soft_label(
    logits: np.ndarray | torch.Tensor,
    tau: float,
    top_k: int | None = None,
    top_ratio: float | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """Row-wise ``softmax(logits / tau)``, optionally keeping only the top-k words, a share of the
    vocabulary (`top_ratio`, the release's sparsity ratio) or the top-p mass (`top_p`: the smallest set
    of most probable words whose probability at this tau reaches p).

    The stored logits are tau-free; any tau is a cheap transform of them. Sparsified targets are
    renormalised over the words kept. Ties at the cut are all kept.
    """
    if tau <= 0:
        raise ValueError(f"temperature tau must be > 0, got {tau}")
    y = torch.as_tensor(logits, dtype=torch.float32)
    if top_ratio is not None:
        top_k = max(1, int(round(top_ratio * y.shape[-1])))
    if top_k is not None and top_k < y.shape[-1]:
        threshold = torch.topk(y, top_k, dim=-1).values[..., -1:]
        y = y.masked_fill(y < threshold, float("-inf"))
    target = torch.softmax(y / tau, dim=-1)
    if top_p is not None:
        target = _nucleus(target, top_p)
    return target


def _nucleus(probabilities: torch.Tensor, p: float) -> torch.Tensor:
    """Each row cut to its smallest set of most probable words with mass >= p, renormalised."""
    if not 0 < p <= 1:
        raise ValueError(f"top-p share must be in (0, 1], got {p}")
    ordered = torch.sort(probabilities, dim=-1, descending=True).values
    mass_before = torch.cumsum(ordered, dim=-1) - ordered  # mass of the words ranked above each word
    # the smallest probability still needed: the last word whose predecessors hold less than p
    needed = (mass_before < p).sum(dim=-1, keepdim=True).clamp(min=1)
    threshold = ordered.gather(-1, needed - 1)
    kept = probabilities.masked_fill(probabilities < threshold, 0.0)
    return kept / kept.sum(dim=-1, keepdim=True)
