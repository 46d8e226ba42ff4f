"""PMPO's metrics, exact under verl 0.9.1's metric reduction (verl-free: plain per-row values).

verl 0.9.1 reduces a policy loss's metric dict in these stages (docs/metrics.md, with file:line):
``ppo_loss`` wraps each value in a ``Metric(MEAN)``; the engine merges a key's values over the
micro-batches of a mini-batch (list extend); ``Metric.aggregate_dp`` takes the mean over data-parallel
ranks position by position, then over positions (and raises if ranks hold different numbers of values);
``reduce_metrics`` averages the mini-batches of a step (max / min for keys containing "max" / "min").
The loss never learns how many micro-batches there are (dynamic batching), so one value per micro-batch
cannot be exact. Instead every key carries **one value per row (trajectory) of the micro-batch**, empty
rows included: each rank then holds exactly its ``G / D`` rows of the mini-batch, and the reduction is
the exact mean over the mini-batch's rows, whatever the micro-batching, dynamic batching and DP size.

Per-row value ``y_i`` of each key (:data:`METRICS`), with ``G`` = rows of the mini-batch across DP
(verl's ``global_batch_size``; the call's rows when absent) and ``N`` = its valid tokens
(``batch_num_tokens``; the call's tokens when absent):

- ``row``: an indicator or a value restricted to a subset: the mean is a share of the rows, or
  "sum over the subset / rows" (divide two such keys for a conditional mean:
  :func:`pmpo_verl.metric_reading.derived`);
- ``tokens``: a token count times ``G / N``: the mean is count / valid tokens of the mini-batch;
- ``rows``: a value times ``G``: the mean is the sum over the mini-batch's rows.

No placeholder (e.g. ``degenerate_p`` for a micro-batch without solved rows) ever enters a reduction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch

from .algo.compile import maybe_compiled
from .algo.objective import LOG_RATIO_CLAMP, PMPOOutput, Statistics
from .metric_reading import METRIC_PREFIX

P_LOW, P_HIGH = 0.01, 0.99
ROW, TOKENS, ROWS = "row", "tokens", "rows"


class Rows(NamedTuple):
    """Per-row quantities of one call, all (B,); the subsets are bool, everything else float64."""

    active: torch.Tensor  # non-empty, A != 0, every valid token finite
    solved: torch.Tensor  # active and not degenerate: p has an effect (adaptive mode: chosen by the rule)
    clip_saturated: torch.Tensor  # active and c_i >= clip_saturation
    p: torch.Tensor
    ess_norm: torch.Tensor  # ESS_i(p_i) / N_i
    target_ess_norm: torch.Tensor  # ESS*_i / N_i (fixed mode: ESS_i(p) / N_i)
    e1_norm: torch.Tensor  # ESS_i(1) / N_i
    clip_frac: torch.Tensor  # c_i
    ratio: torch.Tensor  # M_{p_i}(r~_i)
    solver_residual: torch.Tensor  # |log ESS_i(p_i) - log ESS*_i| where the solver chose p_i, else 0
    clipped_tokens: torch.Tensor  # valid tokens the sign-aware clip zeroed
    clipped_lower_tokens: torch.Tensor  # the same on rows with A < 0
    neg_log_ratio: torch.Tensor  # sum over valid tokens of -clamp(l, -20, 20) (NaN counted as 0)
    nonfinite_tokens: torch.Tensor  # valid tokens whose log-prob, old log-prob or advantage is not finite


@dataclass(frozen=True)
class MetricDef:
    """One logged key: its per-row value, how that value is scaled, and its definition (for the docs)."""

    key: str
    value: Callable[[Rows], torch.Tensor]
    scale: str  # ROW (as is), TOKENS (times G / N) or ROWS (times G)
    definition: str


def _on(subset: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``x`` on the subset, 0 elsewhere (``where``, not a product: NaN outside the subset cannot leak)."""
    return torch.where(subset, x, 0.0)


P = METRIC_PREFIX
METRICS: tuple[MetricDef, ...] = (
    MetricDef(
        P + "active_frac",
        lambda r: r.active,
        ROW,
        "share of rows that are non-empty, have A != 0 and only finite valid tokens",
    ),
    MetricDef(
        P + "solved_frac",
        lambda r: r.solved,
        ROW,
        "share of rows that are active and not degenerate (p has an effect; adaptive mode: p chosen by the rule)",
    ),
    MetricDef(
        P + "p_below1_frac",
        lambda r: r.solved & (r.p < P_HIGH),
        ROW,
        f"share of rows that are solved with p < {P_HIGH}",
    ),
    MetricDef(
        P + "p0_frac", lambda r: r.solved & (r.p < P_LOW), ROW, f"share of rows that are solved with p < {P_LOW}"
    ),
    MetricDef(
        P + "clip_saturated_frac",
        lambda r: r.clip_saturated,
        ROW,
        "share of rows that are active with c_i >= clip_saturation (adaptive mode: the rule gives them p = 0)",
    ),
    MetricDef(P + "solved_p_per_row", lambda r: _on(r.solved, r.p), ROW, "sum of p_i over solved rows / rows"),
    MetricDef(
        P + "solved_ess_norm_per_row",
        lambda r: _on(r.solved, r.ess_norm),
        ROW,
        "sum of ESS_i(p_i) / N_i over solved rows / rows",
    ),
    MetricDef(
        P + "solved_target_ess_norm_per_row",
        lambda r: _on(r.solved, r.target_ess_norm),
        ROW,
        "sum of ESS*_i / N_i over solved rows / rows (fixed mode: ESS_i(p) / N_i)",
    ),
    MetricDef(
        P + "solved_e1_norm_per_row",
        lambda r: _on(r.solved, r.e1_norm),
        ROW,
        "sum of ESS_i(1) / N_i over solved rows / rows",
    ),
    MetricDef(
        P + "active_clip_frac_per_row",
        lambda r: _on(r.active, r.clip_frac),
        ROW,
        "sum of the clip fraction c_i over active rows / rows",
    ),
    MetricDef(
        P + "active_ratio_per_row",
        lambda r: _on(r.active, r.ratio),
        ROW,
        "sum of M_{p_i}(r~_i) over active rows / rows",
    ),
    MetricDef(
        P + "nonfinite_tokens",
        lambda r: r.nonfinite_tokens,
        ROWS,
        "valid tokens of the mini-batch whose log-prob, old log-prob or advantage is not finite",
    ),
    MetricDef(
        P + "solver_residual_max",
        lambda r: r.solver_residual,
        ROWS,
        "sum over the mini-batch's rows of |log ESS_i(p_i) - log ESS*_i| (rows solved by the solver), "
        "an upper bound of the largest; the step logs the largest over its mini-batches",
    ),
    MetricDef(
        "actor/pg_clipfrac",
        lambda r: r.clipped_tokens,
        TOKENS,
        "share of the mini-batch's valid tokens that the sign-aware clip zeroed",
    ),
    MetricDef(
        "actor/pg_clipfrac_lower",
        lambda r: r.clipped_lower_tokens,
        TOKENS,
        "share of the mini-batch's valid tokens that the clip zeroed on rows with A < 0",
    ),
    MetricDef(
        "actor/ppo_kl",
        lambda r: r.neg_log_ratio,
        TOKENS,
        "mean over the mini-batch's valid tokens of -clamp(log pi - log pi_old, -20, 20) (NaN as 0)",
    ),
)
METRIC_KEYS = tuple(m.key for m in METRICS)


class MetricInputs(NamedTuple):
    """What the per-row values are computed from: one call's tensors, all detached (no autograd graph
    is built), passed by name and as one pytree to the compiled :func:`_row_values`."""

    stats: Statistics  # the objective's no-grad per-row results
    log_ratio_mean: torch.Tensor  # (B,) log M_{p_i}(r~_i)
    log_ratio: torch.Tensor  # (B, T) log pi_theta - log pi_old as the loss saw it (raw)
    advantages: torch.Tensor  # (B, T) as given
    mask: torch.Tensor  # (B, T) bool, valid tokens
    seq_adv: torch.Tensor  # (B,) sequence advantages


def _row_values(inputs: MetricInputs, clip_saturation: float) -> torch.Tensor:
    """Every metric's unscaled per-row value as one (K + 1, B) float64 tensor (the last row: valid tokens
    per row), so that the host reads all of them in one transfer. A metric over the quantities of
    :class:`Rows` is one :class:`MetricDef` in :data:`METRICS`; a new quantity is one field of
    :class:`Rows` computed here."""
    stats, log_ratio, mask = inputs.stats, inputs.log_ratio, inputs.mask
    f64 = torch.float64
    nonfinite = (mask & ~(torch.isfinite(log_ratio) & torch.isfinite(inputs.advantages))).sum(-1)
    active = stats.active & (nonfinite == 0)
    solved = active & ~stats.degenerate
    clipped = (stats.clipped_tokens & mask).sum(-1).to(f64)
    lr = torch.where(mask, log_ratio, 0.0).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
    lr = torch.where(torch.isnan(lr), 0.0, lr)
    rows = Rows(
        active=active,
        solved=solved,
        clip_saturated=active & (stats.clip_frac >= clip_saturation),
        p=stats.p.to(f64),
        ess_norm=stats.ess_norm.to(f64),
        target_ess_norm=stats.target_ess_norm.to(f64),
        e1_norm=stats.e1_norm.to(f64),
        clip_frac=stats.clip_frac.to(f64),
        ratio=inputs.log_ratio_mean.to(f64).exp(),
        solver_residual=torch.where(nonfinite == 0, stats.solver_residual.to(f64), 0.0),
        clipped_tokens=clipped,
        clipped_lower_tokens=torch.where(inputs.seq_adv < 0, clipped, 0.0),
        neg_log_ratio=-lr.to(f64).sum(-1),
        nonfinite_tokens=nonfinite.to(f64),
    )
    return torch.stack([m.value(rows).to(f64) for m in METRICS] + [mask.sum(-1).to(f64)])


def pmpo_metrics(
    out: PMPOOutput,
    log_ratio: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    seq_adv: torch.Tensor,
    clip_saturation: float,
    batch_rows: float | None = None,
    batch_tokens: float | None = None,
) -> dict[str, list[float]]:
    """One value per row for every key of :data:`METRICS`, with a single host transfer.

    Args:
        out: the objective's per-trajectory results.
        log_ratio: (B, T) ``log pi_theta - log pi_old`` as the loss saw it (raw: not clamped, not masked).
        advantages: (B, T) the advantages as given (their finiteness is checked on valid tokens).
        mask: (B, T) bool, valid response tokens.
        seq_adv: (B,) sequence advantages.
        clip_saturation: the ``clip_saturation`` knob.
        batch_rows: ``G``, rows of the mini-batch across DP (verl's ``global_batch_size``); None: B.
        batch_tokens: ``N``, valid tokens of the mini-batch across DP (``batch_num_tokens``); None: this
            call's.

    Returns:
        ``{key: [y_1, ..., y_B]}``; verl's MEAN reduction of these lists over all rows of a mini-batch gives
        the definitions of :data:`METRICS`. With zero rows every list is empty.
    """
    if mask.shape[0] == 0:
        return {m.key: [] for m in METRICS}
    inputs = MetricInputs(stats=out.statistics(), log_ratio_mean=out.log_ratio_mean.detach(),
                          log_ratio=log_ratio.detach(), advantages=advantages.detach(), mask=mask,
                          seq_adv=seq_adv.detach())
    table = maybe_compiled("pmpo_metric_rows", _row_values, mask.device)(inputs, clip_saturation).tolist()
    tokens_per_row = table.pop()
    rows = float(len(tokens_per_row) if batch_rows is None else batch_rows)
    tokens = float(sum(tokens_per_row) if batch_tokens is None else batch_tokens)
    factor = {ROW: 1.0, ROWS: rows, TOKENS: rows / tokens if tokens > 0 else 0.0}
    result = {}
    for m, values in zip(METRICS, table):
        f = factor[m.scale]
        result[m.key] = values if f == 1.0 else [v * f for v in values]
    return result
