"""CPU backend for verl 0.9.1: a ``cpu`` platform (``VERL_PLATFORM=cpu``) and an ``hf`` rollout
(``actor_rollout_ref.rollout.name=hf``, transformers ``generate``).

``pmpo_verl.register`` imports :mod:`.register` only when one of them is asked for
(:func:`cpu_backend_wanted`), so GPU users never load this package's verl parts. See the project README
("The main job on CPU"). This module itself imports nothing: the plugin probe and the demo's preflight ask
it the same question as the registration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

HF_ROLLOUT_NAME = "hf"


def requested_platform(env: Mapping[str, str] | None = None) -> str:
    """``VERL_PLATFORM`` as verl reads it (stripped, lower case; '' when unset)."""
    return (os.environ if env is None else env).get("VERL_PLATFORM", "").strip().lower()


def cpu_platform_requested(env: Mapping[str, str] | None = None) -> bool:
    return requested_platform(env) == "cpu"


def cpu_backend_wanted(env: Mapping[str, str] | None = None) -> bool:
    """The CPU platform or just the ``hf`` rollout is asked for (``PMPO_VERL_ROLLOUT=hf``, which
    ``pmpo_verl.register`` sets in a driver whose command line names ``rollout.name=hf``)."""
    env = os.environ if env is None else env
    return cpu_platform_requested(env) or env.get("PMPO_VERL_ROLLOUT", "").strip().lower() == HF_ROLLOUT_NAME
