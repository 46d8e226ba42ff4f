"""adv_estimator=pmpo through verl's own ``compute_advantage`` with the run's ``algorithm`` DictConfig."""

import os

import numpy as np
import pytest
import torch
import verl
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from verl import DataProto
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage
from verl.trainer.ppo.ray_trainer import compute_advantage

import pmpo_verl.register  # noqa: F401
from pmpo_verl.advantage import compute_pmpo_outcome_advantage

CONFIG_DIR = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
WIDTH = 6


def run_config(*extra):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        return compose(
            "ppo_trainer",
            overrides=["algorithm.adv_estimator=pmpo", f"data.max_response_length={WIDTH}", *extra],
        )


def rollouts():
    """Two prompts x 4 rollouts; rows 1 and 6 hit the length cap (6 tokens)."""
    lengths = torch.tensor([3, 6, 2, 5, 4, 1, 6, 2])
    mask = (torch.arange(WIDTH) < lengths.unsqueeze(1)).long()
    scores = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    rewards = torch.zeros(8, WIDTH)
    rewards[torch.arange(8), lengths - 1] = scores
    uid = np.array(["a"] * 4 + ["b"] * 4, dtype=object)
    return rewards, mask, uid


def via_verl(cfg):
    rewards, mask, uid = rollouts()
    data = DataProto.from_dict(
        tensors={"token_level_rewards": rewards, "response_mask": mask}, non_tensors={"uid": uid}
    )
    out = compute_advantage(
        data,
        adv_estimator=cfg.algorithm.adv_estimator,
        num_repeat=4,
        norm_adv_by_std_in_grpo=cfg.algorithm.get("norm_adv_by_std_in_grpo", True),
        config=cfg.algorithm,
    )
    return out.batch["advantages"]


def test_default_equals_verl_grpo():
    rewards, mask, uid = rollouts()
    want, _ = compute_grpo_outcome_advantage(rewards, mask, uid)
    torch.testing.assert_close(via_verl(run_config()), want)


def test_dr_grpo_and_epsilon_are_honoured():
    rewards, mask, uid = rollouts()
    want, _ = compute_grpo_outcome_advantage(rewards, mask, uid, norm_adv_by_std_in_grpo=False)
    torch.testing.assert_close(via_verl(run_config("algorithm.norm_adv_by_std_in_grpo=False")), want)
    big_eps = via_verl(run_config("+algorithm.pmpo_adv_eps=10.0"))
    want_eps, _ = compute_grpo_outcome_advantage(rewards, mask, uid, epsilon=10.0)
    torch.testing.assert_close(big_eps, want_eps)


def test_truncated_responses_get_reward_zero_using_the_runs_response_length():
    rewards, mask, uid = rollouts()
    truncated = rewards.clone()
    truncated[[1, 6]] = 0.0
    want, _ = compute_grpo_outcome_advantage(truncated, mask, uid)
    got = via_verl(run_config("+algorithm.pmpo_truncated_reward_zero=True"))
    torch.testing.assert_close(got, want)
    assert got[1].sum() < 0  # a correct but truncated answer now has a negative advantage


def test_explicit_cap_wins_and_missing_cap_is_a_clear_error():
    rewards, mask, uid = rollouts()
    cfg = OmegaConf.create({"pmpo_truncated_reward_zero": True, "pmpo_response_length": 5})
    got, _ = compute_pmpo_outcome_advantage(rewards, mask, index=uid, config=cfg)
    capped = rewards.clone()
    capped[[1, 3, 6]] = 0.0  # lengths >= 5
    torch.testing.assert_close(got, compute_grpo_outcome_advantage(capped, mask, uid)[0])
    with pytest.raises(ValueError, match="pmpo_response_length"):
        compute_pmpo_outcome_advantage(
            rewards, mask, index=uid, config=OmegaConf.create({"pmpo_truncated_reward_zero": True})
        )
    with pytest.raises(ValueError, match="uid"):
        compute_pmpo_outcome_advantage(rewards, mask, config=None)
