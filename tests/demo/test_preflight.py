"""Clear errors (no tracebacks) for what a user gets wrong."""

import subprocess
import sys

import pytest

from pmpo_verl.command_check import BYPASS_MESSAGE, loss_mode_error
from pmpo_verl.demo.options import DemoOptions, TrainRun
from pmpo_verl.demo.preflight import (
    DemoError,
    check_cpu_settings,
    check_main_ppo_command,
    check_model_path,
    check_plugin,
    check_verl_version,
)
from pmpo_verl.demo.runner import build_command


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "pmpo_verl.cli", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_verl_version():
    assert check_verl_version() == "0.9.1"
    with pytest.raises(DemoError, match="built for verl==0.9.1, but verl 0.8.0 is installed"):
        check_verl_version("0.8.0")


@pytest.mark.parametrize(
    "override",
    [
        "trainer.device=cuda",
        "actor_rollout_ref.rollout.name=vllm",
        "trainer.n_gpus_per_node=8",
        "actor_rollout_ref.actor.strategy=fsdp",
    ],
)
def test_gpu_settings_on_a_cpu_machine(override):
    with pytest.raises(DemoError, match="no CUDA device"):
        check_cpu_settings([override], cuda_available=False)
    check_cpu_settings([override], cuda_available=True)  # fine where there is a GPU
    check_cpu_settings(["trainer.test_freq=2"], cuda_available=False)


def test_missing_model_path(tmp_path):
    with pytest.raises(DemoError, match="does not exist"):
        check_model_path(str(tmp_path / "nope"))
    with pytest.raises(DemoError, match="no config.json"):
        check_model_path(str(tmp_path))


def test_plugin_not_registered_is_reported(cpu_env):
    with pytest.raises(DemoError, match="did not register the PMPO plugin"):
        check_plugin({**cpu_env, "VERL_PLATFORM": "cpu", "VERL_USE_EXTERNAL_PLUGINS": "none"})


def test_cli_errors_without_traceback(tmp_path):
    proc = _cli("demo", "--out", str(tmp_path), "--model", str(tmp_path / "missing"))
    assert proc.returncode == 2
    assert "error: model path" in proc.stderr and "Traceback" not in proc.stderr
    import torch

    if not torch.cuda.is_available():
        proc = _cli("demo", "--out", str(tmp_path), "trainer.device=cuda")
        assert proc.returncode == 2 and "no CUDA device" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_warm_start_share_is_refused(tmp_path):
    proc = _cli("demo", "--out", str(tmp_path), "--warmstart-unboxed", "1.5")
    assert (
        proc.returncode == 2
        and "--warmstart-unboxed must lie in [0, 1]" in proc.stderr
        and "Traceback" not in proc.stderr
    )


def test_bad_validation_sample_count_is_refused(tmp_path):
    proc = _cli("demo", "--out", str(tmp_path), "--val-samples", "0")
    assert proc.returncode == 2 and "--val-samples must be at least 1" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "model").exists()  # refused before anything was built


def _demo_command(loss="pmpo", extra=()):
    run = TrainRun("/m", "/d/train.parquet", "/d/val.parquet", "/out", loss=loss)
    return build_command(DemoOptions(loss=loss, extra=list(extra)), run)


@pytest.mark.parametrize("loss", ["pmpo", "grpo", "gmpo"])
def test_the_demo_command_passes_the_command_check(loss):
    logged = []
    check_main_ppo_command(_demo_command(loss), log=logged.append)
    assert logged == []


def test_bypass_mode_in_the_extra_overrides_warns_like_pmpo_verl_check():
    logged = []
    check_main_ppo_command(_demo_command(extra=["algorithm.rollout_correction.bypass_mode=True"]), log=logged.append)
    assert logged == [f"warning: {BYPASS_MESSAGE}"]


def test_a_loss_mode_override_that_drops_pmpo_stops_the_demo():
    with pytest.raises(DemoError, match="the main_ppo command .with your extra overrides. has errors") as info:
        check_main_ppo_command(
            _demo_command(extra=["actor_rollout_ref.actor.policy_loss.loss_mode=vanilla"]), log=print
        )
    assert loss_mode_error("vanilla") in str(info.value)


def test_cli_refuses_the_misconfigured_demo_before_building_anything(tmp_path):
    proc = _cli("demo", "--out", str(tmp_path), "--", "actor_rollout_ref.actor.policy_loss.loss_mode=vanilla")
    assert proc.returncode == 2 and loss_mode_error("vanilla") in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "model").exists()
