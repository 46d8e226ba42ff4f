"""Per-micro-batch PMPO metrics (verl-free: verl wraps these floats into its own metric objects).

Keys: ``actor/pmpo/{p_mean, p_std, p_min, p_max, frac_p0, frac_p1, ess_norm_mean, target_ess_norm_mean,
e1_norm_mean, clip_frac_mean, degenerate_frac, zero_adv_frac, ratio_mean, ratio_max}`` and verl's usual
``actor/pg_clipfrac``, ``actor/pg_clipfrac_lower``, ``actor/ppo_kl``. The same keys on every call:
verl aggregates each key over micro-batches and data-parallel ranks.
"""

from __future__ import annotations

import torch

from .algo.compile import maybe_compiled
from .algo.objective import PMPOOutput

METRIC_PREFIX = "actor/pmpo/"
P_LOW, P_HIGH = 0.01, 0.99


def _metric_sums(
    p: torch.Tensor,
    active: torch.Tensor,
    degenerate: torch.Tensor,
    log_mean: torch.Tensor,
    clip_frac: torch.Tensor,
    ess_norm: torch.Tensor,
    target_norm: torch.Tensor,
    e1_norm: torch.Tensor,
    clipped_tokens: torch.Tensor,
    log_ratio: torch.Tensor,
    mask: torch.Tensor,
    seq_adv: torch.Tensor,
    degenerate_p: float,
) -> torch.Tensor:
    """The sums, counts and extrema behind the metrics, as one float64 vector (one host transfer).
    Every input is already detached (no autograd graph is built)."""
    f64 = torch.float64
    solved = (active & ~degenerate).to(f64)
    active_f = active.to(f64)
    p = p.to(f64)
    ratio = log_mean.to(f64).exp()
    by_solved = torch.stack(
        [p, p.square(), (p < P_LOW).to(f64), (p > P_HIGH).to(f64), ess_norm.to(f64), target_norm.to(f64), e1_norm.to(f64)]
    ) @ solved
    by_active = torch.stack([clip_frac.to(f64), degenerate.to(f64), ratio]) @ active_f
    nonempty = mask.any(-1)
    counts = torch.stack(
        [
            solved.sum(),
            active_f.sum(),
            (nonempty & ~active).sum().to(f64),
            nonempty.sum().to(f64),
            mask.sum().to(f64),
            clipped_tokens.sum().to(f64),
            (clipped_tokens & (seq_adv < 0).unsqueeze(-1)).sum().to(f64),
            -torch.where(mask, log_ratio, 0.0).sum().to(f64),
            torch.where(solved > 0, p, degenerate_p).amin(),
            torch.where(solved > 0, p, degenerate_p).amax(),
            torch.where(active, ratio, 0.0).amax(),
        ]
    )
    return torch.cat([by_solved, by_active, counts])


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
    sums = maybe_compiled("pmpo_metric_sums", _metric_sums, mask.device)(
        out.p, out.active, out.degenerate, out.log_ratio_mean.detach(), out.clip_frac, out.ess_norm,
        out.target_ess_norm, out.e1_norm, out.clipped_tokens, log_ratio.detach(), mask, seq_adv, degenerate_p,
    )
    (sp, sp2, s0, s1, ess, tgt, e1, ca, dg, rt, n_solved, n_active, n_zero, n_nonempty, n_tokens, n_clip,
     n_lower, neg_kl, p_min, p_max, ratio_max) = sums.tolist()
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
