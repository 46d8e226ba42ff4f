"""pmpo_verl.recipe: the overrides of each method, one home for the CLI, the demo and the GPU recipes."""

import subprocess
import sys

import pytest

from pmpo_verl.recipe import CLIP_RATIO, METHODS, PLUGIN_OVERRIDES, overrides_for


def test_methods_differ_only_in_p():
    clips = [f"actor_rollout_ref.actor.clip_ratio_low={CLIP_RATIO}",
             f"actor_rollout_ref.actor.clip_ratio_high={CLIP_RATIO}"]
    assert overrides_for("pmpo") == [*PLUGIN_OVERRIDES, *clips]
    assert overrides_for("gmpo")[-2:] == ["+actor_rollout_ref.actor.policy_loss.p_mode=fixed",
                                          "+actor_rollout_ref.actor.policy_loss.p=0"]
    assert overrides_for("grpo")[-1] == "+actor_rollout_ref.actor.policy_loss.p=1"
    assert overrides_for("gmpo")[:-2] == overrides_for("grpo")[:-2] == overrides_for("pmpo")
    assert "actor_rollout_ref.actor.clip_ratio_low=0.2" in overrides_for("pmpo", clip_ratio=0.2)


def test_vanilla_is_verls_own_loss():
    ov = overrides_for("vanilla")
    assert "actor_rollout_ref.actor.policy_loss.loss_mode=vanilla" in ov
    assert "actor_rollout_ref.actor.clip_ratio_high=0.2" in ov
    assert not [o for o in ov if "_target_" in o or "p_mode" in o]
    assert set(METHODS) == {"pmpo", "grpo", "gmpo", "vanilla"}
    with pytest.raises(ValueError, match="unknown method"):
        overrides_for("ppo")


def test_importing_it_loads_neither_torch_nor_verl():
    code = "import sys, pmpo_verl.recipe; print(sorted(m for m in ('torch', 'verl') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_no_import_cycle_between_the_cli_and_the_demo():
    # runner.py used to import the CLI for the overrides: the demo must load without pmpo_verl.cli
    code = "import sys, pmpo_verl.demo.app; print('pmpo_verl.cli' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         check=True)
    assert out.stdout.strip() == "False"
