"""The ``cpu`` platform, and that the plugin loads the CPU backend only when asked for."""

import json
import subprocess
import sys

import torch

_PROBE = r"""
import json, sys
import verl
from verl.plugin.platform import PlatformRegistry
from verl.workers.rollout.base import _ROLLOUT_REGISTRY
out = {"cpu_registered": PlatformRegistry.get("cpu") is not None,
       "hf_registered": ("hf", "async") in _ROLLOUT_REGISTRY,
       "backend_imported": "pmpo_verl.cpu_backend.register" in sys.modules,
       "pmpo_loss": "pmpo" in __import__("verl.trainer.ppo.core_algos", fromlist=["x"]).POLICY_LOSS_REGISTRY}
if out["cpu_registered"] and "--platform" in sys.argv:
    import os
    from verl.utils.device import get_device_name, get_device_id, get_nccl_backend, get_torch_device, get_resource_name
    out.update(device=get_device_name(), device_id=str(get_device_id()), backend=get_nccl_backend(),
               resource=get_resource_name(), engine_device=os.environ.get("VERL_ENGINE_DEVICE"))
    # verl's process-group initialisation must give plain gloo on CPU (not cpu:gloo,cpu:gloo)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29533", RANK="0", WORLD_SIZE="1")
    from verl.utils.distributed import initialize_global_process_group_ray
    import torch.distributed as dist
    initialize_global_process_group_ray()
    t = __import__("torch").ones(3)
    dist.all_reduce(t)
    out.update(pg_backend=str(dist.get_backend()), allreduce=t.tolist())
    dist.destroy_process_group()
print("PROBE " + json.dumps(out))
"""


def _probe(env, *args):
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    for line in proc.stdout.splitlines():
        if line.startswith("PROBE "):
            return json.loads(line[6:])
    raise AssertionError(proc.stderr[-3000:])


def test_gpu_users_untouched(cpu_env):
    out = _probe(cpu_env)
    assert out["pmpo_loss"]
    assert not out["backend_imported"] and not out["cpu_registered"] and not out["hf_registered"]


def test_verl_platform_cpu_selects_the_platform(cpu_env):
    out = _probe({**cpu_env, "VERL_PLATFORM": "cpu"}, "--platform")
    assert out["pmpo_loss"] and out["cpu_registered"] and out["hf_registered"]
    assert out["device"] == "cpu" and out["device_id"] == "cpu" and out["backend"] == "gloo"
    assert out["resource"] == "GPU"  # a logical Ray GPU per worker
    assert out["engine_device"] == "cuda"  # verl's FSDP engines are registered for cuda/npu only
    assert out["pg_backend"] == "gloo" and out["allreduce"] == [1.0, 1.0, 1.0]


def test_hf_rollout_alone(cpu_env):
    out = _probe({**cpu_env, "PMPO_VERL_ROLLOUT": "hf"})
    assert out["hf_registered"] and not out["cpu_registered"]


def test_device_module_surface():
    from pmpo_verl.cpu_backend.platform import PlatformCPU

    plat = PlatformCPU()
    m = plat.device_module
    assert plat.device_name == "cpu" and plat.is_available() and not plat.is_platform_available(use_smi_check=True)
    assert m.current_device() == torch.device("cpu") and m.device_count() == 1 and m.is_available()
    free, total = m.mem_get_info()
    assert 0 < free <= total
    for fn in ("synchronize", "empty_cache", "set_device", "reset_peak_memory_stats", "ipc_collect"):
        getattr(m, fn)()
    assert m.memory_allocated() == 0 and m.max_memory_reserved() == 0
    state = m.get_rng_state()
    a = torch.rand(2)
    m.set_rng_state(state)
    assert torch.equal(a, torch.rand(2))
    with m.stream(m.current_stream()):
        m.Event().record()
    assert plat.ray_resource_options(1) == {"num_gpus": 1} and not plat.is_ipc_supported()
    with plat.nvtx_range("x"):
        pass
