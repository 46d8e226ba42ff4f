"""Sign-aware log-space token clip (GMPO, arXiv 2507.20673, Eq. 7) and clip fractions.

With ``s_i = sgn(A_i)`` the clipped token log-ratio is

    l~_{i,t} = s_i * min(s_i * l_{i,t}, s_i * clamp(l_{i,t}, -eps_low, eps_high))

i.e. ``min(l, eps_high)`` for a positive advantage and ``max(l, -eps_low)`` for a negative one: the
log-space form of PPO's pessimistic ``min(r A, clip(r) A)``. A clipped token has zero gradient.
Trajectories with ``A_i = 0`` are left unclipped (their loss is zero whatever the clip).
"""

from __future__ import annotations

import math

import torch

CLIP_MODES = ("active", "two_sided")


def sign_aware_clip(
    log_ratio: torch.Tensor, seq_adv: torch.Tensor, eps_low: float, eps_high: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clip ``log_ratio`` (B, T) on the side picked by the sign of ``seq_adv`` (B,).

    Returns ``(clipped, active)`` where ``active`` (bool, B x T) marks the tokens whose value the clip
    changed (zero-gradient tokens). Gradients flow through unclipped tokens unchanged.
    """
    adv = seq_adv.unsqueeze(-1)
    upper = torch.full_like(adv, math.inf, dtype=log_ratio.dtype).masked_fill(adv > 0, eps_high)
    lower = torch.full_like(adv, -math.inf, dtype=log_ratio.dtype).masked_fill(adv < 0, -eps_low)
    clipped = torch.clamp(log_ratio, min=lower, max=upper)
    active = (log_ratio > upper) | (log_ratio < lower)
    return clipped, active


def clip_fraction(
    log_ratio: torch.Tensor,
    active: torch.Tensor,
    mask: torch.Tensor,
    mode: str,
    eps_low: float,
    eps_high: float,
) -> torch.Tensor:
    """Per-trajectory clip fraction ``c_i`` over valid tokens, shape (B,); 0 for empty rows.

    ``mode="active"``: share of tokens the sign-aware clip changed (exactly the zero-gradient tokens).
    ``mode="two_sided"``: share of tokens with ``l`` outside ``[-eps_low, eps_high]`` whatever the
    advantage sign (the statistic GMPO's code logs).
    """
    if mode == "active":
        hit = active
    elif mode == "two_sided":
        hit = (log_ratio > eps_high) | (log_ratio < -eps_low)
    else:
        raise ValueError(f"clip_mode must be one of {CLIP_MODES}, got {mode!r}")
    hit = hit & mask
    n = mask.sum(-1).clamp_min(1)
    return hit.sum(-1).to(log_ratio.dtype) / n
