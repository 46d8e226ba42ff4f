"""``PMPOPolicyLossConfig``: verl's ``PolicyLossConfig`` plus the PMPO hyper-parameters.

Select it with ``actor_rollout_ref.actor.policy_loss._target_=pmpo_verl.config.PMPOPolicyLossConfig``
together with ``actor_rollout_ref.actor.policy_loss.loss_mode=pmpo`` (verl's actor yaml sets
``loss_mode: vanilla``, and a ``_target_`` override keeps it: the class refuses any other loss mode, so that
the vanilla loss cannot run with the PMPO knobs silently ignored), and set knobs with
``+actor_rollout_ref.actor.policy_loss.<field>=<value>``. The defaults are those of
:class:`pmpo_verl.algo.PMPOSettings`; values are validated when the config is built, so a typo fails
at start-up in the worker that builds the actor config, not in the middle of training.
"""

from __future__ import annotations

from dataclasses import dataclass

from verl.workers.config.actor import PolicyLossConfig

from .algo.objective import PMPOSettings
from .command_check import loss_mode_error

_DEFAULTS = PMPOSettings()


@dataclass
class PMPOPolicyLossConfig(PolicyLossConfig):
    """Policy-loss config for ``loss_mode=pmpo``.

    Args:
        p_mode: ``"adaptive"`` (clip-aware ESS rule per trajectory) or ``"fixed"`` (``p`` for all).
        p: exponent when ``p_mode="fixed"``; 1 = GRPO with the log-space token clip, 0 = GMPO.
        clip_mode: clip fraction c_i: ``"active"`` (tokens the sign-aware clip changed) or ``"two_sided"``.
        ess_on: ESS of the ``"clipped"`` log-ratios (the ones in M_p) or the ``"raw"`` ones.
        target_rule: ``"interp"``: ESS* = E1 + g(c)(E0 - E1); ``"normalized"``: ESS*/N = nu0 + (1 - nu0) g(c).
        target_nu0: nu0 of the ``"normalized"`` rule.
        clip_saturation: c_sat, the clip fraction from which p = 0; g(c) = clamp(c / c_sat, 0, 1) ** gamma.
        target_gamma: gamma of g(c).
        solver: ``"newton"`` (safeguarded) or ``"bisection"``.
        solver_iters: iterations (None: 10 for newton, 40 for bisection).
        p_small: below this p the power mean uses its 2nd-order Taylor form.
        degenerate_p: p reported for trajectories whose ratios are all equal (p has no effect there).
    """

    loss_mode: str = "pmpo"
    p_mode: str = _DEFAULTS.p_mode
    p: float = _DEFAULTS.p
    clip_mode: str = _DEFAULTS.clip_mode
    ess_on: str = _DEFAULTS.ess_on
    target_rule: str = _DEFAULTS.target_rule
    target_nu0: float = _DEFAULTS.target_nu0
    clip_saturation: float = _DEFAULTS.clip_saturation
    target_gamma: float = _DEFAULTS.target_gamma
    solver: str = _DEFAULTS.solver
    solver_iters: int | None = _DEFAULTS.solver_iters
    p_small: float = _DEFAULTS.p_small
    degenerate_p: float = _DEFAULTS.degenerate_p

    def __post_init__(self) -> None:
        parent_post_init = getattr(super(), "__post_init__", None)
        if parent_post_init is not None:
            parent_post_init()
        if self.loss_mode != "pmpo":
            raise ValueError(loss_mode_error(self.loss_mode))
        self.settings(eps_low=_DEFAULTS.eps_low, eps_high=_DEFAULTS.eps_high)  # validates the knobs
        # The worker that builds this config computes the loss: make sure it is registered there. verl's entry
        # point has normally imported pmpo_verl.register already (then this is a lookup in sys.modules); where
        # entry points are disabled this registers the loss, and where the entry point failed (verl hides the
        # error) it raises the real import error here, at start-up.
        from . import register  # noqa: F401

    def settings(self, eps_low: float, eps_high: float) -> PMPOSettings:
        """The objective's settings for the given log-space clip bounds."""
        return PMPOSettings.from_mapping(self, eps_low, eps_high)

