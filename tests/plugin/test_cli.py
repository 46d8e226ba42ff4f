"""The console script's documented subcommands."""

import os
import subprocess
import sysconfig

import pytest

from pmpo_verl.cli import overrides_for

SCRIPT = os.path.join(sysconfig.get_path("scripts"), "pmpo-verl")  # the venv's console script


def test_console_script_is_installed_and_check_passes():
    out = subprocess.run([SCRIPT, "check"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "plugin: OK" in out.stdout


def test_overrides_for_baselines():
    assert "actor_rollout_ref.actor.policy_loss.loss_mode=pmpo" in overrides_for("pmpo")
    assert overrides_for("gmpo")[-1] == "+actor_rollout_ref.actor.policy_loss.p=0"
    assert overrides_for("grpo")[-1] == "+actor_rollout_ref.actor.policy_loss.p=1"
    with pytest.raises(ValueError, match="unknown method"):
        overrides_for("ppo")
    out = subprocess.run([SCRIPT, "overrides", "--method", "grpo"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "p_mode=fixed" in out.stdout
