"""A ``cpu`` platform for verl 0.9.1 (selected by ``VERL_PLATFORM=cpu``).

verl reaches the device through ``get_platform()`` and ``get_torch_device()`` (the platform's
``device_module``). This platform reports the device ``cpu``, the collective backend ``gloo`` and the
Ray resource ``GPU`` (one *logical* GPU per worker: verl's resource pools always ask for an accelerator
bundle, and CPU torch ignores ``CUDA_VISIBLE_DEVICES``). Importing this module also

- makes verl's global process group plain ``gloo`` (verl builds ``cpu:gloo,{device}:{backend}``, which
  torch rejects as a duplicate when the device is ``cpu``), and
- sets ``VERL_ENGINE_DEVICE=cuda`` (unless set) so verl's FSDP engines, registered for cuda/npu only,
  are found; they run on CPU tensors over gloo.
"""

from __future__ import annotations

import os
import types
from contextlib import contextmanager
from typing import Any

import psutil
import torch
from verl.plugin.platform import PlatformBase, PlatformRegistry

PLATFORM_NAME = "cpu"


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


def _zero(*args: Any, **kwargs: Any) -> int:
    return 0


def _mem_get_info(*args: Any, **kwargs: Any) -> tuple[int, int]:
    vm = psutil.virtual_memory()
    return int(vm.available), int(vm.total)


class _Stream:
    """Stand-in for an accelerator stream (CPU work is synchronous)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def wait_stream(self, other: Any) -> None:
        pass

    def wait_event(self, event: Any) -> None:
        pass

    def record_event(self, event: Any = None) -> _Event:
        return _Event()

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class _Event:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def record(self, stream: Any = None) -> None:
        pass

    def wait(self, stream: Any = None) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def query(self) -> bool:
        return True

    def elapsed_time(self, other: _Event) -> float:
        return 0.0


@contextmanager
def _stream_ctx(stream: Any = None):
    yield stream


def _build_device_module() -> types.ModuleType:
    """The ``torch.cuda``-like surface verl calls through ``get_torch_device()``."""
    m = types.ModuleType("pmpo_verl_cpu_device")
    m.is_available = lambda: True
    m.is_initialized = lambda: True
    m.current_device = lambda: torch.device("cpu")
    m.device_count = lambda: 1
    m.set_device = _noop
    m.synchronize = _noop
    m.empty_cache = _noop
    m.ipc_collect = _noop
    m.manual_seed = torch.manual_seed
    m.manual_seed_all = torch.manual_seed
    m.seed = torch.seed
    m.initial_seed = torch.initial_seed
    m.get_rng_state = lambda *a, **k: torch.get_rng_state()
    m.set_rng_state = lambda state, *a, **k: torch.set_rng_state(state)
    m.get_rng_state_all = lambda: [torch.get_rng_state()]
    m.set_rng_state_all = lambda states: torch.set_rng_state(states[0])
    m.mem_get_info = _mem_get_info
    for name in (
        "memory_allocated",
        "memory_reserved",
        "max_memory_allocated",
        "max_memory_reserved",
    ):
        setattr(m, name, _zero)
    m.reset_peak_memory_stats = _noop
    m.reset_max_memory_allocated = _noop
    m.set_per_process_memory_fraction = _noop
    m.memory_stats = lambda *a, **k: {}
    m.get_device_name = lambda *a, **k: "cpu"
    m.get_device_properties = lambda *a, **k: types.SimpleNamespace(name="cpu", total_memory=_mem_get_info()[1])
    m.Stream = _Stream
    m.Event = _Event
    m.current_stream = lambda *a, **k: _Stream()
    m.default_stream = lambda *a, **k: _Stream()
    m.stream = _stream_ctx
    m.memory = types.SimpleNamespace(_set_allocator_settings=_noop)
    return m


CPU_DEVICE_MODULE = _build_device_module()


@PlatformRegistry.register(platform=PLATFORM_NAME)
class PlatformCPU(PlatformBase):
    """verl platform for CPU-only machines (gloo collectives, logical Ray GPUs)."""

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> types.ModuleType:
        return CPU_DEVICE_MODULE

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        # never auto-detected: only VERL_PLATFORM=cpu selects it
        return False

    def current_device(self) -> torch.device:  # type: ignore[override]
        # an int id would mean "accelerator 0" to model.to(...)
        return torch.device("cpu")

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: Any) -> None:
        return None

    def synchronize(self, device_index: int | None = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        # CPU torch ignores it; Ray sets it for the logical GPU it hands out
        return "CUDA_VISIBLE_DEVICES"

    @contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        return "GPU"

    def ray_resource_options(self, num_gpus: float) -> dict[str, Any]:
        return {"num_gpus": num_gpus}

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def rollout_env_vars(self) -> dict[str, str]:
        return {}

    def get_collective_module(self) -> Any:
        return None

    def cudart(self) -> Any:
        return None


def _patch_process_group() -> None:
    """Make verl's global process group plain ``gloo`` on this platform (idempotent)."""
    import verl.utils.distributed as dist_utils

    original = dist_utils.initialize_global_process_group_ray
    if getattr(original, "_pmpo_cpu", False):
        return

    def initialize_global_process_group_ray(timeout_second=None, backend=None):
        return original(timeout_second=timeout_second, backend=backend or "gloo")

    initialize_global_process_group_ray._pmpo_cpu = True  # type: ignore[attr-defined]
    dist_utils.initialize_global_process_group_ray = initialize_global_process_group_ray
    # modules that already imported the name by value (normally none: the plugin runs at `import verl`)
    import sys

    for mod_name in ("verl.workers.engine_workers",):
        mod = sys.modules.get(mod_name)
        if mod is not None and getattr(mod, "initialize_global_process_group_ray", None) is original:
            mod.initialize_global_process_group_ray = initialize_global_process_group_ray


def activate() -> None:
    """Side effects needed when ``VERL_PLATFORM=cpu`` (called by ``pmpo_verl.cpu_backend.register``)."""
    os.environ.setdefault("VERL_ENGINE_DEVICE", "cuda")
    os.environ.setdefault("VERL_ENGINE_VENDOR", "nvidia")
    _patch_process_group()
