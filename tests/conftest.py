"""Shared test settings and fixtures. tests/ has no __init__.py: verl's wheel installs a top-level ``tests``
package, and pytest runs with ``--import-mode=importlib`` (pyproject.toml).

Fixtures: synthetic rollout batches and verl actor configs (tests/algo, tests/plugin, tests/bench); the
tiny model and a clean environment for subprocesses (tests/cpu_backend, tests/demo)."""

from __future__ import annotations

import math
import os

import pytest

from pmpo_verl.bench.inputs import random_batch

os.environ.setdefault("RAY_DEDUP_LOGS", "0")


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


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from pmpo_verl.demo.tiny_model import build_tiny_model

    return build_tiny_model(str(tmp_path_factory.mktemp("tiny") / "model"), seed=0)


@pytest.fixture(scope="session")
def cpu_env():
    """The environment without the variables that select verl's platform or our rollout."""
    env = dict(os.environ)
    env.pop("VERL_PLATFORM", None)
    env.pop("PMPO_VERL_ROLLOUT", None)
    env.pop("VERL_USE_EXTERNAL_PLUGINS", None)
    return env
