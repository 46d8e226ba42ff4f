"""One answer to "is the CPU backend wanted?", and the plugin probe as a real module."""

import json
import os
import subprocess
import sys

import pytest

from pmpo_verl.cpu_backend import cpu_backend_wanted, cpu_platform_requested, requested_platform
from pmpo_verl.plugin_probe import MARKER


@pytest.mark.parametrize("env, platform, wanted", [
    ({}, False, False),
    ({"VERL_PLATFORM": "cpu"}, True, True),
    ({"VERL_PLATFORM": " CPU\n"}, True, True),  # the spelling the probe used to miss
    ({"VERL_PLATFORM": "cuda"}, False, False),
    ({"PMPO_VERL_ROLLOUT": "hf"}, False, True),
    ({"PMPO_VERL_ROLLOUT": " HF "}, False, True),
    ({"PMPO_VERL_ROLLOUT": "vllm"}, False, False),
])
def test_cpu_backend_wanted(env, platform, wanted):
    assert cpu_platform_requested(env) is platform
    assert cpu_backend_wanted(env) is wanted


def test_requested_platform_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("VERL_PLATFORM", " NPU ")
    assert requested_platform() == "npu"


def test_probe_runs_as_a_module_and_sees_the_cpu_backend_however_spelled():
    env = {k: v for k, v in os.environ.items() if k not in ("PMPO_VERL_ROLLOUT", "VERL_USE_EXTERNAL_PLUGINS")}
    env["VERL_PLATFORM"] = " Cpu "
    out = subprocess.run([sys.executable, "-m", "pmpo_verl.plugin_probe"], env=env, capture_output=True,
                         text=True, timeout=300, check=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith(MARKER))
    result = json.loads(line[len(MARKER):])
    assert result["error"] is None and result["policy_loss"] and result["adv_estimator"]
    assert result["cpu_platform"] and result["hf_rollout"]
