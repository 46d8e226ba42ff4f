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

Metrics: every key is a verl ``Metric(MEAN)`` holding one value per row of the micro-batch, so that
verl's reduction (micro-batch merge, DP ``aggregate_dp``, ``reduce_metrics``) yields exact mini-batch
statistics (:mod:`pmpo_verl.metrics`; README, "Metrics").
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from verl.trainer.ppo.core_algos import agg_loss, register_policy_loss
from verl.utils.metric import AggregationType, Metric

from .algo.objective import PMPOSettings
from .trajectory_loss import trajectory_loss

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


@register_policy_loss("pmpo")  # type: ignore[arg-type]
def compute_policy_loss_pmpo(
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str = "token-mean",
    config: Any | None = None,
    rollout_is_weights: torch.Tensor | None = None,
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
        ``(pg_loss, metrics)``: the scalar loss and, for every key of :data:`pmpo_verl.metrics.METRICS`
        (``actor/pmpo/*``, ``actor/pg_clipfrac``, ``actor/pg_clipfrac_lower``, ``actor/ppo_kl``), a
        ``Metric(MEAN)`` with one value per row (none for an empty micro-batch).
    """
    settings = settings_from_actor_config(config)
    batch_info = dict(config.get("global_batch_info", None) or {})
    result = trajectory_loss(
        old_log_prob, log_prob, advantages, response_mask, settings, rollout_is_weights,
        batch_rows=batch_info.get("global_batch_size"), batch_tokens=batch_info.get("batch_num_tokens"),
    )
    if batch_info.get("global_batch_size") is None and (batch_info.get("dp_size") or 1) <= 1:
        # a direct call: the mean over its non-empty rows, and 0 (not 0 / 0) when there are none
        batch_info["global_batch_size"] = result.loss_mask.sum().clamp_min(1)
    pg_loss = agg_loss(loss_mat=result.loss_mat, loss_mask=result.loss_mask,
                       loss_agg_mode="seq-mean-token-mean", **batch_info)
    return pg_loss, {key: _row_metric(values) for key, values in result.metrics.items()}


def _row_metric(values: list[float]) -> Metric:
    """A verl MEAN ``Metric`` holding the given per-row values (``Metric(value=list)`` is not accepted)."""
    metric = Metric(AggregationType.MEAN)
    metric.values = values
    return metric
