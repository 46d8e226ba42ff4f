"""Registers ``loss_mode=pmpo`` and ``adv_estimator=pmpo`` with verl (import for the side effect).

verl imports this module in every process through the ``verl.plugins`` entry point; the fallback is
``VERL_USE_EXTERNAL_MODULES=pmpo_verl.register``. Importing it twice is harmless (Python caches it).

The CPU backend (``cpu`` platform, ``hf`` rollout) is imported only when asked for: ``VERL_PLATFORM=cpu``,
``PMPO_VERL_ROLLOUT=hf``, or a driver command line with ``actor_rollout_ref.rollout.name=hf`` (which sets
``PMPO_VERL_ROLLOUT=hf`` so that the Ray workers the driver starts inherit it).
"""

import os
import sys

from . import advantage, loss  # noqa: F401
from .cpu_backend import cpu_backend_wanted

if any(a.lstrip("+") == "actor_rollout_ref.rollout.name=hf" for a in sys.argv[1:]):
    os.environ.setdefault("PMPO_VERL_ROLLOUT", "hf")
if cpu_backend_wanted():
    from .cpu_backend import register as cpu_backend  # noqa: F401

__all__ = ["advantage", "loss"]
