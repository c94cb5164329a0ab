"""Entropic optimal transport (Sinkhorn), shared by ECRTM's clustering regulariser and FASTopic's
embedding transport plans."""

from __future__ import annotations

import torch


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pairwise squared Euclidean distances between the rows of x (n x d) and y (m x d)."""
    return (x**2).sum(1, keepdim=True) + (y**2).sum(1) - 2.0 * x @ y.T


def uniform(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.full((n,), 1.0 / n, dtype=like.dtype, device=like.device)


def sinkhorn_plan(cost: torch.Tensor, a: torch.Tensor, b: torch.Tensor, alpha: float, max_iter: int = 1000,
                  tol: float = 5e-3, check_every: int = 50, potentials: bool = False):
    """The plan P (n x m) minimising <P, cost> - H(P) / alpha with row sums a and column sums b.

    Log-domain Sinkhorn iterations, differentiable by unrolling (as ECRTM and FASTopic train). The
    column-marginal L1 error is checked after iterations 1, 1 + check_every, ...; iterations stop
    below `tol`. Each row's smallest cost is subtracted first (the plan does not change) so that
    large costs, e.g. LM hidden states far from the topic embeddings, do not lose precision.
    With `potentials`, returns (plan, log v): the plan's row i normalised is softmax_j(-alpha * cost_ij + log v_j).
    """
    log_k = -alpha * (cost - cost.detach().min(1, keepdim=True).values)
    log_a, log_b = a.log(), b.log()
    log_u = torch.zeros_like(log_a)
    for step in range(max_iter):
        log_v = log_b - torch.logsumexp(log_k + log_u[:, None], dim=0)
        log_u = log_a - torch.logsumexp(log_k + log_v[None, :], dim=1)
        if step % check_every == 0:
            with torch.no_grad():
                columns = torch.logsumexp(log_k + log_u[:, None], dim=0) + log_v
                if (columns.exp() - b).abs().sum() < tol:
                    break
    plan = torch.exp(log_u[:, None] + log_k + log_v[None, :])
    return (plan, log_v) if potentials else plan
