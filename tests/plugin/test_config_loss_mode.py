"""``PMPOPolicyLossConfig`` refuses any loss_mode but ``pmpo``, through verl 0.9.1's real Hydra composition and
``omega_conf_to_dataclass`` (what ``ActorRolloutRefWorker.init_model`` does, verl/workers/engine_workers.py:593)."""

import dataclasses
import os

import pytest
import verl
from hydra import compose, initialize_config_dir
from verl.utils.config import omega_conf_to_dataclass
from verl.workers.config.actor import PolicyLossConfig

from pmpo_verl.command_check import PMPO_KNOBS, loss_mode_error
from pmpo_verl.config import PMPOPolicyLossConfig

CONFIG_DIR = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
TARGET = "actor_rollout_ref.actor.policy_loss._target_=pmpo_verl.config.PMPOPolicyLossConfig"
LOSS_MODE = "actor_rollout_ref.actor.policy_loss.loss_mode=pmpo"
COMMON = ["algorithm.adv_estimator=pmpo", "actor_rollout_ref.actor.ppo_mini_batch_size=16",
          "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4", "actor_rollout_ref.rollout.n=8"]
KNOB = "+actor_rollout_ref.actor.policy_loss.clip_saturation=0.05"
MESSAGE = ("PMPOPolicyLossConfig needs loss_mode=pmpo, got 'vanilla': "
           "add actor_rollout_ref.actor.policy_loss.loss_mode=pmpo")


def compose_ppo(overrides, config_name="ppo_trainer"):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        return compose(config_name=config_name, overrides=overrides)


@pytest.mark.parametrize("config_name", ["ppo_trainer", "ppo_megatron_trainer"])
def test_verl_defaults_to_vanilla_and_a_target_override_keeps_it(config_name):
    """The trap: the yaml sets loss_mode=vanilla (verl/trainer/config/actor/actor.yaml:61) and overriding
    only ``_target_`` keeps it."""
    assert compose_ppo(COMMON, config_name).actor_rollout_ref.actor.policy_loss.loss_mode == "vanilla"
    cfg = compose_ppo(COMMON + [TARGET, KNOB], config_name)
    assert cfg.actor_rollout_ref.actor.policy_loss.loss_mode == "vanilla"


@pytest.mark.parametrize("config_name", ["ppo_trainer", "ppo_megatron_trainer"])
def test_target_and_knobs_without_loss_mode_fail_when_the_actor_config_is_built(config_name):
    cfg = compose_ppo(COMMON + [TARGET, KNOB], config_name)
    with pytest.raises(Exception) as info:
        omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    assert MESSAGE in str(info.value)


@pytest.mark.parametrize("config_name", ["ppo_trainer", "ppo_megatron_trainer"])
def test_the_correct_command_still_builds(config_name):
    actor = omega_conf_to_dataclass(
        compose_ppo(COMMON + [LOSS_MODE, TARGET, KNOB], config_name).actor_rollout_ref.actor
    )
    assert isinstance(actor.policy_loss, PMPOPolicyLossConfig)
    assert actor.policy_loss.loss_mode == "pmpo" and actor.policy_loss.clip_saturation == 0.05


@pytest.mark.parametrize("loss_mode", ["vanilla", "geo_mean", "bypass_mode", "PMPO"])
def test_direct_construction_refuses_other_loss_modes(loss_mode):
    with pytest.raises(ValueError) as info:
        PMPOPolicyLossConfig(loss_mode=loss_mode)
    assert str(info.value) == loss_mode_error(loss_mode) and "\n" not in str(info.value)
    assert PMPOPolicyLossConfig().loss_mode == "pmpo"  # the default is pmpo


def test_no_other_verl_config_builds_the_pmpo_class():
    """ref and critic have no policy_loss node, so they never build PMPOPolicyLossConfig; verl constructs
    ``PolicyLossConfig`` only from the actor's node (grep: no ``PolicyLossConfig(`` call in verl 0.9.1)."""
    from omegaconf import open_dict

    cfg = compose_ppo(COMMON + [LOSS_MODE, TARGET, KNOB, "actor_rollout_ref.actor.use_kl_loss=True",
                             "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=4"])
    ref_cfg = cfg.actor_rollout_ref.ref
    with open_dict(ref_cfg):  # as ActorRolloutRefWorker.init_model does (verl/workers/engine_workers.py:545-553)
        ref_cfg.ppo_mini_batch_size = cfg.actor_rollout_ref.actor.ppo_mini_batch_size
        ref_cfg.ppo_micro_batch_size = ref_cfg.pop("log_prob_micro_batch_size", None)
        ref_cfg.ppo_micro_batch_size_per_gpu = ref_cfg.pop("log_prob_micro_batch_size_per_gpu", None)
        ref_cfg.use_dynamic_bsz = ref_cfg.pop("log_prob_use_dynamic_bsz", False)
        ref_cfg.ppo_max_token_len_per_gpu = ref_cfg.pop("log_prob_max_token_len_per_gpu", None)
    ref = omega_conf_to_dataclass(ref_cfg)
    assert not isinstance(ref.policy_loss, PMPOPolicyLossConfig)
    assert "policy_loss" not in cfg.critic


def test_knob_list_matches_the_dataclass():
    """pmpo_verl.command_check cannot import the dataclass (it imports verl); its knob list must agree."""
    extra = {f.name for f in dataclasses.fields(PMPOPolicyLossConfig)} - {
        f.name for f in dataclasses.fields(PolicyLossConfig)
    }
    assert set(PMPO_KNOBS) == extra
