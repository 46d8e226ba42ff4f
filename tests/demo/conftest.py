"""Fixtures of the demo tests (the tiny model and cpu_env are in tests/conftest.py)."""

import pytest


@pytest.fixture(scope="session")
def warm_model(tmp_path_factory):
    """The tiny model after a short warm start (some correct answers, so advantages are not all zero);
    shared by the end-to-end tests."""
    from pmpo_verl.demo.tiny_model import build_tiny_model
    from pmpo_verl.demo.warmstart import warm_start

    d = build_tiny_model(str(tmp_path_factory.mktemp("e2e") / "model"), seed=0)
    warm_start(d, steps=300, lr=1e-2, seed=0, target=None, log=None)  # fixed steps: fast and reproducible
    return d
