"""The loss benchmark's self-check, run before measuring: are the instruments and the inline path right?

1. The storage tracker is exact on known allocations (CPU), and its peak equals the CPU allocator's own
   balance from ``torch.profiler`` on a graph without kernel-internal temporaries.
2. On CUDA (informational): tracker vs the CUDA allocator, and the CUDA objective (compiled by default)
   against eager CPU float64 on the same trajectories.
3. ``pmpo_verl.trajectory_loss`` imports no verl module in a fresh interpreter (the inline path runs on
   torch-only boxes).
4. With verl: the inline path equals verl's registry for every method (values and gradients).

Each passing check returns one line ending in ``: OK`` (a failure raises).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import torch

from ..algo import PMPOSettings, pmpo_objective, sequence_advantage
from ..algo.compile import compile_enabled
from .backends import METHOD, METHODS, Backend, InlineBackend, VerlBackend
from .inputs import realistic_batch
from .memory import StorageTracker, allocator_peak_cpu, peak_call, tracked_call

REPO_ROOT = Path(__file__).resolve().parents[2]


def self_check(backend: Backend, device: torch.device) -> list[str]:
    """Validate the storage tracker (exact numbers) and, with verl, the inline reference path."""
    lines = [_tracker_exact(), _tracker_vs_profiler()]
    if device.type == "cuda":  # informational: the CUDA numbers come from the allocator, not the tracker
        lines += _tracker_vs_cuda_allocator(backend, device)
        lines.append(cuda_matches_cpu())
    lines.append(_inline_path_is_verl_free())
    if isinstance(backend, VerlBackend):
        lines.append(_inline_equals_verl(backend, device))
    return lines


def _tracker_exact() -> str:
    n = 1 << 18  # 1 MiB of float32
    device = torch.device("cpu")  # the tracker measures CPU memory: validate it there
    outside = torch.randn(n, device=device)
    with StorageTracker() as tr:
        a = torch.empty(n, dtype=torch.float32, device=device)
        after_alloc = tr.live_bytes
        assert a.untyped_storage() is a[1:].untyped_storage(), "storage objects are not preserved"
        _ = a.view(2, -1), a[::2], a.unsqueeze(0)  # views: no new storage
        _ = outside.detach(), outside.view(4, -1)  # views of a pre-existing tensor: not counted
        outside.mul_(1.0)  # in-place on a pre-existing tensor: not counted
        after_views = tr.live_bytes
        del a, _
        after_free = tr.live_bytes
        b = torch.empty(n // 2, dtype=torch.float64, device=device)  # 1 MiB, fits in the freed peak
        c = torch.empty(n // 4, dtype=torch.float32, device=device)  # 0.25 MiB on top
        peak_mixed = tr.peak_bytes
        x = torch.randn(n, device=device, requires_grad=True)  # 1 MiB, lives on
        loss = (x * 2.0).exp().sum()
        loss.backward()  # temporaries freed; x.grad (1 MiB) and the scalar loss stay
        live_end = tr.live_bytes
    expected = {
        "alloc 1 MiB": (after_alloc, 4 * n),
        "views add nothing": (after_views, 4 * n),
        "free returns to 0": (after_free, 0),
        "peak after 1 MiB + 0.25 MiB": (peak_mixed, 4 * n + n),
        "b + c + x + x.grad + loss live at end": (live_end, 4 * n + n + 4 * n + 4 * n + 4),
    }
    for name, (got, want) in expected.items():
        if got != want:
            raise AssertionError(f"storage tracker self-check failed: {name}: got {got}, expected {want}")
    if not tr.peak_bytes >= live_end + 4 * n:  # exp(2x) is saved for backward: at least 1 MiB more at peak
        raise AssertionError(f"storage tracker self-check failed: peak {tr.peak_bytes} < {live_end + 4 * n}")
    del b, c, x, loss
    return ("storage tracker: exact on known allocations (1 MiB alloc, views/detach/in-place on inputs = 0, "
            "free -> 0, 1 MiB + 0.25 MiB peak, x.grad counted after backward): OK")


def _tracker_vs_profiler() -> str:
    """Independent accounting: the CPU allocator's balance seen by torch.profiler, on a graph without
    kernel-internal temporaries, must give the same peak as the tracker."""
    y = torch.randn(1 << 18, requires_grad=True)
    graph = lambda: ((y * 2.0).exp() * y).sum()  # noqa: E731
    graph().backward()
    y.grad = None
    with StorageTracker() as tracker:
        out = graph()
        out.backward()
    del out
    prof_peak = allocator_peak_cpu(lambda: (graph(), {}), y)
    # The allocator also sees the 0-d tensor that wraps the Python scalar 2.0 (8 bytes, made before dispatch).
    if prof_peak is not None and abs(prof_peak - tracker.peak_bytes) > 64:
        raise AssertionError(f"storage tracker {tracker.peak_bytes} B != CPU allocator peak {prof_peak} B "
                             f"(profiler)")
    return (f"storage tracker vs CPU allocator peak from torch.profiler on a 1 MiB fwd+bwd graph: "
            f"{tracker.peak_bytes} B vs {prof_peak} B (allocator adds the wrapped scalar): OK")


def _tracker_vs_cuda_allocator(backend: Backend, device: torch.device) -> list[str]:
    lines = []
    try:
        batch = realistic_batch(16, 512, torch.float32, device, seed=3)
        for m in (METHOD["vanilla"], METHOD["pmpo_adaptive"]):
            call = backend.make_call(m, batch)
            call()[0].backward()
            tracker = tracked_call(call, batch.log_prob)
            alloc = peak_call(call, batch.log_prob, device)
            lines.append(f"storage tracker vs CUDA allocator ({m.key} 16x512): tracker "
                         f"{tracker.peak_bytes} B, max_memory_allocated - memory_allocated {alloc} B")
    except Exception as exc:  # never lose the GPU run to this comparison
        lines.append(f"storage tracker vs CUDA allocator: comparison failed: {exc!r}")
    return lines


class _Result(NamedTuple):
    p: torch.Tensor
    seq_loss: torch.Tensor
    grad: torch.Tensor


def cuda_matches_cpu() -> str:
    """The CUDA objective (compiled by default) against eager CPU float64 on the same trajectories."""
    batch = realistic_batch(64, 2048, torch.float32, torch.device("cpu"), seed=5)
    results = {}
    for dev, dtype in (("cpu", torch.float64), ("cuda", torch.float32)):
        x = (batch.log_prob.detach() - batch.old_log_prob).to(device=dev, dtype=dtype).requires_grad_(True)
        m = batch.mask.to(dev)
        out = pmpo_objective(x, sequence_advantage(batch.advantages.to(device=dev, dtype=dtype), m), m,
                             PMPOSettings())
        out.seq_loss.sum().backward()
        results[dev] = _Result(p=out.p.double().cpu(), seq_loss=out.seq_loss.detach().double().cpu(),
                               grad=x.grad.double().cpu())
    cpu, cuda = results["cpu"], results["cuda"]
    dp = float((cuda.p - cpu.p).abs().max())
    dl = float(((cuda.seq_loss - cpu.seq_loss).abs() / cpu.seq_loss.abs().clamp_min(1e-6)).max())
    dg = float((cuda.grad - cpu.grad).abs().max() / cpu.grad.abs().max())
    ok = dp < 1e-6 and dl < 1e-5 and dg < 1e-5
    mode = "compiled" if compile_enabled(torch.device("cuda")) else "eager"
    return (f"CUDA fp32 ({mode}) vs CPU fp64 eager, adaptive PMPO 64x2048: max |dp| {dp:.1e}, max rel d loss "
            f"{dl:.1e}, rel d grad {dg:.1e}: {'OK' if ok else 'MISMATCH'}")


def _inline_path_is_verl_free() -> str:
    """The inline path's modules must import without verl (it runs on torch-only boxes)."""
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import pmpo_verl.trajectory_loss; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'verl'))")
    found = subprocess.run([sys.executable, "-c", probe, str(REPO_ROOT)], capture_output=True, text=True,
                           timeout=300)
    if found.returncode != 0:
        raise AssertionError(f"importing pmpo_verl.trajectory_loss in a fresh interpreter failed:\n"
                             f"{found.stderr}")
    if found.stdout.strip() != "[]":
        raise AssertionError(f"importing pmpo_verl.trajectory_loss imports verl modules: "
                             f"{found.stdout.strip()}")
    return ("fresh interpreter: `import pmpo_verl.trajectory_loss` (pmpo_verl, .algo, .metrics) loads no "
            "verl module: OK")


def _inline_equals_verl(backend: VerlBackend, device: torch.device) -> str:
    inline = InlineBackend()
    batch = realistic_batch(8, 256, torch.float32, device, seed=1)
    lp = batch.log_prob
    worst = 0.0
    for m in METHODS:
        out = []
        for be in (backend, inline):
            lp.grad = None
            loss, _ = be.make_call(m, batch)()
            loss.backward()
            out.append((loss.detach(), lp.grad.clone()))
        (verl_loss, verl_grad), (inline_loss, inline_grad) = out
        torch.testing.assert_close(inline_loss, verl_loss, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(inline_grad, verl_grad, rtol=1e-6, atol=1e-7)
        worst = max(worst, float((inline_grad - verl_grad).abs().max()))
    lp.grad = None
    return (f"inline reference path == verl path for all {len(METHODS)} methods (values and grads, "
            f"max |d grad| {worst:.1e}): OK")
