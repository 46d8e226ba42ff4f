"""The per-trajectory PMPO objective (Zhao et al., arXiv 2601.22521), verl-independent.

For trajectory i with sequence advantage A_i, valid tokens t = 1..N_i and log-ratios
``l_t = log pi_theta - log pi_old``:

    l~   = sign-aware log-space clip of l                       (GMPO's token clip)
    c_i  = clip fraction,  E0 = N_i,  E1 = ESS_i(1)             (no grad)
    ESS* = target_ess(c_i)                                      (clip-aware rule, reconstruction)
    p_i  = solve ESS_i(p) = ESS*                                (no grad; or a fixed p)
    L_i  = -A_i * M_{p_i}(exp(l~_i))                            (M_p: power mean, log-space stable)

p = 1 is GRPO's token-clipped arithmetic mean, p = 0 GMPO's geometric mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import torch

from .clip import CLIP_MODES, clip_fraction, sign_aware_clip
from .compile import maybe_compiled
from .ess import EssCurve
from .power_mean import log_power_mean_and_derivative
from .solver import SOLVERS, solve
from .target import TARGET_RULES, target_ess, target_fraction

P_MODES = ("adaptive", "fixed")
ESS_INPUTS = ("clipped", "raw")
LOG_RATIO_CLAMP = 20.0
"""Raw log-ratios are clamped to +-20 before anything else (as verl's ``vanilla`` does): losses and
gradients stay finite for any input, and values inside the band are untouched."""
DEGENERATE_TOL = 1e-6
"""A trajectory is degenerate when ``1 - E1 / E0 < DEGENERATE_TOL``: its ratios are (numerically) all
equal, e.g. the on-policy first mini-batch, so p cannot change its loss or gradient."""


@dataclass(frozen=True)
class PMPOSettings:
    """Hyper-parameters of the objective. Field meanings: README, "Configuration"."""

    eps_low: float = 0.4
    eps_high: float = 0.4
    p_mode: str = "adaptive"
    p: float = 1.0
    clip_mode: str = "active"
    ess_on: str = "clipped"
    target_rule: str = "interp"
    target_nu0: float = 0.9
    clip_saturation: float = 0.1
    target_gamma: float = 1.0
    solver: str = "newton"
    solver_iters: int | None = None
    p_small: float = 1e-4
    degenerate_p: float = 1.0

    def __post_init__(self) -> None:
        choices = {
            "p_mode": P_MODES,
            "clip_mode": CLIP_MODES,
            "ess_on": ESS_INPUTS,
            "target_rule": TARGET_RULES,
            "solver": SOLVERS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"PMPO: {name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("p", "degenerate_p", "target_nu0"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"PMPO: {name} must lie in [0, 1], got {getattr(self, name)}")
        for name in ("eps_low", "eps_high", "clip_saturation", "target_gamma"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"PMPO: {name} must be a positive finite number, got {value}")
        if not 0.0 <= self.p_small < 0.1:
            raise ValueError(f"PMPO: p_small must lie in [0, 0.1), got {self.p_small}")
        if self.solver_iters is not None and int(self.solver_iters) < 1:
            raise ValueError(
                f"PMPO: solver_iters must be >= 1 (or None for the solver's default), got {self.solver_iters}"
            )

    @classmethod
    def from_mapping(cls, knobs: Mapping[str, Any], eps_low: float, eps_high: float) -> PMPOSettings:
        """Settings from a mapping-like config (e.g. verl's policy-loss config); absent knobs keep defaults."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in ("eps_low", "eps_high") or knobs.get(f.name) is None:
                continue
            values[f.name] = knobs.get(f.name)
            if f.name == "solver_iters":
                values[f.name] = int(values[f.name])
            elif f.type == "float":
                values[f.name] = float(values[f.name])
        return cls(eps_low=float(eps_low), eps_high=float(eps_high), **values)


@dataclass
class PMPOOutput:
    """Per-trajectory results (all (B,)). Only ``seq_loss`` and ``log_ratio_mean`` carry gradients."""

    seq_loss: torch.Tensor  # L_i = -A_i M_{p_i}; 0 for empty rows
    log_ratio_mean: torch.Tensor  # log M_{p_i}(r~_i)
    p: torch.Tensor  # exponent used (float64)
    clip_frac: torch.Tensor  # c_i
    ess_norm: torch.Tensor  # ESS_i(p_i) / N_i
    e1_norm: torch.Tensor  # ESS_i(1) / N_i
    target_ess_norm: torch.Tensor  # ESS*_i / N_i (fixed mode: ESS_i(p) / N_i)
    active: torch.Tensor  # bool: N_i >= 1 and A_i != 0
    degenerate: torch.Tensor  # bool: active and 1 - E1/E0 < DEGENERATE_TOL (or N_i = 1)
    clipped_tokens: torch.Tensor  # bool (B, T): tokens whose gradient the clip removed
    solver_residual: torch.Tensor  # |log ESS_i(p_i) - log ESS*_i| (float64) if the solver chose p_i, else 0
    # (NaN on a row whose log-ratios are not finite)

    def statistics(self) -> Statistics:
        """The no-grad fields as :class:`Statistics` (by name), e.g. to pass them to a compiled function."""
        return Statistics(**{name: getattr(self, name) for name in Statistics._fields})


def sequence_advantage(advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean of each row of a (B, T) advantage tensor; 0 for empty rows."""
    maskf = mask.to(advantages.dtype)
    return (advantages * maskf).sum(-1) / maskf.sum(-1).clamp_min(1.0)


def pmpo_objective(
    log_ratio: torch.Tensor, seq_adv: torch.Tensor, mask: torch.Tensor, settings: PMPOSettings
) -> PMPOOutput:
    """Per-trajectory PMPO losses and statistics.

    Args:
        log_ratio: (B, T) ``log pi_theta - log pi_old`` (requires grad); computed in at least fp32.
        seq_adv: (B,) sequence advantages (no grad).
        mask: (B, T) bool, valid response tokens.
        settings: hyper-parameters.

    Two no-grad parts, each compiled with ``torch.compile`` on CUDA (see :mod:`.compile`): the statistics
    that choose p, and the per-trajectory loss with its closed-form token derivative, which the backward
    pass only rescales (:class:`_SequenceLoss`). (Compiled as one graph with autograd, inductor fused them
    into a reduction kernel that Triton 3.x failed to build on Hopper; apart, both compile.)
    """
    if log_ratio.dtype not in (torch.float32, torch.float64):
        log_ratio = log_ratio.float()
    mask = mask.to(torch.bool)
    seq_adv = seq_adv.detach().to(log_ratio.dtype)
    statistics = maybe_compiled("pmpo_statistics", _statistics, log_ratio.device)
    stats = statistics(log_ratio.detach(), seq_adv, mask, settings)
    # One element of log_ratio, copied: ties _SequenceLoss's gradient to log_ratio's graph (see there).
    anchor = log_ratio[:1, :1].clone() if log_ratio.requires_grad and torch.is_grad_enabled() else None
    seq_loss, log_mean = _SequenceLoss.apply(log_ratio, seq_adv, mask, stats.p, settings, anchor)
    return PMPOOutput(seq_loss=seq_loss, log_ratio_mean=log_mean, **stats._asdict())


class Statistics(NamedTuple):
    """The no-grad fields of :class:`PMPOOutput` (same names and meanings), as :func:`_statistics`
    returns them: a NamedTuple, so that the compiled part returns it (and the compiled metrics take it)
    as one pytree. A new statistic is one field here and one in :class:`PMPOOutput` (same name)."""

    p: torch.Tensor
    clip_frac: torch.Tensor
    ess_norm: torch.Tensor
    e1_norm: torch.Tensor
    target_ess_norm: torch.Tensor
    active: torch.Tensor
    degenerate: torch.Tensor
    clipped_tokens: torch.Tensor
    solver_residual: torch.Tensor


class _Clipped(NamedTuple):
    """The objective's inputs after masking and clipping, all (B, T) but ``seq_adv`` (B,)."""

    log_ratio: torch.Tensor  # masked (0 on padding), clamped to +-LOG_RATIO_CLAMP
    seq_adv: torch.Tensor  # 0 for empty rows
    clipped: torch.Tensor  # l~, the sign-aware clip of log_ratio
    clipped_tokens: torch.Tensor  # bool, valid tokens whose gradient the clip removes


def _clipped(
    log_ratio: torch.Tensor, seq_adv: torch.Tensor, mask: torch.Tensor, settings: PMPOSettings
) -> _Clipped:
    """Masked, clamped raw log-ratios, sequence advantages (0 for empty rows), clipped log-ratios and
    the clipped-token indicator."""
    seq_adv = torch.where(mask.any(-1), seq_adv, 0.0)
    log_ratio = torch.where(mask, log_ratio, 0.0).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
    clipped, clipped_tokens = sign_aware_clip(log_ratio, seq_adv, settings.eps_low, settings.eps_high)
    return _Clipped(log_ratio=log_ratio, seq_adv=seq_adv, clipped=clipped,
                    clipped_tokens=clipped_tokens & mask)


def _statistics(
    log_ratio: torch.Tensor, seq_adv: torch.Tensor, mask: torch.Tensor, settings: PMPOSettings
) -> Statistics:
    """p per trajectory and the statistics around it (PMPOOutput's no-grad fields)."""
    with torch.no_grad():
        return _statistics_no_grad(log_ratio, seq_adv, mask, settings)


def _statistics_no_grad(
    log_ratio: torch.Tensor, seq_adv: torch.Tensor, mask: torch.Tensor, settings: PMPOSettings
) -> Statistics:
    inputs = _clipped(log_ratio, seq_adv, mask, settings)
    n = mask.sum(-1)
    active = (n > 0) & (inputs.seq_adv != 0)
    clip_frac = clip_fraction(inputs.log_ratio, inputs.clipped_tokens, mask, settings.clip_mode,
                              settings.eps_low, settings.eps_high)
    curve = EssCurve(inputs.clipped if settings.ess_on == "clipped" else inputs.log_ratio, mask)
    log_e1 = curve.log_ess(1.0)
    degenerate = active & ((n <= 1) | (-torch.expm1(log_e1 - curve.log_n) < DEGENERATE_TOL))
    n64 = curve.n.clamp_min(1.0)
    if settings.p_mode == "fixed":
        p = torch.full_like(n64, settings.p)
        target = None
        residual = torch.zeros_like(n64)
        # ESS(1) = E1 and ESS(0) = N are already known: evaluate the curve only for other p.
        if settings.p in (0.0, 1.0):
            log_ess_p = log_e1 if settings.p == 1.0 else curve.log_n
        else:
            log_ess_p = curve.log_ess(p)
    else:
        ess1 = log_e1.exp()
        g = target_fraction(clip_frac, settings.clip_saturation, settings.target_gamma)
        target = target_ess(n64, ess1, g, settings.target_rule, settings.target_nu0)
        log_target = target.log()
        solution = solve(curve, log_target, settings.solver, settings.solver_iters, log_e1)
        # Rows whose p the solver chooses: target strictly inside (E1, E0), active, not degenerate (rows
        # whose log-ratios are not finite count too: their residual is NaN).
        endpoint = (target <= ess1) | (target >= n64) | degenerate | ~active
        residual = torch.where(endpoint, 0.0, (solution.log_ess - log_target).abs())
        p = torch.where(target <= ess1, 1.0, torch.where(target >= n64, 0.0, solution.p.clamp(0.0, 1.0)))
        p = torch.where(degenerate | ~active, settings.degenerate_p, p)
        # The solver returns log ESS at its p (no extra evaluation of the curve); the endpoints are exact
        # (E1 at p = 1, N at p = 0).
        log_ess_p = torch.where(p >= 1.0, log_e1, torch.where(p <= 0.0, curve.log_n, solution.log_ess))
        if 0.0 < settings.degenerate_p < 1.0:  # rows forced to degenerate_p: evaluate them
            log_ess_p = torch.where(degenerate | ~active, curve.log_ess(p), log_ess_p)
    ess_norm = (log_ess_p - curve.log_n).exp()
    target_norm = ess_norm if target is None else target / n64
    e1_norm = (log_e1 - curve.log_n).exp()
    return Statistics(p=p, clip_frac=clip_frac, ess_norm=ess_norm, e1_norm=e1_norm,
                      target_ess_norm=target_norm, active=active, degenerate=degenerate,
                      clipped_tokens=inputs.clipped_tokens, solver_residual=residual)


class _SequenceLossParts(NamedTuple):
    """What :func:`_sequence_loss` computes without autograd."""

    seq_loss: torch.Tensor  # (B,) L_i = -A_i M_{p_i}
    log_mean: torch.Tensor  # (B,) log M_{p_i}
    token_derivative: torch.Tensor  # (B, T) D_{i,t} = d log M_{p_i} / d l_{i,t}


def _sequence_loss(
    log_ratio: torch.Tensor, seq_adv: torch.Tensor, mask: torch.Tensor, p: torch.Tensor,
    settings: PMPOSettings,
) -> _SequenceLossParts:
    """``(L_i = -A_i M_{p_i}, log M_{p_i}, D)`` with ``D_{i,t} = d log M_{p_i} / d l_{i,t}``, all without
    autograd.

    ``D = (d log M_p / d l~_t) * (d l~_t / d l_t)``: the first factor in closed form
    (:func:`.power_mean.log_power_mean_and_derivative`), the second 1 for a valid token that neither the
    sign-aware clip nor the +-20 clamp changed, else 0 (``torch.clamp``'s subgradient, boundaries included).
    """
    inputs = _clipped(log_ratio, seq_adv, mask, settings)
    log_mean, derivative = log_power_mean_and_derivative(inputs.clipped, mask, p, settings.p_small)
    passes = ~inputs.clipped_tokens & (log_ratio.abs() <= LOG_RATIO_CLAMP)
    return _SequenceLossParts(seq_loss=-inputs.seq_adv * torch.exp(log_mean), log_mean=log_mean,
                              token_derivative=torch.where(passes, derivative, 0.0))


class _SequenceLoss(torch.autograd.Function):
    """``(L, log M)`` of :func:`_sequence_loss` with a closed-form backward.

    Since ``L_i = -A_i exp(log M_i)``, ``dL_i / d log M_i = L_i``, so

        d/d l_{i,t} = (gL_i * L_i + g_logM_i) * D_{i,t}

    The forward saves ``D`` (one tensor of the input's shape) and the backward is one broadcast multiply,
    instead of autograd replaying the power mean's ~20 ops (a second compiled graph on CUDA).

    The backward is first-order only (``D`` is a constant to it). Under ``create_graph=True`` it returns
    its gradient through :class:`_FirstOrderOnly`, whose backward raises, linked to ``log_ratio``'s graph
    by ``anchor`` (a one-element copy of ``log_ratio``; it keeps no (B, T) storage alive), so a second
    derivative (double backward, a Hessian-vector product) fails with a clear error instead of
    silently returning a wrong value. ``torch.autograd.function.once_differentiable`` would not do: when
    the incoming gradients do not require grad (the usual Hessian-vector product) it returns a constant,
    and a loss with other terms then differentiates twice to a wrong value. First-order gradients are
    unchanged.
    """

    @staticmethod
    def forward(ctx, log_ratio, seq_adv, mask, p, settings, anchor=None):  # type: ignore[override]
        sequence_loss = maybe_compiled("pmpo_sequence_loss", _sequence_loss, log_ratio.device)
        parts = sequence_loss(log_ratio, seq_adv, mask, p, settings)
        ctx.save_for_backward(parts.seq_loss, parts.token_derivative, anchor)
        ctx.set_materialize_grads(False)
        return parts.seq_loss, parts.log_mean

    @staticmethod
    def backward(ctx, grad_loss, grad_log_mean):  # type: ignore[override]
        create_graph = torch.is_grad_enabled()
        seq_loss, token_derivative, anchor = ctx.saved_tensors
        with torch.no_grad():
            row = None if grad_loss is None else grad_loss * seq_loss
            if grad_log_mean is not None:
                row = grad_log_mean if row is None else row + grad_log_mean
            grad = None if row is None else row.unsqueeze(-1) * token_derivative
        if create_graph and grad is not None and anchor is not None:
            grad = _FirstOrderOnly.apply(grad, anchor)
        return grad, None, None, None, None, None


class _FirstOrderOnly(torch.autograd.Function):
    """Identity whose backward raises: marks :class:`_SequenceLoss`'s gradient as not differentiable."""

    @staticmethod
    def forward(ctx, grad, anchor):  # type: ignore[override]
        return grad.clone()

    @staticmethod
    def backward(ctx, _):  # type: ignore[override]
        raise RuntimeError(
            "PMPO's loss has a closed-form first-order backward only: second derivatives through it "
            "(double backward, Hessian-vector products) are not supported"
        )
