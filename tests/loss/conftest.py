"""Fixtures for the PMPO loss tests: synthetic rollout batches (pmpo_verl.bench.inputs) and verl actor
configs."""

from __future__ import annotations

import math

import pytest

from pmpo_verl.bench.inputs import random_batch


@pytest.fixture
def batch_factory():
    """:func:`pmpo_verl.bench.inputs.random_batch`: ``batch_factory(B, T, std=..., seed=..., dtype=...)``."""
    return random_batch


def actor_config(*, loss_mode: str = "pmpo", eps: float = 0.4, ratio_band: bool = False, **knobs):
    """verl ActorConfig as the engine builds it. ``ratio_band=True`` sets verl's ratio-space bounds matched
    to the log-space band (e^-eps, e^eps) and disables the dual clip (for ``vanilla``)."""
    from verl.workers.config.actor import ActorConfig, PolicyLossConfig

    from pmpo_verl.config import PMPOPolicyLossConfig

    low, high = (1 - math.exp(-eps), math.exp(eps) - 1) if ratio_band else (eps, eps)
    policy_loss = (PMPOPolicyLossConfig(loss_mode=loss_mode, **knobs) if loss_mode == "pmpo"
                   else PolicyLossConfig(loss_mode=loss_mode))
    return ActorConfig(
        strategy="fsdp",
        rollout_n=1,
        ppo_micro_batch_size_per_gpu=1,
        clip_ratio=low,
        clip_ratio_low=low,
        clip_ratio_high=high,
        clip_ratio_c=1e9,
        loss_agg_mode="seq-mean-token-mean",
        policy_loss=policy_loss,
    )


@pytest.fixture
def make_actor_config():
    return actor_config
