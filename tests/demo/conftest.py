"""Fixtures of the CPU-backend and demo tests: one tiny model per session."""

import os

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from pmpo_verl.demo.tiny_model import build_tiny_model

    return build_tiny_model(str(tmp_path_factory.mktemp("tiny") / "model"), seed=0)


@pytest.fixture(scope="session")
def cpu_env():
    env = dict(os.environ)
    env.pop("VERL_PLATFORM", None)
    env.pop("PMPO_VERL_ROLLOUT", None)
    env.pop("VERL_USE_EXTERNAL_PLUGINS", None)
    return env
