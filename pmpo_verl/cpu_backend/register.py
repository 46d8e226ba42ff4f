"""Registers the CPU backend with verl (import for the side effect; ``pmpo_verl.register`` imports it
only when ``VERL_PLATFORM=cpu`` or the ``hf`` rollout is asked for).

- ``VERL_PLATFORM=cpu``: the ``cpu`` platform (plus gloo process group, FSDP engine lookup) and the
  ``hf`` rollout.
- ``PMPO_VERL_ROLLOUT=hf`` (set automatically in a driver whose command line names
  ``actor_rollout_ref.rollout.name=hf``): the ``hf`` rollout only.
"""

from __future__ import annotations

from . import HF_ROLLOUT_NAME, cpu_platform_requested


def register_hf_rollout() -> None:
    """Lazy registrations: verl imports the classes only when ``rollout.name=hf`` is used."""
    from verl.workers.rollout.base import _ROLLOUT_REGISTRY
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    _ROLLOUT_REGISTRY[(HF_ROLLOUT_NAME, "async")] = "pmpo_verl.cpu_backend.hf_rollout.HFServerAdapter"

    def _load_hf():
        from .hf_rollout import HFReplica

        return HFReplica

    RolloutReplicaRegistry.register(HF_ROLLOUT_NAME, _load_hf)


if cpu_platform_requested():
    from .platform import activate

    activate()
register_hf_rollout()
