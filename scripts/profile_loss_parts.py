"""Per-part wall time of the PMPO loss in a process with ONE PMPO setting (as in training).

Prints the median time of a full call (objective + metrics + backward) and of its two compiled parts,
the no-grad statistics (clip fraction, ESS, solver) and the sequence loss (its no-grad forward with the
closed-form token derivative, then the one-multiply backward), plus dynamo's graph counters.
``--profile`` adds, from ``torch.profiler``, the summed kernel time per call on CUDA (what the GPU itself
spends, without the host's launch overhead) and the number of kernels / ATen ops per call, for PMPO and
for verl's ``vanilla`` (bench_loss.py's inline copy) on the same tensors, plus ``vanilla``'s wall time:
when the wall time is far above the kernel time, the call is host-bound. Run it twice to compare eager and
compiled:

    PMPO_VERL_COMPILE=0 python scripts/profile_loss_parts.py --device cuda
    python scripts/profile_loss_parts.py --device cuda          # auto: compiled on CUDA
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torch._dynamo.utils as dynamo_utils

from pmpo_verl.algo import (
    PMPOSettings,
    objective,
    pmpo_objective,
    sequence_advantage,
)
from pmpo_verl.algo import compile as pmpo_compile
from pmpo_verl.metrics import pmpo_metrics


def _synchronizer(device: torch.device):
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def median_ms(fn, device: torch.device, reps: int = 30) -> float:
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


def profiled(fn, device: torch.device, reps: int = 10) -> tuple[float, float, float]:
    """Per call: summed device-kernel time in ms (CUDA only, else 0), kernels launched, ATen op events (nested included)."""
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
    return kernel_us / reps / 1e3, kernels / reps, ops / reps


def vanilla_call(log_ratio: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor):
    """verl 0.9.1's ``vanilla`` (bench_loss.py's inline copy, checked there against verl) with the ratio
    band matched to the log-space clip, forward with its three ``.item()`` metrics plus backward."""
    spec = importlib.util.spec_from_file_location("bench_loss", Path(__file__).with_name("bench_loss.py"))
    bench = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # registered first: its dataclasses need it
    spec.loader.exec_module(bench)
    old = torch.zeros_like(log_ratio)
    advantages = adv.unsqueeze(-1) * mask
    info = bench.batch_info_for(mask)

    def call():
        log_prob = log_ratio.clone().requires_grad_(True)
        loss, _ = bench.ref_vanilla(old, log_prob, advantages, mask, "seq-mean-token-mean", *bench.VANILLA_BAND,
                                    bench.CLIP_RATIO_C_OFF, info)
        loss.backward()

    return call


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--size", default="256x8192", help="B x T")
    ap.add_argument("--profile", action="store_true", help="also kernel time and kernel/op counts (torch.profiler)")
    args = ap.parse_args()
    device = torch.device(args.device)
    batch, length = (int(v) for v in args.size.split("x"))
    g = torch.Generator().manual_seed(0)
    mask = (torch.arange(length) < torch.randint(length // 16, length + 1, (batch, 1), generator=g)).to(device)
    log_ratio = (torch.randn(batch, length, generator=g) * 0.15).to(device) * mask
    adv = sequence_advantage(torch.randn(batch, 1, generator=g).expand(batch, length).to(device), mask)
    adv_tokens = adv.unsqueeze(-1).expand(batch, length)
    settings = PMPOSettings()

    def full_call():
        x = log_ratio.clone().requires_grad_(True)
        out = pmpo_objective(x, adv, mask, settings)
        pmpo_metrics(out, x.detach(), adv_tokens, mask, adv, settings.clip_saturation)
        (out.seq_loss.sum() / batch).backward()

    stats_fn = pmpo_compile.maybe_compiled("pmpo_statistics", objective._statistics, device)
    p = stats_fn(log_ratio, adv, mask, settings)[0]

    def sequence_loss():
        x = log_ratio.clone().requires_grad_(True)
        objective._SequenceLoss.apply(x, adv, mask, p, settings)[0].sum().backward()

    mode = os.environ.get("PMPO_VERL_COMPILE", "auto")
    print(f"device {device} size {args.size} PMPO_VERL_COMPILE={mode} "
          f"PMPO_VERL_COMPILE_MODE={pmpo_compile.compile_mode() or '(torch default)'}")
    if args.profile:
        vanilla = vanilla_call(log_ratio, adv, mask)
        for name, fn in (("vanilla (verl 0.9.1 math, bench_loss.py's inline reference)", vanilla), ("PMPO full call", full_call)):
            kernel_ms, kernels, ops = profiled(fn, device)
            kernel = f"{kernel_ms:.3f} ms in {kernels:.0f} kernels, " if device.type == "cuda" else ""
            print(f"{name}, profiled: {kernel}{ops:.0f} ATen op events per call (nested ones included)")
        print(f"vanilla fwd + metrics + bwd:                {median_ms(vanilla, device):.3f} ms")
    print(f"full call (objective + metrics + backward): {median_ms(full_call, device):.3f} ms")
    print(f"statistics (no grad, incl. solver):         {median_ms(lambda: stats_fn(log_ratio, adv, mask, settings), device):.3f} ms")
    print(f"sequence loss forward + backward:           {median_ms(sequence_loss, device):.3f} ms")
    print(f"dynamo: {dict(dynamo_utils.counters['stats'])}, fell back to eager: {pmpo_compile._FAILED or 'none'}")


if __name__ == "__main__":
    main()
