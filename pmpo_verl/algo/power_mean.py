"""Numerically stable log-space power mean of token ratios.

For valid tokens ``x_t`` (log-ratios) of one trajectory, ``N`` their count, ``xbar`` their mean:

    M_p = ((1/N) sum_t exp(p x_t))^(1/p)          (0 < p <= 1),     M_0 = exp(xbar)

computed in the centred form, exact and free of the catastrophic cancellation of
``(logsumexp(p x) - log N) / p`` at small p:

    p >  p_small:  log M_p = xbar + (1/p) log1p((1/N) sum_t expm1(p (x_t - xbar)))
    p <= p_small:  log M_p = xbar + (p/2) Var_t(x)                 (2nd-order Taylor; exact at p = 0)

``Var`` is the population variance over valid tokens. Both branches are plain autograd; the exact branch
is evaluated with a safe p on rows that use the Taylor branch so that no NaN reaches the gradient.
"""

from __future__ import annotations

import torch


def log_power_mean(x: torch.Tensor, mask: torch.Tensor, p: torch.Tensor, p_small: float = 1e-4) -> torch.Tensor:
    """``log M_p(exp(x_i))`` per row.

    Args:
        x: (B, T) log-ratios; values at invalid positions are ignored.
        mask: (B, T) bool, valid tokens.
        p: (B,) exponents in [0, 1] (treated as constants by autograd when detached by the caller).
        p_small: rows with ``p <= p_small`` use the Taylor branch.

    Returns:
        (B,) ``log M_p``; 0 for rows without valid tokens.
    """
    maskf = mask.to(x.dtype)
    n = maskf.sum(-1).clamp_min(1.0)
    x = torch.where(mask, x, 0.0)
    mean = x.sum(-1) / n
    dev = (x - mean.unsqueeze(-1)) * maskf
    p = p.to(x.dtype)
    exact_rows = p > p_small
    p_safe = torch.where(exact_rows, p, 1.0)
    exact = torch.log1p(torch.expm1(p_safe.unsqueeze(-1) * dev).sum(-1) / n) / p_safe
    taylor = 0.5 * p * (dev * dev).sum(-1) / n
    return mean + torch.where(exact_rows, exact, taylor)
