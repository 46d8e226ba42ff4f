"""PMPO from verl's policy-loss inputs to per-trajectory losses and metrics, without importing verl.

:func:`pmpo_verl.loss.compute_policy_loss_pmpo` aggregates the result with verl's ``agg_loss`` and wraps
the per-row metric lists into verl ``Metric`` objects; the loss benchmark (``scripts/bench_loss.py``)
aggregates it with :func:`pmpo_verl.bench.baselines.agg_loss` on machines without verl. Both therefore run
the same PMPO code.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .algo.objective import PMPOSettings, pmpo_objective, sequence_advantage
from .metrics import pmpo_metrics


def sequence_is_weight(rollout_is_weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Geometric mean of each trajectory's token IS weights over valid tokens, (B,); 1 for empty rows."""
    maskf = mask.to(torch.float32)
    log_w = torch.log(rollout_is_weights.detach().float().clamp_min(1e-10)) * maskf
    return torch.exp(log_w.sum(-1) / maskf.sum(-1).clamp_min(1.0))


class TrajectoryLoss(NamedTuple):
    """What verl's ``agg_loss`` and ``Metric`` wrapping need from one micro-batch."""

    loss_mat: torch.Tensor  # (B, 1) L_i (times the IS weight), constant over the row's tokens
    loss_mask: torch.Tensor  # (B, 1) bool, non-empty rows
    metrics: dict[str, list[float]]  # one value per row for every key of pmpo_verl.metrics.METRICS


def trajectory_loss(
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    settings: PMPOSettings,
    rollout_is_weights: torch.Tensor | None = None,
    batch_rows: float | None = None,
    batch_tokens: float | None = None,
) -> TrajectoryLoss:
    """``(loss_mat, loss_mask, metrics)``: ``L_i`` as a (B, 1) matrix, its (B, 1) mask (non-empty rows)
    and the metrics as one value per row (:func:`pmpo_verl.metrics.pmpo_metrics`; ``batch_rows`` and
    ``batch_tokens`` are the mini-batch's rows and valid tokens across DP, None: this call's).

    ``l = log_prob - old_log_prob`` in at least fp32, ``A_i`` = masked row mean of ``advantages``,
    ``L_i = -A_i M_{p_i}(r~_i)`` (:func:`pmpo_verl.algo.pmpo_objective`), times the geometric mean of the
    trajectory's ``rollout_is_weights`` when given (``geo_mean``'s sequence-level convention).
    ``L_i`` is constant over its tokens, so its token mean is ``L_i`` itself: ``seq-mean-token-mean`` over
    this one-column matrix is the per-trajectory mean, with no (B, T) temporaries.
    """
    mask = response_mask.to(torch.bool)
    dtype = torch.promote_types(log_prob.dtype, torch.float32)
    log_ratio = log_prob.to(dtype) - old_log_prob.detach().to(dtype)
    seq_adv = sequence_advantage(advantages.detach().to(dtype), mask)
    out = pmpo_objective(log_ratio, seq_adv, mask, settings)
    seq_loss = out.seq_loss
    if rollout_is_weights is not None:
        seq_loss = seq_loss * sequence_is_weight(rollout_is_weights, mask).to(dtype)
    metrics = pmpo_metrics(out, log_ratio, advantages, mask, seq_adv, settings.clip_saturation,
                           batch_rows=batch_rows, batch_tokens=batch_tokens)
    return TrajectoryLoss(loss_mat=seq_loss.unsqueeze(-1), loss_mask=mask.any(-1, keepdim=True),
                          metrics=metrics)
