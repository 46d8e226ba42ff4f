"""Per-part wall time of the PMPO loss in a process with ONE PMPO setting (as in training).

Prints the median time of a full call (objective + metrics + backward) and of its two compiled parts,
the no-grad statistics (clip fraction, ESS, solver) and the sequence loss (its no-grad forward with the
closed-form token derivative, then the one-multiply backward), plus dynamo's graph counters.
``--profile`` adds, from ``torch.profiler``, the summed kernel time per call on CUDA (what the GPU itself
spends, without the host's launch overhead) and the number of kernels / ATen ops per call, for PMPO and
for verl's ``vanilla`` (:func:`pmpo_verl.bench.baselines.vanilla`) on the same tensors, plus ``vanilla``'s
wall time: when the wall time is far above the kernel time, the call is host-bound. Run it twice to compare
eager and compiled:

    PMPO_VERL_COMPILE=0 python scripts/profile_loss_parts.py --device cuda
    python scripts/profile_loss_parts.py --device cuda          # auto: compiled on CUDA
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch._dynamo.utils as dynamo_utils  # noqa: E402

from pmpo_verl.algo import PMPOSettings, objective, pmpo_objective  # noqa: E402
from pmpo_verl.algo import compile as pmpo_compile  # noqa: E402
from pmpo_verl.bench import baselines  # noqa: E402
from pmpo_verl.bench.inputs import log_ratio_batch  # noqa: E402
from pmpo_verl.bench.timing import median_ms, profiled  # noqa: E402
from pmpo_verl.metrics import pmpo_metrics  # noqa: E402


def vanilla_call(log_ratio: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor) -> Callable[[], None]:
    """verl 0.9.1's ``vanilla`` (the inline copy, checked by bench_loss.py's self-check against verl) with the
    ratio band matched to the log-space clip, forward with its three ``.item()`` metrics plus backward."""
    old = torch.zeros_like(log_ratio)
    advantages = adv.unsqueeze(-1) * mask
    info = baselines.batch_info_for(mask)

    def call() -> None:
        log_prob = log_ratio.clone().requires_grad_(True)
        loss, _ = baselines.vanilla(old, log_prob, advantages, mask, "seq-mean-token-mean",
                                    *baselines.VANILLA_BAND, baselines.CLIP_RATIO_C_OFF, info)
        loss.backward()

    return call


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--size", default="256x8192", help="B x T")
    ap.add_argument("--profile", action="store_true",
                    help="also kernel time and kernel/op counts (torch.profiler)")
    args = ap.parse_args()
    device = torch.device(args.device)
    batch, length = (int(v) for v in args.size.split("x"))
    inputs = log_ratio_batch(batch, length, device)
    log_ratio, adv, mask = inputs.log_ratio, inputs.seq_adv, inputs.mask
    adv_tokens = adv.unsqueeze(-1).expand(batch, length)
    settings = PMPOSettings()

    def full_call() -> None:
        x = log_ratio.clone().requires_grad_(True)
        out = pmpo_objective(x, adv, mask, settings)
        pmpo_metrics(out, x.detach(), adv_tokens, mask, adv, settings.clip_saturation)
        (out.seq_loss.sum() / batch).backward()

    stats_fn = pmpo_compile.maybe_compiled("pmpo_statistics", objective._statistics, device)
    p = stats_fn(log_ratio, adv, mask, settings).p

    def sequence_loss() -> None:
        x = log_ratio.clone().requires_grad_(True)
        objective._SequenceLoss.apply(x, adv, mask, p, settings)[0].sum().backward()

    mode = os.environ.get("PMPO_VERL_COMPILE", "auto")
    print(f"device {device} size {args.size} PMPO_VERL_COMPILE={mode} "
          f"PMPO_VERL_COMPILE_MODE={pmpo_compile.compile_mode() or '(torch default)'}")
    if args.profile:
        vanilla = vanilla_call(log_ratio, adv, mask)
        for name, fn in (("vanilla (verl 0.9.1 math, bench_loss.py's inline reference)", vanilla),
                         ("PMPO full call", full_call)):
            prof = profiled(fn, device)
            cuda = device.type == "cuda"
            kernel = f"{prof.kernel_ms:.3f} ms in {prof.kernels:.0f} kernels, " if cuda else ""
            print(f"{name}, profiled: {kernel}{prof.aten_ops:.0f} ATen op events per call "
                  f"(nested ones included)")
        print(f"vanilla fwd + metrics + bwd:                {median_ms(vanilla, device):.3f} ms")
    print(f"full call (objective + metrics + backward): {median_ms(full_call, device):.3f} ms")
    statistics_ms = median_ms(lambda: stats_fn(log_ratio, adv, mask, settings), device)
    print(f"statistics (no grad, incl. solver):         {statistics_ms:.3f} ms")
    print(f"sequence loss forward + backward:           {median_ms(sequence_loss, device):.3f} ms")
    print(f"dynamo: {dict(dynamo_utils.counters['stats'])}, "
          f"fell back to eager: {pmpo_compile._FAILED or 'none'}")


if __name__ == "__main__":
    main()
