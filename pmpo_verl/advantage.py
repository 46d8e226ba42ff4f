"""``algorithm.adv_estimator=pmpo``: the group-normalised outcome advantage of the PMPO/GMPO protocol.

For the G rollouts of one prompt (same ``uid``) with outcome scores ``R_i`` (sum of token rewards):

    A_i = (R_i - mean_G R) / (std_G R + eps)      (norm_adv_by_std_in_grpo=True, GRPO)
    A_i =  R_i - mean_G R                          (norm_adv_by_std_in_grpo=False, Dr.GRPO)

broadcast over the response mask (verl's ``compute_grpo_outcome_advantage``; unbiased std, a group of
one gets mean 0 and std 1). Extra keys on the ``algorithm`` node (add them with ``+``):

- ``pmpo_adv_eps`` (default 1e-6, verl's GRPO value; the GMPO protocol uses 1e-8);
- ``pmpo_truncated_reward_zero`` (default False): a response that hit the length cap earns reward 0
  before normalisation (the protocol's rule for outputs without an end token);
- ``pmpo_response_length``: the length cap; by default ``actor_rollout_ref.rollout.response_length``
  of the run's config. A response counts as truncated when it has exactly that many tokens (one that
  ends with the end token exactly at the cap is counted too: verl does not pass the tokens here).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage, register_adv_est

logger = logging.getLogger(__name__)
DEFAULT_EPS = 1e-6


def _get(config: Any, key: str, default: Any) -> Any:
    if config is None:
        return default
    value = config.get(key, default)
    return default if value is None else value


def response_length_cap(config: Any) -> int | None:
    """The response length cap: ``pmpo_response_length`` or the run's ``rollout.response_length``."""
    explicit = _get(config, "pmpo_response_length", None)
    if explicit is not None:
        return int(explicit)
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(config, DictConfig):
            value = OmegaConf.select(config._get_root(), "actor_rollout_ref.rollout.response_length")
            return None if value is None else int(value)
    except Exception:  # a detached or partial config: no cap known
        return None
    return None


def zero_truncated_rewards(token_level_rewards: torch.Tensor, response_mask: torch.Tensor, cap: int) -> torch.Tensor:
    """Rewards with every row whose response has ``>= cap`` valid tokens set to 0."""
    truncated = response_mask.sum(-1) >= cap
    return token_level_rewards.masked_fill(truncated.unsqueeze(-1), 0.0)


@register_adv_est("pmpo")
def compute_pmpo_outcome_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray | None = None,
    config: Any = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Group z-score outcome advantage with PMPO's options; returns ``(advantages, returns)``, (B, T)."""
    if index is None:
        raise ValueError("adv_estimator=pmpo needs the prompt groups (the batch has no 'uid' field)")
    if _get(config, "pmpo_truncated_reward_zero", False):
        cap = response_length_cap(config)
        if cap is None:
            raise ValueError(
                "pmpo_truncated_reward_zero=True needs the response length cap: set "
                "+algorithm.pmpo_response_length=<actor_rollout_ref.rollout.response_length>"
            )
        token_level_rewards = zero_truncated_rewards(token_level_rewards, response_mask, cap)
    return compute_grpo_outcome_advantage(
        token_level_rewards=token_level_rewards,
        response_mask=response_mask,
        index=index,
        epsilon=float(_get(config, "pmpo_adv_eps", DEFAULT_EPS)),
        norm_adv_by_std_in_grpo=bool(_get(config, "norm_adv_by_std_in_grpo", True)),
    )
