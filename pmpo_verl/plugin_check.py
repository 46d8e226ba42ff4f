"""Detect a PMPO plugin that failed to load.

verl imports ``verl.plugins`` entry points at ``import verl`` and swallows their exceptions (a debug log
line), so a broken install only surfaces later as ``Unsupported loss mode: pmpo``. This module checks,
in a fresh interpreter, that ``import verl`` registered both names (and, where the environment asks
for it with ``VERL_PLATFORM=cpu`` or ``PMPO_VERL_ROLLOUT=hf``, the CPU backend), and if not, imports
the plugin directly there to surface the real error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Mapping, Optional

_PROBE = r"""
import json, os, traceback
result = {"error": None}
try:
    import verl
    from verl.plugin.platform import PlatformRegistry
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY, POLICY_LOSS_REGISTRY
    from verl.workers.rollout.base import _ROLLOUT_REGISTRY
    from verl.workers.rollout.replica import RolloutReplicaRegistry
    result["verl"] = verl.__version__
    result["policy_loss"] = "pmpo" in POLICY_LOSS_REGISTRY
    result["adv_estimator"] = "pmpo" in ADV_ESTIMATOR_REGISTRY
    result["cpu_platform"] = PlatformRegistry.get("cpu") is not None
    result["hf_rollout"] = ("hf", "async") in _ROLLOUT_REGISTRY and "hf" in RolloutReplicaRegistry._registry
    cpu_wanted = os.environ.get("VERL_PLATFORM") == "cpu" or os.environ.get("PMPO_VERL_ROLLOUT") == "hf"
    plugin_ok = result["policy_loss"] and result["adv_estimator"]
    cpu_ok = not cpu_wanted or (result["cpu_platform"] and result["hf_rollout"])
    if not (plugin_ok and cpu_ok):
        try:  # the imports verl swallowed, repeated to see their error
            import pmpo_verl.register
            if cpu_wanted:
                import pmpo_verl.cpu_backend.hf_rollout
                import pmpo_verl.cpu_backend.register
        except BaseException:
            result["error"] = traceback.format_exc()
except BaseException:
    result["error"] = traceback.format_exc()
print("PMPO_PROBE " + json.dumps(result))
"""


@dataclass
class PluginStatus:
    verl_version: Optional[str]
    policy_loss: bool
    adv_estimator: bool
    error: Optional[str]
    cpu_platform: bool = False  # the CPU backend (pmpo_verl.cpu_backend), registered only when asked for
    hf_rollout: bool = False

    @property
    def ok(self) -> bool:
        return self.policy_loss and self.adv_estimator

    @property
    def cpu_backend_ok(self) -> bool:
        return self.cpu_platform and self.hf_rollout


def probe_plugin(env: Optional[Mapping[str, str]] = None, timeout: float = 300.0) -> PluginStatus:
    """Run ``import verl`` in a fresh interpreter (with ``env``) and report what it registered."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=dict(os.environ if env is None else env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("PMPO_PROBE "):
            data = json.loads(line[len("PMPO_PROBE ") :])
            return PluginStatus(
                data.get("verl"),
                bool(data.get("policy_loss")),
                bool(data.get("adv_estimator")),
                data["error"],
                bool(data.get("cpu_platform")),
                bool(data.get("hf_rollout")),
            )
    return PluginStatus(None, False, False, f"probe exited with {proc.returncode}:\n{proc.stderr[-4000:]}")
