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


@pytest.fixture(scope="session")
def warm_model(tmp_path_factory):
    """The tiny model after a short warm start (some correct answers, so advantages are not all zero);
    shared by the end-to-end tests."""
    from pmpo_verl.demo.tiny_model import build_tiny_model
    from pmpo_verl.demo.warmstart import warm_start

    d = build_tiny_model(str(tmp_path_factory.mktemp("e2e") / "model"), seed=0)
    warm_start(d, steps=300, seed=0, log=None)
    return d
