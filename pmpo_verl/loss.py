"""``loss_mode=pmpo``: the PMPO policy loss registered in verl's policy-loss registry.

Per trajectory (pmpo_verl.algo.objective):

    L_i = -A_i * M_{p_i}(r~_i),    M_p(r~) = ((1/N_i) sum_t r~_t^p)^(1/p),   M_0 = exp(mean_t log r~_t)

with r~ the sign-aware log-space clipped ratio (``clip_ratio_low/high`` are log-space epsilons, as in
verl's ``geo_mean``), A_i the masked row mean of ``advantages`` and p_i chosen per trajectory by the
clip-aware ESS rule (or fixed). Zhao et al., "One Ring to Rule Them All: Unifying Group-Based RL via
Dynamic Power-Mean Geometry", arXiv 2601.22521.

Aggregation: ``agg_loss(L broadcast over tokens, mask, "seq-mean-token-mean", **global_batch_info)``,
i.e. ``dp_size * sum_{i in micro-batch} L_i / global_batch_size``: each trajectory counts once whatever
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

from .algo.objective import PMPOOutput, PMPOSettings, pmpo_objective, sequence_advantage

logger = logging.getLogger(__name__)
METRIC_PREFIX = "actor/pmpo/"
P_LOW, P_HIGH = 0.01, 0.99
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


def pmpo_metrics(
    out: PMPOOutput, log_ratio: torch.Tensor, mask: torch.Tensor, seq_adv: torch.Tensor, degenerate_p: float
) -> dict[str, float]:
    """Metrics of one micro-batch as floats, with a single host synchronisation.

    p and ESS statistics are over the trajectories whose p was solved (non-empty, A != 0, not
    degenerate); a micro-batch without any (e.g. the on-policy first mini-batch, or only zero-advantage
    groups) reports ``degenerate_p`` and normalised ESS 1 for them. Shares (``degenerate_frac``,
    ``clip_frac_mean``, ``ratio_*``) are over non-empty trajectories with A != 0. ``pg_clipfrac`` is the
    share of tokens the sign-aware clip zeroed (equal to ``vanilla``'s under a matched band) and
    ``pg_clipfrac_lower`` its part on the lower side (A < 0).
    """
    with torch.no_grad():
        solved = (out.active & ~out.degenerate).to(torch.float64)
        active = out.active.to(torch.float64)
        p = out.p.to(torch.float64)
        ratio = out.log_ratio_mean.detach().to(torch.float64).exp()
        # Per-row statistics stacked as (K, B) and reduced by one mat-vec per row set; token-level statistics
        # as integer counts and a masked sum: no (B, T) float64 copies, ~4x fewer ops than one reduction each.
        by_solved = torch.stack([
            p, p.square(), (p < P_LOW).to(torch.float64), (p > P_HIGH).to(torch.float64),
            out.ess_norm.to(torch.float64), out.target_ess_norm.to(torch.float64), out.e1_norm.to(torch.float64),
        ]) @ solved
        by_active = torch.stack([out.clip_frac.to(torch.float64), out.degenerate.to(torch.float64), ratio]) @ active
        nonempty = mask.any(-1)
        counts = torch.stack([
            solved.sum(), active.sum(), (nonempty & ~out.active).sum().to(torch.float64),
            nonempty.sum().to(torch.float64), mask.sum().to(torch.float64),
            out.clipped_tokens.sum().to(torch.float64),
            (out.clipped_tokens & (seq_adv < 0).unsqueeze(-1)).sum().to(torch.float64),
            -torch.where(mask, log_ratio.detach(), 0.0).sum().to(torch.float64),
            torch.where(solved > 0, p, degenerate_p).amin(), torch.where(solved > 0, p, degenerate_p).amax(),
            torch.where(active > 0, ratio, 0.0).amax(),
        ])
        (sp, sp2, s0, s1, ess, tgt, e1, ca, dg, rt, n_solved, n_active, n_zero, n_nonempty, n_tokens, n_clip,
         n_lower, neg_kl, p_min, p_max, ratio_max) = torch.cat([by_solved, by_active, counts]).tolist()
    n_s, n_a, n_t = max(n_solved, 1.0), max(n_active, 1.0), max(n_tokens, 1.0)
    p_mean = sp / n_s
    values = {
        "p_mean": p_mean,
        "p_std": max(sp2 / n_s - p_mean * p_mean, 0.0) ** 0.5,
        "p_min": p_min,
        "p_max": p_max,
        "frac_p0": s0 / n_s,
        "frac_p1": s1 / n_s,
        "ess_norm_mean": ess / n_s,
        "target_ess_norm_mean": tgt / n_s,
        "e1_norm_mean": e1 / n_s,
        "clip_frac_mean": ca / n_a,
        "degenerate_frac": dg / n_a,
        "zero_adv_frac": n_zero / max(n_nonempty, 1.0),
        "ratio_mean": rt / n_a,
        "ratio_max": ratio_max,
        "solved": n_solved > 0,
        "pg_clipfrac": n_clip / n_t,
        "pg_clipfrac_lower": n_lower / n_t,
        "ppo_kl": neg_kl / n_t,
    }
    if not values.pop("solved"):
        values.update(p_mean=degenerate_p, frac_p0=float(degenerate_p < P_LOW), frac_p1=float(degenerate_p > P_HIGH))
        values.update(ess_norm_mean=1.0, target_ess_norm_mean=1.0, e1_norm_mean=1.0)
    verl_keys = ("pg_clipfrac", "pg_clipfrac_lower", "ppo_kl")
    metrics = {f"actor/{k}": values.pop(k) for k in verl_keys}
    metrics.update({METRIC_PREFIX + k: v for k, v in values.items()})
    return metrics


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
    pg_loss = agg_loss(
        loss_mat=seq_loss.unsqueeze(-1).expand(mask.shape),
        loss_mask=mask,
        loss_agg_mode="seq-mean-token-mean",
        **batch_info,
    )
    return pg_loss, pmpo_metrics(out, log_ratio, mask, seq_adv, settings.degenerate_p)
