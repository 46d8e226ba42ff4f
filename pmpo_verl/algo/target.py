"""Clip-aware target-ESS rule: clip fraction -> target effective sample size.

PMPO's exact mapping is not public; this is the project's reconstruction
(docs/algorithm.md#7-clip-aware-target-ess-rule).
With ``E0 = ESS(0) = N`` and ``E1 = ESS(1)`` the attainable interval of a trajectory:

    g(c)  = clamp(c / c_sat, 0, 1) ** gamma
    interp:      ESS* = E1 + g(c) (E0 - E1)
    normalized:  ESS* = clamp(N (nu0 + (1 - nu0) g(c)), E1, E0)

so c = 0 gives ESS* = E1 (p = 1, arithmetic mean) and c >= c_sat gives ESS* = E0 (p = 0, geometric
mean) under ``interp``; p decreases monotonically in c in between.
"""

from __future__ import annotations

import torch

TARGET_RULES = ("interp", "normalized")


def target_fraction(clip_frac: torch.Tensor, clip_saturation: float, gamma: float) -> torch.Tensor:
    """``g(c) = clamp(c / c_sat, 0, 1) ** gamma`` (float64)."""
    return (clip_frac.to(torch.float64) / clip_saturation).clamp(0.0, 1.0) ** gamma


def target_ess(
    n: torch.Tensor, ess1: torch.Tensor, g: torch.Tensor, rule: str = "interp", nu0: float = 0.9
) -> torch.Tensor:
    """Target ESS per row, always inside ``[E1, E0]``.

    Args:
        n: (B,) token counts ``E0 = N``.
        ess1: (B,) ``E1 = ESS(1)``.
        g: (B,) ``g(c)`` in [0, 1].
        rule: ``"interp"`` or ``"normalized"``.
        nu0: normalised target at zero clipping for ``"normalized"``.
    """
    if rule == "interp":
        target = ess1 + g * (n - ess1)
    elif rule == "normalized":
        target = n * (nu0 + (1.0 - nu0) * g)
    else:
        raise ValueError(f"target_rule must be one of {TARGET_RULES}, got {rule!r}")
    return torch.minimum(torch.maximum(target, ess1), n)
