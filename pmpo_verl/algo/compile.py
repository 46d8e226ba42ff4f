"""Optional ``torch.compile`` of the PMPO objective.

Eagerly, the objective with its solver launches several hundred small kernels per call; on a GPU launch
overhead then dominates. Compiled with dynamic shapes, so the varying micro-batch shapes of training do
not recompile, each part fuses into a few kernels. Parts that fail to compile fall back independently
(the solver inside the statistics is compiled on its own then). ``PMPO_VERL_COMPILE``: ``auto``
(default: compile when the inputs are on CUDA), ``1`` (always), ``0`` (never). A compilation failure
falls back to eager mode with a warning, so training never stops because of the compiler.

``PMPO_VERL_COMPILE_MODE`` (experimental, unset by default) passes a ``torch.compile`` mode, e.g.
``reduce-overhead`` (CUDA graphs: one graph launch per part instead of one launch per kernel, recorded
once per distinct input shape, with memory kept per recorded shape); ``scripts/gpu_check.sh`` runs it
beside the default.

Eager against compiled, per part: ``PMPO_VERL_COMPILE=0|1 python scripts/profile_loss_parts.py --device
cuda``; the whole loss against verl's: ``python scripts/bench_loss.py --device cuda``. The measured numbers,
with their machine and date, are in docs/benchmarks.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import _get_current_dispatch_mode

logger = logging.getLogger(__name__)
_CACHE: dict[str, Callable] = {}
_FAILED: dict[str, str] = {}  # part -> the compiler error that sent it back to eager mode


def compile_enabled(device: torch.device) -> bool:
    """Whether ``PMPO_VERL_COMPILE`` asks for compilation on ``device``."""
    mode = os.environ.get("PMPO_VERL_COMPILE", "auto").strip().lower()
    if mode in ("0", "false", "no", "off"):
        return False
    return mode != "auto" or device.type == "cuda"


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile_mode() -> str | None:
    """The ``torch.compile`` mode that ``PMPO_VERL_COMPILE_MODE`` asks for (None: torch's default)."""
    mode = os.environ.get("PMPO_VERL_COMPILE_MODE", "").strip().lower() or None
    if mode is not None and mode not in COMPILE_MODES:
        raise ValueError(f"PMPO_VERL_COMPILE_MODE must be one of {COMPILE_MODES} (or unset), got {mode!r}")
    return mode


def maybe_compiled(name: str, fn: Callable, device: torch.device) -> Callable:
    """``fn`` itself, or its compiled version (built once per process) with an eager fallback.

    Inside another compiled function ``fn`` itself is returned, so that it is traced into that graph.
    So it is under an active ``TorchDispatchMode`` (memory trackers, op counters): a compiled function
    entered there can leave dynamo running that code eagerly, and slower, for the rest of the process.
    """
    if torch.compiler.is_compiling() or _get_current_dispatch_mode() is not None or not compile_enabled(device):
        return fn
    if name not in _CACHE:
        _CACHE[name] = torch.compile(fn, dynamic=True, mode=compile_mode())
    compiled = _CACHE[name]
    if compiled is fn:
        return fn

    def run(*args):
        try:
            return compiled(*args)
        except Exception as exc:  # noqa: BLE001 - any compiler failure: warn and keep training eagerly
            logger.warning("PMPO: torch.compile of %s failed (%s: %s); using eager mode", name, type(exc).__name__, exc)
            _FAILED[name] = f"{type(exc).__name__}: {exc}"
            _CACHE[name] = fn
            return fn(*args)

    return run
