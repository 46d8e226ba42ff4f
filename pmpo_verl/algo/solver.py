"""Vectorised solvers for ``ESS_i(p_i) = ESS*_i``, p in [0, 1], all rows at once.

``log ESS(p)`` decreases from ``log N`` at p = 0 to ``log E1`` at p = 1, so for a target inside
``[E1, E0]`` the root is bracketed by [0, 1]. Every solver returns a :class:`Solution`: p and
``log ESS(p)`` evaluated at that very p, so the residual ``|log ESS(p) - log ESS*|`` is exact.

- ``bisection``: halve the bracket ``iters`` times (width ``2^-iters``), comparing ``log ESS(mid)``
  with ``log ESS*``; p is the midpoint of the final bracket (within ``2^-(iters+1)`` of the root),
  evaluated once more for its ``log ESS``.
- ``newton`` (safeguarded): Newton's method on ``psi(p) = sqrt(log N - log ESS(p)) - sqrt(log N - log ESS*)``.
  The square root undoes the flatness at 0 (``log N - log ESS = p^2 Var(x) + O(p^3)``), so psi is close
  to linear in p and ``psi' = -(d log ESS/dp) / (2 sqrt(log N - log ESS))`` stays away from 0. The
  bracket is kept by the sign of psi; a step that leaves it is replaced by the false-position point of
  the bracket (not the midpoint, which crawls towards roots next to p = 1), with the Illinois rule
  (the psi of an end kept twice in a row is halved) against false position's one-sided stagnation.
  A row stops (its p is frozen) once ``|psi| <= NEWTON_TOL``; after ``iters`` steps p is evaluated
  once more, so p is always an end of the row's bracket. Converges to ~1e-12 in ``log ESS`` within 4-5
  iterations on realistic trajectories and within 10 on heavy-tailed ones (tests/algo/test_ess_solver.py).
- *Fallback* (``newton``): a row still above tolerance after ``iters`` steps (rare: e.g. a few tokens
  ~20 above the rest of a long trajectory make psi nearly a step function, on which Newton stalls)
  continues from its bracket ``[lo, hi]`` by k-section: each pass evaluates the ``SECTIONS - 1`` interior
  points ``lo + j h``, ``h = (hi - lo) / SECTIONS``, in one sweep over the row
  (``e^{(lo + j h) d} = e^{lo d} (e^{h d})^j``: two exponentials per token, the rest products) and keeps
  the sub-interval where ``log ESS - log ESS*`` changes sign, until the bracket is at most ``P_TOL``
  wide. p is then an end of that bracket (the one with the smaller residual after a pass), so within
  ``P_TOL`` of the root (tests/algo/test_solver_extremes.py: within 1e-5 of a 60-step bisection on
  every row).

Every row is solved independently of the others: converged rows are frozen rather than stepped on,
and a row whose psi is not finite (NaN log-ratios or target) counts as finished, so it neither holds
up the other rows' early stop nor enters the fallback; its ``log ESS`` (so its residual) is NaN.

Eager (the CPU default, see :mod:`.compile`), Newton stops as soon as every row has stopped (one host
synchronisation per iteration, free on CPU); the fallback then costs one more check when no row needs
it, else it gathers the rows that do and stops when their brackets are narrow enough (one
synchronisation per pass). Compiled
(the default on CUDA, either on its own or inside the compiled PMPO statistics) it runs fixed counts
without host synchronisation: ``iters`` Newton steps, then ``FALLBACK_PASSES`` k-section passes over
every row, rows that need none being left unchanged by ``torch.where``. Both modes give each row the
same p (up to rounding). Callers snap exact endpoints (target = E1 or E0) themselves.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .compile import maybe_compiled
from .ess import EssCurve, log_ess, log_ess_and_slope

SOLVERS = ("newton", "bisection")
DEFAULT_ITERS = {"newton": 10, "bisection": 40}
NEWTON_TOL = 1e-12
"""A Newton row stops once ``|psi| <= NEWTON_TOL`` (about 1e-11 in log ESS)."""
P_TOL = 2.0**-18
"""The fallback narrows a bracket to at most this width (3.8e-6): p within P_TOL of the root."""
SECTIONS = 8
"""k-section: 7 interior points per pass, the bracket shrinks 8-fold (3 bisection steps) per pass."""
FALLBACK_PASSES = math.ceil(math.log2(1.0 / P_TOL) / math.log2(SECTIONS))
"""Passes that narrow the widest possible bracket, [0, 1], to P_TOL (6); the compiled count."""
_TINY = 1e-300


class Solution(NamedTuple):
    """(B,) float64 p and ``log ESS(p)`` at that p."""

    p: torch.Tensor
    log_ess: torch.Tensor


def _closer(log_target: torch.Tensor, lo, hi, v_lo, v_hi) -> Solution:
    """The end of the bracket whose ``log ESS`` is closer to the target."""
    take_lo = (v_lo - log_target).abs() <= (v_hi - log_target).abs()
    return Solution(torch.where(take_lo, lo, hi), torch.where(take_lo, v_lo, v_hi))


def _bisection(dev, n_pad, log_n, log_e1, log_target, iters: int) -> Solution:
    lo = torch.zeros_like(n_pad)
    hi = torch.ones_like(n_pad)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        above = log_ess(dev, n_pad, mid) > log_target
        lo = torch.where(above, mid, lo)
        hi = torch.where(above, hi, mid)
    p = 0.5 * (lo + hi)
    return Solution(p, log_ess(dev, n_pad, p))


def _ksection(dev, n_pad, log_target, lo, hi, v_lo, v_hi, p, value, need, passes: int, eager: bool) -> Solution:
    """Narrow the brackets ``[lo, hi]`` (``log ESS`` there: ``v_lo``, ``v_hi``) of the rows in ``need`` to
    ``P_TOL``, in at most ``passes`` passes.

    Returns, for those rows, the end of the final bracket with the smaller residual; other rows, and rows
    whose bracket is already narrow enough, keep ``(p, value)`` (an end of their bracket).
    """
    for _ in range(passes):
        go = need & (hi - lo > P_TOL)
        if eager and not bool(go.any()):
            break
        h = (hi - lo) / SECTIONS
        step = torch.exp(dev * h.unsqueeze(-1))
        e = torch.exp(dev * lo.unsqueeze(-1))
        values = [v_lo]
        for _j in range(1, SECTIONS):  # log ESS at lo + j h
            e = e * step
            s1 = (e.sum(-1) - n_pad).clamp_min(1.0)
            s2 = (e.square().sum(-1) - n_pad).clamp_min(1.0)
            values.append(2.0 * s1.log() - s2.log())
        grid = torch.stack([*values, v_hi], dim=-1)  # (B, SECTIONS + 1)
        left = (grid[:, 1:-1] > log_target.unsqueeze(-1)).sum(-1)  # interior points left of the root
        new_lo = torch.where(left == 0, lo, lo + left * h)
        new_hi = torch.where(left == SECTIONS - 1, hi, lo + (left + 1) * h)
        new_v_lo = grid.gather(-1, left.unsqueeze(-1))[:, 0]
        new_v_hi = grid.gather(-1, left.unsqueeze(-1) + 1)[:, 0]
        best = _closer(log_target, new_lo, new_hi, new_v_lo, new_v_hi)
        lo, hi = torch.where(go, new_lo, lo), torch.where(go, new_hi, hi)
        v_lo, v_hi = torch.where(go, new_v_lo, v_lo), torch.where(go, new_v_hi, v_hi)
        p, value = torch.where(go, best.p, p), torch.where(go, best.log_ess, value)
    return Solution(p, value)


def _newton(dev, n_pad, log_n, log_e1, log_target, iters: int) -> Solution:
    eager = not torch.compiler.is_compiling()
    root_target = (log_n - log_target).clamp_min(0.0).sqrt()
    # The bracket [lo, hi], log ESS there (v) and psi there (f, Illinois-scaled)
    lo, v_lo, f_lo = torch.zeros_like(n_pad), log_n, -root_target
    hi, v_hi, f_hi = torch.ones_like(n_pad), log_e1, (log_n - log_e1).clamp_min(0.0).sqrt() - root_target
    p = (lo - f_lo / (f_hi - f_lo).clamp_min(_TINY)).clamp(lo, hi)  # false position on [0, 1]
    prev_below = None
    for k in range(iters + 1):
        if k < iters:
            value, slope = log_ess_and_slope(dev, n_pad, p)
        else:
            value = log_ess(dev, n_pad, p)
        root = (log_n - value).clamp_min(0.0).sqrt().clamp_min(_TINY)
        psi = root - root_target
        below = psi <= 0  # p is left of the root (NaN: neither side; such rows are done below)
        if prev_below is not None:  # Illinois: halve psi at an end kept twice in a row
            scale = torch.where(below == prev_below, 0.5, 1.0)
            f_lo, f_hi = f_lo * scale, f_hi * scale
        prev_below = below
        lo, v_lo, f_lo = torch.where(below, p, lo), torch.where(below, value, v_lo), torch.where(below, psi, f_lo)
        hi, v_hi, f_hi = torch.where(below, hi, p), torch.where(below, v_hi, value), torch.where(below, f_hi, psi)
        done = ~(psi.abs() > NEWTON_TOL)  # NaN rows count as done
        if k == iters or (eager and bool(done.all())):
            break
        dpsi = slope / (-2.0 * root)
        ascending = dpsi > 0
        step = p - psi / torch.where(ascending, dpsi, 1.0)
        inside = ascending & (step >= lo) & (step <= hi)
        false_position = (lo - (hi - lo) * f_lo / (f_hi - f_lo).clamp_min(_TINY)).clamp(lo, hi)
        p = torch.where(done, p, torch.where(inside, step, false_position))
    need = ~done
    if not eager:
        return _ksection(dev, n_pad, log_target, lo, hi, v_lo, v_hi, p, value, need, FALLBACK_PASSES, eager=False)
    if not bool(need.any()):
        return Solution(p, value)
    rows = need.nonzero()[:, 0]
    sub = _ksection(*(t[rows] for t in (dev, n_pad, log_target, lo, hi, v_lo, v_hi, p, value)),
                    torch.ones_like(rows, dtype=torch.bool), FALLBACK_PASSES, eager=True)
    return Solution(p.index_put((rows,), sub.p), value.index_put((rows,), sub.log_ess))


def solve(
    curve: EssCurve, log_target: torch.Tensor, solver: str = "newton", iters: int | None = None,
    log_e1: torch.Tensor | None = None,
) -> Solution:
    """Solve ``log ESS_i(p) = log_target_i`` for every row: (B,) float64 p in [0, 1] and ``log ESS(p)``.

    ``log_e1``: ``curve.log_ess(1.0)`` when the caller has it already (saves one evaluation).
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    iters = DEFAULT_ITERS[solver] if iters is None else int(iters)
    if iters < 1:
        raise ValueError(f"solver_iters must be >= 1, got {iters}")
    if log_e1 is None:
        log_e1 = curve.log_ess(1.0)
    fn = _bisection if solver == "bisection" else _newton
    compiled = maybe_compiled(f"pmpo_{solver}", fn, curve.dev.device)
    return compiled(curve.dev, curve.n_pad, curve.log_n, log_e1, log_target, iters)


def solve_p(
    curve: EssCurve, log_target: torch.Tensor, solver: str = "newton", iters: int | None = None
) -> torch.Tensor:
    """Solve ``log ESS_i(p) = log_target_i`` for every row; returns (B,) float64 p in [0, 1]."""
    return solve(curve, log_target, solver, iters).p
