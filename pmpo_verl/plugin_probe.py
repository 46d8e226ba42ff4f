"""``python -m pmpo_verl.plugin_probe``: what ``import verl`` registered, as one JSON line on stdout.

Run by :func:`pmpo_verl.plugin_check.probe_plugin` in a fresh interpreter (the caller's interpreter may have
imported the plugin by other means). verl swallows a failing ``verl.plugins`` entry point, so when a name is
missing the probe repeats the plugin's imports itself to capture the real error.
"""

from __future__ import annotations

import json
import traceback

MARKER = "PMPO_PROBE "


def probe() -> dict:
    result: dict = {"error": None}
    try:
        import verl
        from verl.plugin.platform import PlatformRegistry
        from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY, POLICY_LOSS_REGISTRY
        from verl.workers.rollout.base import _ROLLOUT_REGISTRY
        from verl.workers.rollout.replica import RolloutReplicaRegistry

        from .cpu_backend import HF_ROLLOUT_NAME, cpu_backend_wanted

        result["verl"] = verl.__version__
        result["policy_loss"] = "pmpo" in POLICY_LOSS_REGISTRY
        result["adv_estimator"] = "pmpo" in ADV_ESTIMATOR_REGISTRY
        result["cpu_platform"] = PlatformRegistry.get("cpu") is not None
        result["hf_rollout"] = ((HF_ROLLOUT_NAME, "async") in _ROLLOUT_REGISTRY
                                and HF_ROLLOUT_NAME in RolloutReplicaRegistry._registry)
        wanted = cpu_backend_wanted()
        cpu_ok = not wanted or (result["cpu_platform"] and result["hf_rollout"])
        if not (result["policy_loss"] and result["adv_estimator"] and cpu_ok):
            _repeat_plugin_imports(wanted)
    except BaseException:
        result["error"] = traceback.format_exc()
    return result


def _repeat_plugin_imports(cpu_wanted: bool) -> None:
    """The imports verl swallowed, repeated to see their error."""
    import pmpo_verl.register  # noqa: F401

    if cpu_wanted:
        import pmpo_verl.cpu_backend.hf_rollout  # noqa: F401
        import pmpo_verl.cpu_backend.register  # noqa: F401


if __name__ == "__main__":
    print(MARKER + json.dumps(probe()))
