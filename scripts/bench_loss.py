#!/usr/bin/env python
"""Forward+backward time and peak memory of policy losses: verl's ``vanilla`` / ``geo_mean`` vs PMPO.

Methods (all the same family of objective: token-level clip, one loss per trajectory):

- ``vanilla``   verl PPO/GRPO loss, ``loss_agg_mode=seq-mean-token-mean``, ratio band matched to the
                log-space clip (``clip_ratio_low = 1 - e^-0.4``, ``clip_ratio_high = e^0.4 - 1``), dual clip
                off (``clip_ratio_c`` = 1e9): exactly PMPO ``fixed p=1``.
- ``geo_mean``  verl GMPO loss, log-space clip 0.4/0.4: PMPO ``fixed p=0`` (up to its aggregation).
- PMPO ``fixed p=1``, ``fixed p=0``, ``adaptive`` (defaults, solver newton) and ``adaptive`` with
  ``solver=bisection``, log-space clip 0.4/0.4.

Everything is measured side by side in one run, per size in interleaved rounds, median of ``--repeats``
rounds after ``--warmup`` (:mod:`pmpo_verl.bench.loss_runner`); a "call" is the loss with its metrics plus
``loss.backward()`` (:mod:`pmpo_verl.bench.timing`); peak memory is measured by the CUDA allocator or, on
CPU, an exact storage tracker (:mod:`pmpo_verl.bench.memory`), validated by a self-check first
(:mod:`pmpo_verl.bench.self_check`). The losses are verl's registry when verl is importable, else inline
re-implementations of verl 0.9.1's math (:mod:`pmpo_verl.bench.backends`). Results: docs/benchmarks.md.

Usage (from the repository root, no installation needed)::

    python scripts/bench_loss.py                       # CPU defaults (or CUDA defaults on a GPU box)
    python scripts/bench_loss.py --device cuda --markdown --out bench_gpu.md
    python scripts/bench_loss.py --sizes 64x2048,256x8192:bf16 --repeats 20
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
import torch._dynamo.config  # noqa: E402

from pmpo_verl.algo import compile as pmpo_compile  # noqa: E402
from pmpo_verl.bench.backends import load_backend  # noqa: E402
from pmpo_verl.bench.loss_report import (  # noqa: E402
    fmt_details,
    fmt_table,
    loadavg,
    method_lines,
    write_report,
)
from pmpo_verl.bench.loss_runner import CPU_SIZES, CUDA_SIZES, DTYPES, parse_sizes, run_size  # noqa: E402
from pmpo_verl.bench.self_check import self_check  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cpu", "cuda"],
                    default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                    help="dtype of log_prob/old_log_prob for sizes without ':dtype' (advantages stay fp32)")
    ap.add_argument("--sizes", default=None,
                    help=f"comma list of BxT[:dtype]; default CPU {CPU_SIZES}, CUDA {CUDA_SIZES}")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed rounds per size (default CPU 15, CUDA 30)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed rounds first (default CPU 3, CUDA 5)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: os.cpu_count())")
    ap.add_argument("--impl", choices=["auto", "verl", "inline"], default="auto",
                    help="auto: verl's registry when verl is importable, else inline references")
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown")
    ap.add_argument("--out", default=None, help="also write the report to FILE (and JSON to FILE with .json)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-self-check", action="store_true")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    # A training process uses one PMPO setting; this script runs four (fixed p=1, p=0, newton, bisection),
    # each compiled on its own. With dynamo's default limit of 8 graphs per function they would overflow it
    # and silently fall back to eager, which a real run never does.
    torch._dynamo.config.recompile_limit = 64
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available")
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    cuda = device.type == "cuda"
    sizes = parse_sizes(args.sizes or (CUDA_SIZES if cuda else CPU_SIZES), DTYPES[args.dtype])
    repeats = args.repeats or (30 if cuda else 15)
    warmup = args.warmup if args.warmup is not None else (5 if cuda else 3)

    backend = load_backend(args.impl)
    if cuda:
        machine = f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    else:
        machine = f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} logical cores"
    command = [os.path.relpath(sys.argv[0]) if sys.argv[0] else "bench_loss.py"] + sys.argv[1:]
    header = [
        f"bench_loss: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"command: python {' '.join(command)}",
        f"machine: {machine}; torch {torch.__version__}, torch threads {torch.get_num_threads()}, "
        f"python {platform.python_version()}, load average at start {loadavg()}",
        f"losses: {backend.description}",
        *method_lines(cuda, warmup, repeats),
    ]
    for line in header:
        print(line, flush=True)

    checks = [] if args.skip_self_check else self_check(backend, device)
    for line in checks:
        print("self-check: " + line, flush=True)

    results = []
    for size in sizes:
        t0 = time.perf_counter()
        res = run_size(backend, size, device, warmup, repeats, args.seed)
        res["wall_s"] = time.perf_counter() - t0
        results.append(res)
        print(f"[{size.batch}x{size.length} {res['dtype']} done in {res['wall_s']:.1f} s]", flush=True)
        if cuda:
            torch.cuda.empty_cache()

    end_lines = [
        f"load average at end {loadavg()}: includes this run's own threads; anything well above the torch "
        f"thread count means other processes disturbed the CPU timings",
        f"pmpo_verl compiled parts: "
        f"{sorted(set(pmpo_compile._CACHE) - set(pmpo_compile._FAILED)) or 'none'}; "
        f"fell back to eager: {sorted(pmpo_compile._FAILED) or 'none'}",
    ]
    header.extend(end_lines)
    print("\n".join(end_lines))
    table = fmt_table(results, args.markdown)
    details = [line for res in results for line in fmt_details(res, device)]
    print()
    print(table)
    print()
    for line in details:
        print(line)

    if args.out:
        payload = {"header": header, "self_check": checks, "results": results, "device": str(device),
                   "torch": torch.__version__, "threads": torch.get_num_threads(), "backend": backend.name}
        text = header + [f"self-check: {c}" for c in checks] + ["", table, ""] + details
        print("\n" + write_report(Path(args.out), payload, text, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
