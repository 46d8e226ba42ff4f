"""Fixtures for the PMPO loss tests: synthetic rollout batches and verl actor configs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch


@dataclass
class Batch:
    old_log_prob: torch.Tensor
    log_prob: torch.Tensor  # leaf, requires grad
    advantages: torch.Tensor
    mask: torch.Tensor  # bool

    def fresh_log_prob(self) -> torch.Tensor:
        return self.log_prob.detach().clone().requires_grad_(True)


def make_batch(
    batch: int = 8,
    length: int = 64,
    *,
    std: float = 0.25,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    outliers: float = 0.02,
    min_len: int = 1,
) -> Batch:
    """Right-padded responses with random lengths, log-ratios ~ N(0, std) plus outliers, and one
    outcome advantage (+ or -) per row broadcast over its valid tokens; padding holds log-prob 0."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, length + 1, (batch,), generator=g)
    mask = torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)
    old = -torch.rand(batch, length, generator=g, dtype=torch.float64) * 3 - 0.05
    ratio = torch.randn(batch, length, generator=g, dtype=torch.float64) * std
    spikes = torch.rand(batch, length, generator=g, dtype=torch.float64) < outliers
    ratio = torch.where(spikes, ratio * 6, ratio)
    new = old + ratio
    adv_row = torch.randn(batch, generator=g, dtype=torch.float64)
    adv = adv_row.unsqueeze(1) * mask
    old = torch.where(mask, old, 0.0).to(dtype)
    new = torch.where(mask, new, 0.0).to(dtype)
    return Batch(old_log_prob=old, log_prob=new.requires_grad_(True), advantages=adv.to(dtype), mask=mask)


@pytest.fixture
def batch_factory():
    return make_batch


def actor_config(*, loss_mode: str = "pmpo", eps: float = 0.4, ratio_band: bool = False, **knobs):
    """verl ActorConfig as the engine builds it. ``ratio_band=True`` sets verl's ratio-space bounds matched
    to the log-space band (e^-eps, e^eps) and disables the dual clip (for ``vanilla``)."""
    from verl.workers.config.actor import ActorConfig, PolicyLossConfig

    from pmpo_verl.config import PMPOPolicyLossConfig

    low, high = (1 - math.exp(-eps), math.exp(eps) - 1) if ratio_band else (eps, eps)
    policy_loss = PMPOPolicyLossConfig(loss_mode=loss_mode, **knobs) if loss_mode == "pmpo" else PolicyLossConfig(loss_mode=loss_mode)
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
