"""The Hydra overrides that select PMPO or a baseline in ``verl.trainer.main_ppo``: the one home of them.

The CLI (``pmpo-verl overrides``), the CPU demo and the GPU recipes (``examples/common.sh``, which calls
``pmpo-verl overrides --lines``) all read this module, so the methods compared in a run differ only in
what is written here. Importing it is cheap (no verl, no torch): the recipes run it in every dry run.
"""

from __future__ import annotations

CLIP_RATIO = 0.4
"""Log-space clip epsilon on both sides (GMPO's and the paper's): the ratio band (e^-0.4, e^0.4)."""

VANILLA_CLIP_RATIO = 0.2
"""verl's own GRPO loss clips the ratio itself (0.8, 1.2): its stock setting, for the reference run."""

PMPO_TARGET = "pmpo_verl.config.PMPOPolicyLossConfig"
"""The policy-loss config class that carries the PMPO knobs (``policy_loss._target_``)."""

PLUGIN_OVERRIDES = (
    "algorithm.adv_estimator=pmpo",
    "actor_rollout_ref.actor.policy_loss.loss_mode=pmpo",
    # without _target_ the PMPO knobs have nowhere to go (verl's PolicyLossConfig lacks them)
    f"actor_rollout_ref.actor.policy_loss._target_={PMPO_TARGET}",
)
"""Switch verl to the plugin's advantage hook and loss (both registered by ``pmpo_verl.register``)."""

_FIXED = "+actor_rollout_ref.actor.policy_loss.p_mode=fixed"
PLUGIN_METHODS = {
    "pmpo": (),  # adaptive p per trajectory
    "grpo": (_FIXED, "+actor_rollout_ref.actor.policy_loss.p=1"),  # arithmetic mean: GRPO with the log clip
    "gmpo": (_FIXED, "+actor_rollout_ref.actor.policy_loss.p=0"),  # geometric mean
}
"""Methods run by the plugin's loss: they differ only in p, so the comparison isolates the power mean."""

VANILLA = (
    "algorithm.adv_estimator=pmpo",  # the same advantage hook and reward as the plugin methods
    "actor_rollout_ref.actor.policy_loss.loss_mode=vanilla",
    "actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-mean",
)
"""verl's own GRPO loss (ratio clip, per-sequence token mean), for reference."""

METHODS = (*PLUGIN_METHODS, "vanilla")


def overrides_for(method: str = "pmpo", clip_ratio: float | None = None) -> list[str]:
    """Hydra overrides that switch a ``main_ppo`` command to ``method`` (one of :data:`METHODS`), with the
    clip ``clip_ratio`` on both sides (default :data:`CLIP_RATIO`, :data:`VANILLA_CLIP_RATIO` for vanilla)."""
    if method == "vanilla":
        base, default_clip = VANILLA, VANILLA_CLIP_RATIO
    elif method in PLUGIN_METHODS:
        base, default_clip = PLUGIN_OVERRIDES, CLIP_RATIO
    else:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    clip = default_clip if clip_ratio is None else clip_ratio
    clips = [f"actor_rollout_ref.actor.clip_ratio_{side}={clip}" for side in ("low", "high")]
    return [*base, *clips, *PLUGIN_METHODS.get(method, ())]
