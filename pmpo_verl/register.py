"""Registers ``loss_mode=pmpo`` and ``adv_estimator=pmpo`` with verl (import for the side effect).

verl imports this module in every process through the ``verl.plugins`` entry point; the fallback is
``VERL_USE_EXTERNAL_MODULES=pmpo_verl.register``. Importing it twice is harmless (Python caches it).
"""

from . import advantage, loss  # noqa: F401

__all__ = ["advantage", "loss"]
