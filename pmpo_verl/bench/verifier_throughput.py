"""Throughput of both verifiers on real responses with warm workers (issue 14's target: ours >= 3x).

The 5,000 MATH test reference solutions against their own gold (the last ``\\boxed{}``, as in set (b)),
scored by ours (``verify_batch``, eval mode, a fresh pool warmed by a small untimed batch) and by
Math-Verify (same pairs, recommended configuration, in this process as it runs, after the same untimed
warm-up), in alternating rounds; both verifiers' caches (and sympy's) are cleared before each round, so no
round reuses another's work. Prints one row per round and verifier; returns the summary line with the
median responses/s of both and their ratio per round and as the median over rounds.
"""

from __future__ import annotations

import os
import statistics
import sys

from .math_verify_adapter import MV_VERSION, mv_default
from .verifier_compare import run_math_verify, run_ours
from .verifier_score import TIMEOUT, Score
from .verifier_sets import Pair, math5000_positives

WARMUP = [(f"so \\boxed{{\\sqrt{{{k * k * 2}}}}}", f"{k}\\sqrt{{2}}") for k in range(2, 18)] + \
         [(f"\\boxed{{\\frac{{x^2-{k * k}}}{{x-{k}}}}}", f"x+{k}") for k in range(2, 18)]


def clear_caches(prefixes: tuple[str, ...]) -> None:
    """Empty every ``functools`` cache of the loaded modules under ``prefixes`` (and sympy's cache)."""
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(prefixes):
            continue
        for obj in list(vars(module).values()):
            clear = getattr(obj, "cache_clear", None)
            if callable(clear) and getattr(obj, "__module__", "") == name:
                clear()
    if "sympy" in sys.modules:
        from sympy.core.cache import clear_cache

        clear_cache()


def throughput_ours(pairs: list[Pair], workers: int) -> tuple[Score, str]:
    """A fresh pool, warmed by an untimed batch, then one timed ``verify_batch`` over ``pairs`` (eval
    mode)."""
    import reward
    import reward.pool

    reward.pool.shutdown()
    clear_caches(("reward",))
    warm = reward.verify_batch([r for r, _ in WARMUP], [g for _, g in WARMUP], mode="eval", timeout=TIMEOUT,
                               workers=workers)
    pooled = sum(v.method not in ("int", "string", "rational", "choice") for v in warm)
    score = run_ours(pairs, workers, "eval")
    correct = sum(v.correct for v in warm)
    return score, f"warm-up {len(WARMUP)} items untimed ({pooled} through the pool, {correct} correct)"


def throughput_math_verify(pairs: list[Pair]) -> tuple[Score, str]:
    """Math-Verify after an untimed warm-up on the same small batch, then ``pairs`` timed in this process."""
    clear_caches(("math_verify", "latex2sympy2_extended"))
    warm = [mv_default(r, g) for r, g in WARMUP]
    score = run_math_verify(pairs)
    return score, f"warm-up {len(WARMUP)} items untimed ({sum(warm)} correct)"


def run_throughput(workers: int, rounds: int) -> list[str]:
    """Alternating timed rounds of both verifiers on the same pairs; returns the summary lines."""
    pairs = math5000_positives()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print()
    print(f"throughput: {len(pairs)} MATH test reference solutions vs their last \\boxed{{}}; ours: "
          f"reward.verify_batch(mode='eval', timeout={TIMEOUT}, workers={workers}), fresh pool warmed by an "
          f"untimed batch; math-verify {MV_VERSION}: recommended configuration, single process; caches "
          f"cleared before every round; cpu_count={os.cpu_count()}, load average {load:.2f} at start")
    print("| round | verifier | responses | wall s | responses/s | correct | timeouts | past deadline | "
          "note |")
    print("|---|---|---|---|---|---|---|---|---|")
    rates: dict[str, list[float]] = {"ours": [], "math-verify": []}
    for r in range(rounds):
        order = ("ours", "math-verify") if r % 2 == 0 else ("math-verify", "ours")
        for who in order:
            score, note = throughput_ours(pairs, workers) if who == "ours" else throughput_math_verify(pairs)
            rate = len(pairs) / score.wall_s
            rates[who].append(rate)
            print(f"| {r + 1} | {who} | {len(pairs)} | {score.wall_s:.2f} | {rate:.0f} | {score.tp} | "
                  f"{score.timeouts} | {score.late} | {note} |", flush=True)
    ratios = [o / m for o, m in zip(rates["ours"], rates["math-verify"])]
    ratio = statistics.median(ratios)
    ours, theirs = statistics.median(rates["ours"]), statistics.median(rates["math-verify"])
    return [f"throughput (responses/s, median of {rounds} rounds): ours {ours:.0f}, math-verify "
            f"{theirs:.0f}; ratio ours/math-verify {ratio:.2f}x "
            f"(per round: {', '.join(f'{x:.2f}x' for x in ratios)}); target at least 3x: "
            f"{'met' if ratio >= 3 else 'not met'}"]
