"""``loss_mode=pmpo``: the PMPO policy loss registered in verl's policy-loss registry.

Per trajectory (pmpo_verl.algo.objective):

    L_i = -A_i * M_{p_i}(r~_i),    M_p(r~) = ((1/N_i) sum_t r~_t^p)^(1/p),   M_0 = exp(mean_t log r~_t)

with r~ the sign-aware log-space clipped ratio (``clip_ratio_low/high`` are log-space epsilons, as in
verl's ``geo_mean``), A_i the masked row mean of ``advantages`` and p_i chosen per trajectory by the
clip-aware ESS rule (or fixed). Zhao et al., "One Ring to Rule Them All: Unifying Group-Based RL via
Dynamic Power-Mean Geometry", arXiv 2601.22521.

Aggregation: ``agg_loss(L as a (B, 1) matrix, non-empty rows, "seq-mean-token-mean", **global_batch_info)``
(the token mean of a per-trajectory constant is the constant), i.e.
``dp_size * sum_{i in micro-batch} L_i / global_batch_size``: each trajectory counts once whatever
its length, and the summed loss and gradients do not depend on the micro-batch / DP split (unlike
verl 0.9.1's ``geo_mean``, issue #7913). The configured ``loss_agg_mode`` does not apply.

Rollout importance weights (``rollout_is_weights``, from ``algorithm.rollout_correction``) multiply L_i by
the geometric mean of the trajectory's token weights, the sequence-level convention of ``geo_mean``.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import torch
from verl.trainer.ppo.core_algos import agg_loss, register_policy_loss

from .algo.objective import PMPOSettings, pmpo_objective, sequence_advantage
from .metrics import pmpo_metrics

logger = logging.getLogger(__name__)
_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message)


def settings_from_actor_config(config: Any) -> PMPOSettings:
    """PMPO settings from verl's actor config: clip bounds from ``clip_ratio_low/high`` (falling back to
    ``clip_ratio``), knobs from ``policy_loss`` (defaults when it is verl's stock ``PolicyLossConfig``)."""
    if config is None:
        raise ValueError("loss_mode=pmpo needs the actor config (config=None was passed)")
    clip_ratio = config.get("clip_ratio", None)
    eps_low = config.get("clip_ratio_low", None)
    eps_high = config.get("clip_ratio_high", None)
    eps_low = clip_ratio if eps_low is None else eps_low
    eps_high = clip_ratio if eps_high is None else eps_high
    policy_loss = config.get("policy_loss", None) or {}
    if policy_loss.get("p_mode", None) is None:
        _warn_once(
            "stock-config",
            "loss_mode=pmpo with verl's stock PolicyLossConfig: PMPO knobs use their defaults. Set "
            "actor_rollout_ref.actor.policy_loss._target_=pmpo_verl.config.PMPOPolicyLossConfig to configure them.",
        )
    return PMPOSettings.from_mapping(policy_loss, eps_low, eps_high)


def sequence_is_weight(rollout_is_weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Geometric mean of each trajectory's token IS weights over valid tokens, (B,); 1 for empty rows."""
    maskf = mask.to(torch.float32)
    log_w = torch.log(rollout_is_weights.detach().float().clamp_min(1e-10)) * maskf
    return torch.exp(log_w.sum(-1) / maskf.sum(-1).clamp_min(1.0))


@register_policy_loss("pmpo")  # type: ignore[arg-type]
def compute_policy_loss_pmpo(
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str = "token-mean",
    config: Optional[Any] = None,
    rollout_is_weights: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """PMPO policy loss (verl 0.9.1 policy-loss signature).

    Args:
        old_log_prob: (B, T) log-probs under pi_old (no grad).
        log_prob: (B, T) log-probs under pi_theta (requires grad); bf16 is upcast to fp32.
        advantages: (B, T) advantages; the sequence advantage is the masked row mean.
        response_mask: (B, T) bool or int mask of valid response tokens.
        loss_agg_mode: ignored: PMPO is a sequence-level objective (see module docstring).
        config: verl actor config (``clip_ratio_low/high``, ``policy_loss``, ``global_batch_info``).
        rollout_is_weights: optional (B, T) rollout-correction IS weights.

    Returns:
        ``(pg_loss, metrics)``: scalar loss and floats under ``actor/pmpo/`` plus ``actor/pg_clipfrac``,
        ``actor/pg_clipfrac_lower`` and ``actor/ppo_kl``.
    """
    settings = settings_from_actor_config(config)
    mask = response_mask.to(torch.bool)
    dtype = torch.promote_types(log_prob.dtype, torch.float32)
    log_ratio = log_prob.to(dtype) - old_log_prob.detach().to(dtype)
    seq_adv = sequence_advantage(advantages.detach().to(dtype), mask)
    out = pmpo_objective(log_ratio, seq_adv, mask, settings)
    seq_loss = out.seq_loss
    if rollout_is_weights is not None:
        seq_loss = seq_loss * sequence_is_weight(rollout_is_weights, mask).to(dtype)
    batch_info = config.get("global_batch_info", None) or {}
    # L_i is constant over its tokens, so its token mean is L_i itself: agg_loss sees one column per
    # trajectory (valid when the row is non-empty), the same seq-mean without (B, T) temporaries.
    pg_loss = agg_loss(
        loss_mat=seq_loss.unsqueeze(-1),
        loss_mask=mask.any(-1, keepdim=True),
        loss_agg_mode="seq-mean-token-mean",
        **batch_info,
    )
    return pg_loss, pmpo_metrics(out, log_ratio, mask, seq_adv, settings.degenerate_p)
