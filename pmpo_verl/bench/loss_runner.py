"""One size of the loss benchmark: every method measured side by side on the same tensors.

Per size: a reference pass (value, gradient and metrics of every method, so that PMPO ``fixed p=1`` /
``p=0`` can be checked against ``vanilla`` / ``geo_mean`` on the benchmark's own tensors), then
``warmup + repeats`` interleaved rounds (the order of the methods rotates every round; the garbage
collector runs between rounds only) of which the median of the last ``repeats`` is reported, with ratios
to ``vanilla``, then one call per method for peak memory (:mod:`.memory`).
"""

from __future__ import annotations

import gc
import statistics
from typing import Any, NamedTuple

import torch

from ..metric_reading import call_summary
from .backends import METHODS, Backend
from .inputs import realistic_batch
from .memory import StorageTracker, allocator_peak_cpu, peak_call, tracked_call
from .timing import timed_call

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
CPU_SIZES = "64x1024,64x2048,128x4096,256x2048"
CUDA_SIZES = "64x2048,256x8192,512x8192,256x8192:bf16"


class Size(NamedTuple):
    """One benchmarked micro-batch shape: ``batch`` rows of ``length`` tokens, log-probs in ``dtype``."""

    batch: int
    length: int
    dtype: torch.dtype


class RelDiff(NamedTuple):
    """Relative difference of two methods: ``|dL| / |L_ref|`` and ``max |d grad| / max |grad_ref|``."""

    loss: float
    grad: float


def parse_sizes(text: str, default_dtype: torch.dtype) -> list[Size]:
    """``"64x2048,256x8192:bf16"`` -> sizes; an item without ``:dtype`` gets ``default_dtype``."""
    sizes = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        shape, _, dt = item.partition(":")
        batch, length = (int(v) for v in shape.lower().split("x"))
        sizes.append(Size(batch, length, DTYPES[dt.lower()] if dt else default_dtype))
    return sizes


def run_size(backend: Backend, size: Size, device: torch.device, warmup: int, repeats: int,
             seed: int) -> dict[str, Any]:
    """Values, timings and peak memory of every method at ``size`` (the JSON record of the report)."""
    inputs = realistic_batch(size.batch, size.length, size.dtype, device, seed)
    log_prob, mask = inputs.log_prob, inputs.mask
    calls = {m.key: backend.make_call(m, inputs) for m in METHODS}

    # Reference pass: values, gradients and metrics of every method on the same tensors.
    values, grads, metrics = {}, {}, {}
    for m in METHODS:
        log_prob.grad = None
        loss, metrics[m.key] = calls[m.key]()
        loss.backward()
        values[m.key] = float(loss.detach().double())
        grads[m.key] = log_prob.grad.detach().double().clone()
    log_prob.grad = None

    def rel(a: str, b: str) -> RelDiff:
        dv = abs(values[a] - values[b]) / max(abs(values[b]), 1e-30)
        dg = float((grads[a] - grads[b]).abs().max() / grads[b].abs().max().clamp_min(1e-30))
        return RelDiff(loss=dv, grad=dg)

    checks = {"p1_vs_vanilla": rel("pmpo_p1", "vanilla"), "p0_vs_geo_mean": rel("pmpo_p0", "geo_mean"),
              "newton_vs_bisection": rel("pmpo_adaptive", "pmpo_adaptive_bisect")}
    grads.clear()

    # Timing: interleaved rounds, rotating order, median after warm-up.
    times: dict[str, list[float]] = {m.key: [] for m in METHODS}
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(warmup + repeats):
            order = METHODS[r % len(METHODS):] + METHODS[: r % len(METHODS)]
            for m in order:
                t = timed_call(calls[m.key], log_prob, device)
                if r >= warmup:
                    times[m.key].append(t)
            gc.collect()
    finally:
        if gc_was_enabled:
            gc.enable()
    log_prob.grad = None

    peaks = {m.key: peak_call(calls[m.key], log_prob, device) for m in METHODS}
    tracked: dict[str, StorageTracker] = {}
    for m in METHODS:  # op counts (and on CPU the same peak as above); informational on CUDA
        try:
            tracked[m.key] = tracked_call(calls[m.key], log_prob)
        except Exception as exc:  # never lose an accelerator run to the op counter
            print(f"warning: storage tracker failed for {m.key}: {exc!r}")
    alloc_peaks = {}
    if device.type == "cpu":
        alloc_peaks = {m.key: allocator_peak_cpu(calls[m.key], log_prob) for m in METHODS}
    rows = []
    for m in METHODS:
        ts = sorted(times[m.key])
        rows.append({
            "method": m.key, "label": m.label, "median_ms": statistics.median(ts), "min_ms": ts[0],
            "max_ms": ts[-1], "peak_bytes": peaks[m.key],
            "time_ratio": statistics.median(ts) / statistics.median(times["vanilla"]),
            "mem_ratio": peaks[m.key] / max(peaks["vanilla"], 1),
            "loss": values[m.key], "alloc_peak_bytes": alloc_peaks.get(m.key),
            "tracker_peak_bytes": getattr(tracked.get(m.key), "peak_bytes", None),
            "aten_ops": getattr(tracked.get(m.key), "ops", None),
        })
    input_bytes = sum(t.untyped_storage().nbytes() for t in inputs)  # every input tensor
    return {
        "batch": size.batch, "length": size.length, "dtype": str(size.dtype).replace("torch.", ""),
        "tokens": int(mask.sum()), "input_bytes": input_bytes, "rows": rows, "checks": checks,
        "metrics": {k: call_summary(metrics[k])
                    for k in ("pmpo_adaptive", "pmpo_adaptive_bisect", "vanilla")},
    }
