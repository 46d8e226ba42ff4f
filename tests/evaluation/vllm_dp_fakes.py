"""Fake vLLM data-parallel workers for test_vllm_dp.py, run in spawned children instead of an engine.

A worker is called with the engine arguments ``(model_path, tp, dtype, seed, gpu_memory_utilization,
max_model_len)`` and returns ``run(requests, settings)``. The tests pass GPU ids ``0, 1, ...`` with tp 1, so
``CUDA_VISIBLE_DEVICES`` is the rank. The tests put this directory on ``sys.path``, which spawned children
inherit, and name a worker ``vllm_dp_fakes:<function>``."""

import os
import signal
import subprocess
import sys
import time

from pmpo_verl.evaluation.backends import Generation


def _rank(engine_args) -> int:
    return int(os.environ["CUDA_VISIBLE_DEVICES"].split(",")[0]) // engine_args[1]


def _answer(requests, settings):
    gpus = os.environ["CUDA_VISIBLE_DEVICES"]
    return [Generation(f"{r.key[0]}/{r.key[1]} on {gpus}: \\boxed{{{r.key[0]}}}", "stop", len(r.prompt_ids))
            for r in requests]


def healthy(*engine_args):
    return _answer


def sigkill_at_start(*engine_args):
    if _rank(engine_args) == 1:
        os.kill(os.getpid(), signal.SIGKILL)  # what the OOM killer does
    return _answer


def exit_at_start(*engine_args):
    if _rank(engine_args) == 1:
        os._exit(3)
    return _answer


def raises_at_start(*engine_args):
    if _rank(engine_args) == 1:
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB\n(GPU 1; 79.1 GiB total)")
    return _answer


def hangs_at_start(*engine_args):
    time.sleep(3600)


def sigkill_in_second_chunk(*engine_args):
    calls = []

    def run(requests, settings):
        calls.append(1)
        if len(calls) == 2 and _rank(engine_args) == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return _answer(requests, settings)

    return run


def raises_in_generate(*engine_args):
    def run(requests, settings):
        if _rank(engine_args) == 1:
            raise ValueError("prompt of 5000 tokens is longer than max_model_len 4096")
        return _answer(requests, settings)

    return run


def drops_one(*engine_args):
    return lambda requests, settings: _answer(requests, settings)[1:]


def hangs_in_generate(pid_dir, *engine_args):
    """Ignores SIGTERM, starts two grandchildren (one in the worker's process group, one in a session of its
    own), writes all pids to ``<pid_dir>/pids-<rank>``, then hangs in ``run``."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    same_group = subprocess.Popen(sleeper)
    own_session = subprocess.Popen(sleeper, start_new_session=True)
    path = os.path.join(pid_dir, f"pids-{_rank((pid_dir, *engine_args))}")
    with open(path + ".tmp", "w") as fh:
        fh.write(f"{os.getpid()} {same_group.pid} {own_session.pid}")
    os.replace(path + ".tmp", path)

    def run(requests, settings):
        time.sleep(3600)

    return run
