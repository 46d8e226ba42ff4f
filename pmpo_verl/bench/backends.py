"""The compared loss methods and the two ways of calling them.

With verl importable the losses are verl's own (:class:`VerlBackend`: ``get_policy_loss_fn``, the actor
config built the way verl's tests do and ``global_batch_info`` filled like ``ppo_loss``; ``pmpo`` from the
plugin). Without verl (a bare GPU box with torch only) ``vanilla`` / ``geo_mean`` are verl 0.9.1's math
re-implemented (:mod:`.baselines`) and PMPO runs through ``pmpo_verl.trajectory_loss``, the verl-free code
that the plugin's loss runs too, with the same aggregation (:class:`InlineBackend`).

A backend's ``make_call`` returns what verl's ``ppo_loss`` does per micro-batch minus the backward: a
closure returning ``(loss, metrics)``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any

import torch

from ..algo import PMPOSettings
from . import baselines
from .baselines import CLIP_RATIO_C_OFF, EPS_LOG, VANILLA_BAND, LossCall, LossResult, batch_info_for
from .inputs import LossBatch


@dataclass(frozen=True)
class Method:
    """One compared loss: its key (in reports), label (in the table), verl loss mode and PMPO knobs."""

    key: str
    label: str
    loss_mode: str  # vanilla | geo_mean | pmpo
    knobs: dict[str, Any] = field(default_factory=dict)


METHODS = [
    Method("vanilla", "vanilla", "vanilla"),
    Method("geo_mean", "geo_mean", "geo_mean"),
    Method("pmpo_p1", "PMPO fixed p=1", "pmpo", {"p_mode": "fixed", "p": 1.0}),
    Method("pmpo_p0", "PMPO fixed p=0", "pmpo", {"p_mode": "fixed", "p": 0.0}),
    Method("pmpo_adaptive", "PMPO adaptive (newton)", "pmpo", {"p_mode": "adaptive", "solver": "newton"}),
    Method("pmpo_adaptive_bisect", "PMPO adaptive (bisection)", "pmpo",
           {"p_mode": "adaptive", "solver": "bisection"}),
]
METHOD = {m.key: m for m in METHODS}


class VerlBackend:
    """verl 0.9.1's registry: ``get_policy_loss_fn(loss_mode)`` with a real ``ActorConfig``."""

    name = "verl"

    def __init__(self) -> None:
        import verl
        from verl.trainer.ppo.core_algos import POLICY_LOSS_REGISTRY, get_policy_loss_fn
        from verl.workers.config.actor import ActorConfig, PolicyLossConfig

        from ..config import PMPOPolicyLossConfig  # registers loss_mode=pmpo (pmpo_verl.register)

        self.get_policy_loss_fn = get_policy_loss_fn
        self.actor_config, self.policy_loss_config = ActorConfig, PolicyLossConfig
        self.pmpo_policy_loss_config = PMPOPolicyLossConfig
        if "pmpo" not in POLICY_LOSS_REGISTRY:
            raise RuntimeError("pmpo is not in verl's POLICY_LOSS_REGISTRY after importing pmpo_verl.config")
        self.description = (f"verl {getattr(verl, '__version__', '?')} registry: get_policy_loss_fn("
                            f"'vanilla'|'geo_mean'|'pmpo') with verl.workers.config.actor.ActorConfig")

    def config(self, method: Method, mask: torch.Tensor) -> Any:
        """The ``ActorConfig`` of ``method`` with ``global_batch_info`` for one micro-batch ``mask``."""
        common = dict(strategy="fsdp", rollout_n=1, ppo_micro_batch_size_per_gpu=1,
                      loss_agg_mode="seq-mean-token-mean")
        if method.loss_mode == "vanilla":
            cfg = self.actor_config(**common, clip_ratio_low=VANILLA_BAND[0], clip_ratio_high=VANILLA_BAND[1],
                                    clip_ratio_c=CLIP_RATIO_C_OFF,
                                    policy_loss=self.policy_loss_config(loss_mode="vanilla"))
        elif method.loss_mode == "geo_mean":
            cfg = self.actor_config(**common, clip_ratio_low=EPS_LOG, clip_ratio_high=EPS_LOG,
                                    policy_loss=self.policy_loss_config(loss_mode="geo_mean"))
        else:
            cfg = self.actor_config(**common, clip_ratio_low=EPS_LOG, clip_ratio_high=EPS_LOG,
                                    policy_loss=self.pmpo_policy_loss_config(**method.knobs))
        info = batch_info_for(mask)
        info["loss_scale_factor"] = cfg.loss_scale_factor
        cfg.global_batch_info.update(info)
        return cfg

    def make_call(self, method: Method, batch: LossBatch) -> LossCall:
        """verl's registered loss of ``method`` on ``batch``, as ``ppo_loss`` calls it."""
        cfg = self.config(method, batch.mask)
        fn = self.get_policy_loss_fn(method.loss_mode)

        def call() -> LossResult:
            return fn(old_log_prob=batch.old_log_prob, log_prob=batch.log_prob, advantages=batch.advantages,
                      response_mask=batch.mask, loss_agg_mode=cfg.loss_agg_mode, config=cfg,
                      rollout_is_weights=None)

        return call


class InlineBackend:
    """No verl: inline re-implementations of verl 0.9.1 ``vanilla``/``geo_mean``; PMPO via
    ``pmpo_verl.trajectory_loss``."""

    name = "inline"
    description = ("inline reference losses (verl 0.9.1 vanilla/geo_mean math re-implemented in "
                   "pmpo_verl.bench.baselines) + pmpo_verl.trajectory_loss with seq-mean-token-mean "
                   "aggregation")

    def make_call(self, method: Method, batch: LossBatch) -> LossCall:
        """The inline loss of ``method`` on ``batch`` (same inputs and aggregation as verl's)."""
        tensors = (batch.old_log_prob, batch.log_prob, batch.advantages, batch.mask)
        info = batch_info_for(batch.mask)
        if method.loss_mode == "vanilla":
            return lambda: baselines.vanilla(*tensors, "seq-mean-token-mean", *VANILLA_BAND, CLIP_RATIO_C_OFF,
                                             info)
        if method.loss_mode == "geo_mean":
            return lambda: baselines.geo_mean(*tensors, EPS_LOG, EPS_LOG)
        settings = PMPOSettings(eps_low=EPS_LOG, eps_high=EPS_LOG, **method.knobs)
        return lambda: baselines.inline_pmpo(*tensors, settings, info)


Backend = VerlBackend | InlineBackend


def load_backend(impl: str) -> Backend:
    """``inline``, ``verl`` (an error without verl) or ``auto`` (verl's registry when verl is importable)."""
    if impl == "inline":
        return InlineBackend()
    if importlib.util.find_spec("verl") is None:
        if impl == "verl":
            raise SystemExit("--impl verl: verl is not importable")
        return InlineBackend()
    return VerlBackend()  # verl is installed: import errors here are real errors, not a reason to fall back

