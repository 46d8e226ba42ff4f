"""verl 0.9.1's reference losses re-implemented in torch, for machines without verl (a bare GPU box).

``vanilla`` (PPO/GRPO clip, ``compute_policy_loss_vanilla``), ``geo_mean`` (GMPO, sign-aware log-space clip
and geometric mean, ``compute_policy_loss_geo_mean``) and the two ``agg_loss`` modes the benchmark uses,
line for line from verl's math, without rollout IS weights. :mod:`.self_check` verifies them against
verl's registry (values and gradients) whenever verl is importable.

The benchmark compares the methods on one objective: PMPO's log-space clip ``eps`` (:data:`EPS_LOG`)
corresponds to ``vanilla``'s ratio band ``[1 - e^-eps, e^eps - 1]`` (:data:`VANILLA_BAND`) with the dual
clip off (:data:`CLIP_RATIO_C_OFF`); then PMPO ``fixed p=1`` equals ``vanilla`` and ``fixed p=0`` equals
``geo_mean`` (up to its aggregation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ..algo import PMPOSettings
from ..recipe import CLIP_RATIO
from ..trajectory_loss import trajectory_loss

EPS_LOG = CLIP_RATIO  # the recipes' log-space clip epsilon (GMPO / PMPO default)
CLIP_RATIO_C_OFF = 1e9  # "dual clip off" for vanilla
VANILLA_BAND = (1.0 - math.exp(-EPS_LOG), math.exp(EPS_LOG) - 1.0)  # matched ratio band
LossResult = tuple[torch.Tensor, dict[str, Any]]  # (scalar loss, metrics), verl's policy-loss return value
LossCall = Callable[[], LossResult]  # one micro-batch's loss call, measured with its backward


def batch_info_for(mask: torch.Tensor) -> dict[str, Any]:
    """``global_batch_info`` as ``ppo_loss`` fills it: one DP rank, the micro-batch is the global batch."""
    return {"dp_size": 1, "batch_num_tokens": int(mask.sum()), "global_batch_size": int(mask.shape[0]),
            "loss_scale_factor": None}


def masked_sum(values: torch.Tensor, mask: torch.Tensor, axis: int | None = None) -> torch.Tensor:
    """verl_F.masked_sum: NaN-safe masked sum (zero outside the mask, then multiply by the mask)."""
    return (torch.where(mask.bool(), values, 0.0) * mask).sum(axis=axis)


def masked_mean(values: torch.Tensor, mask: torch.Tensor, axis: int | None = None) -> torch.Tensor:
    """verl_F.masked_mean: ``masked_sum / (count + 1e-8)``."""
    return masked_sum(values, mask, axis) / (mask.sum(axis=axis) + 1e-8)


def agg_loss(
    loss_mat: torch.Tensor,
    loss_mask: torch.Tensor,
    loss_agg_mode: str,
    dp_size: int = 1,
    batch_num_tokens: int | None = None,
    global_batch_size: int | None = None,
    loss_scale_factor: float | None = None,
) -> torch.Tensor:
    """verl 0.9.1 ``agg_loss`` for ``token-mean`` (masked sum / global tokens) and ``seq-mean-token-mean``
    (each row's token mean, summed over non-empty rows / global rows), both times ``dp_size``."""
    if loss_agg_mode == "token-mean":
        if batch_num_tokens is None:
            batch_num_tokens = loss_mask.sum()
        return masked_sum(loss_mat, loss_mask) / batch_num_tokens * dp_size
    if loss_agg_mode == "seq-mean-token-mean":
        tokens = loss_mask.sum(dim=-1)
        seq_losses = (loss_mat * loss_mask).sum(dim=-1) / (tokens + 1e-8)
        seq_valid = (tokens > 0).float()
        if global_batch_size is None:
            global_batch_size = seq_valid.sum()
        return masked_sum(seq_losses, seq_valid) / global_batch_size * dp_size
    raise ValueError(f"inline agg_loss does not implement {loss_agg_mode!r}")


def vanilla(
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str,
    clip_low: float,
    clip_high: float,
    clip_c: float,
    batch_info: dict[str, Any],
) -> LossResult:
    """verl 0.9.1 ``compute_policy_loss_vanilla``: ``max(-A r, -A clip(r, 1 - low, 1 + high))`` per token,
    dual-clipped at ``-A clip_c`` for ``A < 0``, with its three ``.item()`` metrics."""
    log_ratio = (log_prob - old_log_prob).clamp(-20.0, 20.0)
    ratio = log_ratio.exp()
    kl = masked_mean(-log_ratio, response_mask)
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1.0 - clip_low, 1.0 + clip_high)
    pessimistic = torch.maximum(unclipped, clipped)
    clipfrac = masked_mean((clipped > unclipped).float(), response_mask)
    dual = -advantages * clip_c
    dual_clipped = torch.minimum(dual, pessimistic)
    clipfrac_lower = masked_mean((pessimistic > dual).float() * (advantages < 0).float(), response_mask)
    losses = torch.where(advantages < 0, dual_clipped, pessimistic)
    loss = agg_loss(losses, response_mask, loss_agg_mode, **batch_info)
    metrics = {"actor/pg_clipfrac": clipfrac.item(), "actor/ppo_kl": kl.item(),
               "actor/pg_clipfrac_lower": clipfrac_lower.item()}
    return loss, metrics


def geo_mean(
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    clip_low: float,
    clip_high: float,
) -> LossResult:
    """verl 0.9.1 ``compute_policy_loss_geo_mean`` (GMPO): ``l~ = sign(A) min(sign(A) l, sign(A)
    clip(l, -low, high))``, ``L_i = -A_i exp(mean_t l~)``, mean over the micro-batch's rows."""
    log_ratio = log_prob - old_log_prob
    kl = masked_mean(-log_ratio, response_mask)
    sign = advantages.sign()
    bounded = log_ratio.clamp(-clip_low, clip_high)
    clipped_log_ratio = sign * torch.minimum(sign * log_ratio, sign * bounded)
    tokens = response_mask.sum(dim=-1)
    ratio = ((clipped_log_ratio * response_mask).sum(dim=-1) / (tokens + 1e-8)).exp()
    seq_adv = (advantages * response_mask).sum(dim=-1) / (tokens + 1e-8)
    loss = (-seq_adv * ratio).mean()
    hit = log_ratio != bounded
    metrics = {"actor/pg_clipfrac": masked_mean((hit * (advantages > 0)).float(), response_mask).item(),
               "actor/ppo_kl": kl.item(),
               "actor/pg_clipfrac_lower": masked_mean((hit * (advantages < 0)).float(), response_mask).item()}
    return loss, metrics


def inline_pmpo(
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    settings: PMPOSettings,
    batch_info: dict[str, Any],
) -> LossResult:
    """PMPO through :func:`pmpo_verl.trajectory_loss.trajectory_loss` (verl-free, the code the plugin's
    loss runs), aggregated with the inline :func:`agg_loss` instead of verl's."""
    result = trajectory_loss(old_log_prob, log_prob, advantages, response_mask, settings)
    return agg_loss(result.loss_mat, result.loss_mask, "seq-mean-token-mean", **batch_info), result.metrics
