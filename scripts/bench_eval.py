#!/usr/bin/env python
"""Benchmark: scoring throughput of ``pmpo-verl eval``.

Scores the 5,000 MATH test reference solutions (``../shared/data/benchmarks/math_test5000.jsonl``) against
their golds (each solution's last ``\\boxed{}``, read as the verifier benchmark reads them,
:func:`pmpo_verl.bench.verifier_sets.math5000_golds` with :func:`reward.gold.last_boxed`) through
:func:`pmpo_verl.evaluation.scoring.score`, the function the eval command scores every chunk with
(``reward.verify_batch(mode="eval")``). Reports responses per second over the whole run (process-pool
start-up included), per-response latency p50/p99 (the verdicts' ``elapsed_ms``), accuracy and statuses.

Usage: ``python scripts/bench_eval.py [--workers 2] [--timeout 5] [--chunk 512] [--limit N] [--repeat 1]``.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# the MATH-5000 golds exactly as the verifier benchmark and the training data read them
from pmpo_verl.bench import verifier_sets  # noqa: E402

DATA = verifier_sets.DATA / "math_test5000.jsonl"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    idx = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[idx]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--chunk", type=int, default=512, help="responses per verify_batch call")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=1, help="timed passes (the first includes pool start-up)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    from pmpo_verl.evaluation.scoring import score

    if not os.path.isfile(args.data):
        print(f"error: {args.data} not found (the MATH test set of ../shared/data/benchmarks)",
              file=sys.stderr)
        return 2
    pairs = verifier_sets.math5000_golds(Path(args.data))[: args.limit]
    responses, golds = [p[0] for p in pairs], [p[1] for p in pairs]
    print(f"# scoring {len(responses)} MATH test reference solutions against their last \\boxed{{}}; "
          f"workers={args.workers} timeout={args.timeout}s chunk={args.chunk}; cpu_count={os.cpu_count()}")
    print("| pass | responses | wall s | responses/s | p50 ms | p99 ms | max ms | correct | statuses |")
    print("|---|---|---|---|---|---|---|---|---|")
    for rep in range(args.repeat):
        t0 = time.perf_counter()
        verdicts = score(responses, golds, timeout=args.timeout, workers=args.workers, chunk=args.chunk,
                         desc="score", progress=not args.no_progress)
        wall = time.perf_counter() - t0
        ms = [v.elapsed_ms for v in verdicts]
        statuses = collections.Counter(v.status for v in verdicts)
        correct = sum(v.correct for v in verdicts)
        label = "1 (cold pool)" if rep == 0 else str(rep + 1)
        print(f"| {label} | {len(verdicts)} | {wall:.2f} | {len(verdicts) / wall:.0f} | "
              f"{statistics.median(ms):.2f} | {percentile(ms, 99):.2f} | {max(ms):.1f} | "
              f"{correct} ({100 * correct / len(verdicts):.2f}%) | "
              f"{', '.join(f'{k} {n}' for k, n in statuses.most_common())} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
