"""Vectorised solvers for ``ESS_i(p_i) = ESS*_i``, p in [0, 1], all rows at once.

``log ESS(p)`` decreases from ``log N`` at p = 0 to ``log E1`` at p = 1, so for a target inside
``[E1, E0]`` the root is bracketed by [0, 1].

- ``bisection``: halve the bracket ``iters`` times (width ``2^-iters``), comparing ``log ESS(mid)``
  with ``log ESS*``.
- ``newton`` (safeguarded): Newton's method on ``psi(p) = sqrt(log N - log ESS(p)) - sqrt(log N - log ESS*)``.
  The square root undoes the flatness at 0 (``log N - log ESS = p^2 Var(x) + O(p^3)``), so psi is close
  to linear in p and ``psi' = -(d log ESS/dp) / (2 sqrt(log N - log ESS))`` stays away from 0. The
  bracket is kept by the sign of psi; a step that leaves it is replaced by the false-position point of
  the bracket (not the midpoint, which crawls towards roots next to p = 1). Converges to ~1e-12 in
  ``log ESS`` within 4-5 iterations on realistic trajectories and within 10 on heavy-tailed ones
  (tests/loss/test_ess_solver.py).

Eager Newton stops as soon as every row has converged (one host synchronisation per iteration, free on
CPU); compiled (the default on CUDA, see :mod:`.compile`, either on its own or inside the compiled
PMPO statistics) it runs the fixed iteration count without host synchronisation. Callers snap exact
endpoints (target = E1 or E0) themselves.
"""

from __future__ import annotations

import torch

from .compile import maybe_compiled
from .ess import EssCurve, log_ess, log_ess_and_slope

SOLVERS = ("newton", "bisection")
DEFAULT_ITERS = {"newton": 10, "bisection": 40}
NEWTON_TOL = 1e-12
"""Eager Newton stops once every row has ``|psi| <= NEWTON_TOL`` (about 1e-11 in log ESS)."""
_TINY = 1e-300


def _bisection(dev: torch.Tensor, n_pad: torch.Tensor, log_target: torch.Tensor, iters: int) -> torch.Tensor:
    lo = torch.zeros_like(n_pad)
    hi = torch.ones_like(n_pad)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        above = log_ess(dev, n_pad, mid) > log_target
        lo = torch.where(above, mid, lo)
        hi = torch.where(above, hi, mid)
    return 0.5 * (lo + hi)


def _newton(dev: torch.Tensor, n_pad: torch.Tensor, log_n: torch.Tensor, log_target: torch.Tensor, iters: int) -> torch.Tensor:
    lo = torch.zeros_like(n_pad)
    hi = torch.ones_like(n_pad)
    root_target = (log_n - log_target).clamp_min(0.0).sqrt()
    psi_lo = -root_target  # psi(0)
    psi_hi = (log_n - log_ess(dev, n_pad, hi)).clamp_min(0.0).sqrt() - root_target  # psi(1)
    p = (lo + (hi - lo) * -psi_lo / (psi_hi - psi_lo).clamp_min(_TINY)).clamp(lo, hi)
    for _ in range(iters):
        value, slope = log_ess_and_slope(dev, n_pad, p)
        root = (log_n - value).clamp_min(0.0).sqrt().clamp_min(_TINY)
        psi = root - root_target
        if not torch.compiler.is_compiling() and bool((psi.abs() <= NEWTON_TOL).all()):
            break
        dpsi = -slope / (2.0 * root)
        below = psi <= 0
        lo, psi_lo = torch.where(below, p, lo), torch.where(below, psi, psi_lo)
        hi, psi_hi = torch.where(below, hi, p), torch.where(below, psi_hi, psi)
        step = p - psi / torch.where(dpsi > 0, dpsi, 1.0)
        inside = (dpsi > 0) & (step >= lo) & (step <= hi)
        false_position = (lo + (hi - lo) * -psi_lo / (psi_hi - psi_lo).clamp_min(_TINY)).clamp(lo, hi)
        p = torch.where(inside, step, false_position)
    return p


def solve_p(curve: EssCurve, log_target: torch.Tensor, solver: str = "newton", iters: int | None = None) -> torch.Tensor:
    """Solve ``log ESS_i(p) = log_target_i`` for every row; returns (B,) float64 p in [0, 1]."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    iters = DEFAULT_ITERS[solver] if iters is None else int(iters)
    if iters < 1:
        raise ValueError(f"solver_iters must be >= 1, got {iters}")
    device = curve.dev.device
    if solver == "bisection":
        return maybe_compiled("pmpo_bisection", _bisection, device)(curve.dev, curve.n_pad, log_target, iters)
    return maybe_compiled("pmpo_newton", _newton, device)(curve.dev, curve.n_pad, curve.log_n, log_target, iters)
