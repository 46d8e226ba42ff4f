"""Optional ``torch.compile`` of the PMPO objective.

Eagerly, the objective with its solver launches several hundred small kernels per call; on a GPU launch
overhead then dominates. Compiled (dynamic shapes, so the varying micro-batch shapes of training do not
recompile), the loop fuses into a few kernels. ``PMPO_VERL_COMPILE``: ``auto`` (default: compile when
the inputs are on CUDA), ``1`` (always), ``0`` (never). A compilation failure falls back to eager mode
with a warning, so training never stops because of the compiler.
"""

from __future__ import annotations

import logging
import os
from typing import Callable

import torch

logger = logging.getLogger(__name__)
_CACHE: dict[str, Callable] = {}


def compile_enabled(device: torch.device) -> bool:
    """Whether ``PMPO_VERL_COMPILE`` asks for compilation on ``device``."""
    mode = os.environ.get("PMPO_VERL_COMPILE", "auto").strip().lower()
    if mode in ("0", "false", "no", "off"):
        return False
    return mode != "auto" or device.type == "cuda"


def maybe_compiled(name: str, fn: Callable, device: torch.device) -> Callable:
    """``fn`` itself, or its compiled version (built once per process) with an eager fallback."""
    if not compile_enabled(device):
        return fn
    if name not in _CACHE:
        _CACHE[name] = torch.compile(fn, dynamic=True)
    compiled = _CACHE[name]
    if compiled is fn:
        return fn

    def run(*args):
        try:
            return compiled(*args)
        except Exception as exc:  # noqa: BLE001 - any compiler failure: warn and keep training eagerly
            logger.warning("PMPO: torch.compile of %s failed (%s: %s); using eager mode", name, type(exc).__name__, exc)
            _CACHE[name] = fn
            return fn(*args)

    return run
