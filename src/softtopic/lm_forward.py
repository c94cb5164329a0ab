"""What the LM stage's two heads share (`lm.RestrictedHead`, `chain.ChainHead`): how a batch of
left-padded prompts is fed to a causal LM's body, and how its logits are soft-capped."""

from __future__ import annotations

import torch


def left_padded_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids of left-padded rows: 0 at each row's first real token (padding stays at 0)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def logit_softcap(model) -> float | None:
    """The model's final-logit soft cap (Gemma's `final_logit_softcapping`), or None."""
    config = getattr(model.config, "text_config", model.config)
    return getattr(config, "final_logit_softcapping", None)


def apply_softcap(logits: torch.Tensor, softcap: float | None) -> torch.Tensor:
    """tanh(logits / cap) * cap, as the model's own head does; unchanged without a cap."""
    return torch.tanh(logits / softcap) * softcap if softcap else logits
