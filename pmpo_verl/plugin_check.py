"""Detect a PMPO plugin that failed to load (the probe itself is :mod:`pmpo_verl.plugin_probe`).

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
from collections.abc import Mapping
from dataclasses import dataclass

from .plugin_probe import MARKER


@dataclass
class PluginStatus:
    verl_version: str | None
    policy_loss: bool
    adv_estimator: bool
    error: str | None
    cpu_platform: bool = False  # the CPU backend (pmpo_verl.cpu_backend), registered only when asked for
    hf_rollout: bool = False

    @property
    def ok(self) -> bool:
        return self.policy_loss and self.adv_estimator

    @property
    def cpu_backend_ok(self) -> bool:
        return self.cpu_platform and self.hf_rollout


def probe_plugin(env: Mapping[str, str] | None = None, timeout: float = 300.0) -> PluginStatus:
    """Run ``import verl`` in a fresh interpreter (with ``env``) and report what it registered."""
    proc = subprocess.run(
        [sys.executable, "-m", "pmpo_verl.plugin_probe"],
        env=dict(os.environ if env is None else env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            return PluginStatus(
                data.get("verl"),
                bool(data.get("policy_loss")),
                bool(data.get("adv_estimator")),
                data["error"],
                bool(data.get("cpu_platform")),
                bool(data.get("hf_rollout")),
            )
    return PluginStatus(None, False, False, f"probe exited with {proc.returncode}:\n{proc.stderr[-4000:]}")
