"""Wall time and kernel time of one call.

A "call" is what verl's ``ppo_loss`` does per micro-batch: the loss function (including its metrics, i.e.
its host synchronisations) plus ``loss.backward()`` down to ``log_prob``. On CUDA the wall time comes from
CUDA events around the call after ``torch.cuda.synchronize()``; on CPU from ``time.perf_counter``.
Kernel time (:func:`profiled`) is what the GPU itself spends, without the host's launch overhead: when
the wall time is far above it, the call is host-bound.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from .baselines import LossCall


def timed_call(call: LossCall, log_prob: torch.Tensor, device: torch.device) -> float:
    """Milliseconds for one forward+backward (loss incl. its metrics, then ``loss.backward()``)."""
    log_prob.grad = None
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        loss, _ = call()
        loss.backward()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end)
    t0 = time.perf_counter()
    loss, _ = call()
    loss.backward()
    return (time.perf_counter() - t0) * 1e3


def _synchronizer(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def median_ms(fn: Callable[[], Any], device: torch.device, reps: int = 30) -> float:
    """Median wall milliseconds of ``fn`` (device-synchronised) over ``reps`` runs after 5 warm-up runs."""
    sync = _synchronizer(device)
    for _ in range(5):
        fn()
    sync()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


class KernelProfile(NamedTuple):
    """Per call, from ``torch.profiler``."""

    kernel_ms: float  # summed device-kernel time (CUDA only, else 0)
    kernels: float  # kernels launched
    aten_ops: float  # ATen op events, nested ones included


def profiled(fn: Callable[[], Any], device: torch.device, reps: int = 10) -> KernelProfile:
    """Kernel time and kernel / ATen op counts per call of ``fn``, over ``reps`` profiled calls."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    sync = _synchronizer(device)
    fn()
    sync()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(reps):
            fn()
        sync()
    events = prof.key_averages()
    # kernel events only: a CPU op's self device time repeats the kernels it launched
    on_device = [e for e in events if e.device_type != DeviceType.CPU and e.self_device_time_total > 0]
    kernel_us = sum(e.self_device_time_total for e in on_device)
    kernels = sum(e.count for e in on_device)
    ops = sum(e.count for e in events if e.key.startswith("aten::"))
    return KernelProfile(kernel_ms=kernel_us / reps / 1e3, kernels=kernels / reps, aten_ops=ops / reps)
