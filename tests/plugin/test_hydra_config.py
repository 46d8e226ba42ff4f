"""The documented overrides compose against verl 0.9.1's real Hydra config and build the actor config
dataclass exactly as ``ActorRolloutRefWorker.init_model`` does."""

import os

import pytest
import verl
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from verl.utils.config import omega_conf_to_dataclass

from pmpo_verl.config import PMPOPolicyLossConfig

CONFIG_DIR = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
PLUGIN = [
    "algorithm.adv_estimator=pmpo",
    "actor_rollout_ref.actor.policy_loss.loss_mode=pmpo",
    "actor_rollout_ref.actor.policy_loss._target_=pmpo_verl.config.PMPOPolicyLossConfig",
    "actor_rollout_ref.actor.clip_ratio_low=0.4",
    "actor_rollout_ref.actor.clip_ratio_high=0.4",
    "actor_rollout_ref.actor.ppo_mini_batch_size=16",
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4",
    "actor_rollout_ref.rollout.n=8",
]


def compose_ppo(overrides, config_name="ppo_trainer"):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        return compose(config_name=config_name, overrides=overrides)


def actor_dataclass(cfg):
    return omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)


def test_plugin_overrides_build_the_pmpo_config_with_knobs():
    knobs = [
        "+actor_rollout_ref.actor.policy_loss.clip_saturation=0.05",
        "+actor_rollout_ref.actor.policy_loss.target_gamma=2",
        "+actor_rollout_ref.actor.policy_loss.solver=bisection",
        "+actor_rollout_ref.actor.policy_loss.solver_iters=30",
        "+actor_rollout_ref.actor.policy_loss.clip_mode=two_sided",
        "+algorithm.pmpo_adv_eps=1e-8",
        "+algorithm.pmpo_truncated_reward_zero=True",
    ]
    cfg = compose_ppo(PLUGIN + knobs)
    actor = actor_dataclass(cfg)
    pl = actor.policy_loss
    assert isinstance(pl, PMPOPolicyLossConfig) and pl.loss_mode == "pmpo"
    assert (pl.clip_saturation, pl.target_gamma, pl.solver, pl.solver_iters, pl.clip_mode) == (
        0.05,
        2,
        "bisection",
        30,
        "two_sided",
    )
    assert pl.p_mode == "adaptive" and pl.ess_on == "clipped"  # untouched knobs keep their defaults
    settings = pl.settings(actor.clip_ratio_low, actor.clip_ratio_high)
    assert settings.eps_low == settings.eps_high == 0.4 and settings.target_gamma == 2.0
    assert cfg.algorithm.adv_estimator == "pmpo" and cfg.algorithm.get("pmpo_adv_eps") == 1e-8


@pytest.mark.parametrize("p", ["0", "1", "0.5"])
def test_fixed_p_baselines(p):
    cfg = compose_ppo(
        PLUGIN + ["+actor_rollout_ref.actor.policy_loss.p_mode=fixed", f"+actor_rollout_ref.actor.policy_loss.p={p}"]
    )
    pl = actor_dataclass(cfg).policy_loss
    assert pl.p_mode == "fixed" and float(pl.p) == float(p)


def test_megatron_config_accepts_the_same_overrides():
    cfg = compose_ppo(
        PLUGIN + ["+actor_rollout_ref.actor.policy_loss.p_mode=fixed"], config_name="ppo_megatron_trainer"
    )
    assert isinstance(actor_dataclass(cfg).policy_loss, PMPOPolicyLossConfig)


def test_bad_knob_value_fails_when_the_config_is_built():
    cfg = compose_ppo(PLUGIN + ["+actor_rollout_ref.actor.policy_loss.solver=brent"])
    with pytest.raises(Exception, match="solver must be one of"):
        actor_dataclass(cfg)


def test_knob_without_target_or_plus_is_rejected():
    """The traps of docs/verl-internals.md#6-extra-hyper-parameters-a-policylossconfig-subclass: a knob
    needs both the `+` and the `_target_` override."""
    with pytest.raises(ConfigCompositionException):
        compose_ppo(PLUGIN[:2] + ["actor_rollout_ref.actor.policy_loss.clip_saturation=0.1"])
    cfg = compose_ppo(PLUGIN[:2] + ["+actor_rollout_ref.actor.policy_loss.clip_saturation=0.1"])
    with pytest.raises(Exception, match="clip_saturation"):
        actor_dataclass(cfg)
