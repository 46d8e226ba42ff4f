"""Numerically stable log-space power mean of token ratios.

For valid tokens ``x_t`` (log-ratios) of one trajectory, ``N`` their count, ``xbar`` their mean:

    M_p = ((1/N) sum_t exp(p x_t))^(1/p)          (0 < p <= 1),     M_0 = exp(xbar)

computed in the centred form, exact and free of the catastrophic cancellation of
``(logsumexp(p x) - log N) / p`` at small p:

    p >  p_small:  log M_p = xbar + (1/p) log1p((1/N) sum_t expm1(p (x_t - xbar)))
    p <= p_small:  log M_p = xbar + (p/2) Var_t(x)                 (2nd-order Taylor; exact at p = 0)

``Var`` is the population variance over valid tokens. :func:`log_power_mean` is plain autograd (the exact
branch is evaluated with a safe p on rows that use the Taylor branch, so no NaN reaches the gradient);
:func:`log_power_mean_and_derivative` also returns the derivative in closed form, which the PMPO loss uses
for its backward pass (``d log M_p / d x_t = softmax_t(p x)``).
"""

from __future__ import annotations

import torch


def _centred_terms(x: torch.Tensor, mask: torch.Tensor, p: torch.Tensor, p_small: float) -> tuple[torch.Tensor, ...]:
    """``(log M_p, d_t, N, p, exact rows, e_t = expm1(p d_t), S = sum_t e_t)``; invalid positions have d_t = e_t = 0."""
    maskf = mask.to(x.dtype)
    n = maskf.sum(-1).clamp_min(1.0)
    x = torch.where(mask, x, 0.0)
    mean = x.sum(-1) / n
    dev = (x - mean.unsqueeze(-1)) * maskf
    p = p.to(x.dtype)
    exact_rows = p > p_small
    p_safe = torch.where(exact_rows, p, 1.0)
    e = torch.expm1(p_safe.unsqueeze(-1) * dev)
    s = e.sum(-1)
    exact = torch.log1p(s / n) / p_safe
    taylor = 0.5 * p * (dev * dev).sum(-1) / n
    return mean + torch.where(exact_rows, exact, taylor), dev, n, p, exact_rows, e, s


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
    return _centred_terms(x, mask, p, p_small)[0]


def log_power_mean_and_derivative(
    x: torch.Tensor, mask: torch.Tensor, p: torch.Tensor, p_small: float = 1e-4
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log M_p, d log M_p / d x_t)`` per row, the derivative in closed form (no autograd), (B,) and (B, T):

        exact branch (p > p_small):  w_t(p) = e^{p d_t} / sum_k e^{p d_k} = (1 + e_t) / (N + S)
        Taylor branch:               (1 + p d_t) / N          (the derivative of xbar + (p/2) Var)

    with ``d_t = x_t - xbar``, ``e_t = expm1(p d_t)``, ``S = sum_k e_k`` (the sum the value already needs).
    The derivative of the exact branch is the token weight of :func:`.ess.token_weights`; it is 0 at
    invalid positions and sums to 1 over a non-empty row.
    """
    log_mean, dev, n, p, exact_rows, e, s = _centred_terms(x, mask, p, p_small)
    derivative = torch.where(
        exact_rows.unsqueeze(-1), (1.0 + e) / (n + s).unsqueeze(-1), (1.0 + p.unsqueeze(-1) * dev) / n.unsqueeze(-1)
    )
    return log_mean, torch.where(mask, derivative, 0.0)
