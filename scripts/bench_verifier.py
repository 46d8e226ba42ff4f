#!/usr/bin/env python
"""Benchmark: this project's verifier (``reward``) vs Math-Verify 0.9.0, side by side on the same pairs.

Sets:
  (a) Math-Verify 0.9.0's own test cases, harvested from its sdist (downloaded with pip into
      ``--cache`` at run time, never committed): every ``pytest.mark.parametrize`` case of its test
      modules plus the multiple-choice extraction cases. Labels are Math-Verify's own, except the
      audited ``1 -/+ 1/e`` pair (docs/verifier.md), whose "equal" label encodes a bug and is flipped.
  (b) Gold self-consistency: MATH-500 (PRM800K split with solutions) and the 5,000-problem MATH test
      set. Positives: the reference solution vs its gold answer (MATH-5000 golds are the solution's
      last ``\\boxed{}``, read by :func:`reward.gold.last_boxed`). Negatives: seeded shuffled cross
      pairs whose gold strings differ.
  (c) This project's adversarial suite: anchor false positives, hedges, restated inequalities,
      tolerance abuse, hostile inputs and code-execution payloads. All labels are False; a payload that
      ran would create a marker file.
  (d) The labelled classes: every ``tests/reward/cases/<class>.jsonl`` file (format:
      tests/reward/cases/README.md), read by pmpo_verl.bench.labelled_cases (the loader the tests use),
      as its own row ``(d) <class>``, plus a ``(d) all classes`` total row. A case's ``mode="reward"``
      runs ours in reward mode (Math-Verify has no reward mode and runs it with its usual configuration); its
      ``options`` run on both sides (``precision`` -> ``float_rounding``, ``rename_variables`` ->
      ``strict=False``, ``set_accepts_relation`` -> ``allow_set_relation_comp=True``).

Every set runs in an empty scratch working directory (the pool's workers start there too), and after
each verifier's run of each set the script checks that no file appeared there: set (c)'s payloads write
their marker into it, and a corpus payload (set (d)) that writes any file relative to the working
directory is caught the same way. Items past their deadline (elapsed above the 5 s deadline plus 100 ms)
are counted for every set and both verifiers (column ``past deadline``).

``--throughput`` adds the throughput measurement: the 5,000 MATH test reference solutions against their
golds (the last ``\\boxed{}``, as in set (b)) scored by ours (``verify_batch``, 2 workers, a fresh pool
warmed by a small untimed batch) and by Math-Verify (same pairs, recommended configuration, in this
process as it runs, after an untimed warm-up), in alternating rounds (``--throughput-rounds``); caches of
both verifiers (and sympy's) are cleared before each round, so no round reuses another's work. Reports
responses/s for both and the ratio per round and as the median over rounds.

Both verifiers see the same (response, gold) pairs: ours through ``reward.verify_batch`` (eval mode,
5 s per-item deadline), Math-Verify through ``parse``/``verify`` with its recommended configuration
(gold wrapped in ``\\boxed{}`` and parsed LaTeX-only; prediction with boxed priority 0 plus the
plain-expression extractor). On set (a) Math-Verify runs each case with the configuration its test used,
and ours with the matching eval-mode options (``precision`` for a non-default ``precision``,
``rename_variables`` for ``strict=False``, ``set_accepts_relation`` for ``allow_set_relation_comp=True``);
every other pair runs with our defaults. The header line says which mode ours ran in.

Usage: ``python scripts/bench_verifier.py [--sets a,b,c,d|none] [--workers 2] [--mode eval|reward]
[--show-disagreements] [--cache ~/.cache/pmpo-verl] [--throughput [--throughput-rounds 3]]``.
Needs ``math-verify==0.9.0`` (the ``bench`` extra), pytest (set (a) imports Math-Verify's test modules) and
network access to PyPI for set (a) on the first run. The sets, the Math-Verify adapter, the scoring and the
side-by-side run live in :mod:`pmpo_verl.bench` (``verifier_*``, ``math_verify_adapter``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pmpo_verl.bench.math_verify_adapter import fetch_sdist  # noqa: E402
from pmpo_verl.bench.verifier_compare import compare, describe_suites, scratch_files  # noqa: E402
from pmpo_verl.bench.verifier_sets import (  # noqa: E402
    Suite,
    adversarial,
    harvest_mv_cases,
    labelled_classes,
    load_math500,
    load_math5000,
)
from pmpo_verl.bench.verifier_throughput import run_throughput  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="a,b,c,d", help="comma-separated subset of a,b,c,d, or 'none'")
    parser.add_argument("--workers", type=int, default=2, help="worker processes for our verifier")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "pmpo-verl")
    parser.add_argument("--mode", choices=("eval", "reward"), default="eval",
                        help="our verifier's mode (reward mode ignores set (a)'s per-test options and set "
                             "(d)'s per-case modes and options)")
    parser.add_argument("--show-disagreements", action="store_true",
                        help="list the pairs where ours or Math-Verify disagrees with the label")
    parser.add_argument("--throughput", action="store_true",
                        help="also measure responses/s of both verifiers on the 5,000 MATH reference "
                             "solutions")
    parser.add_argument("--throughput-rounds", type=int, default=3,
                        help="alternating timed rounds per verifier")
    args = parser.parse_args()
    sets = {s.strip() for s in args.sets.split(",") if s.strip() and s.strip() != "none"}
    unknown = sets - {"a", "b", "c", "d"}
    if unknown:
        parser.error(f"unknown set(s): {', '.join(sorted(unknown))}")
    if args.throughput_rounds < 1:
        parser.error("--throughput-rounds must be at least 1")
    cache = args.cache.expanduser().resolve()
    home = Path.cwd()
    scratch = Path(tempfile.mkdtemp(prefix="bench-verifier-")).resolve()
    os.chdir(scratch)  # before the pool starts: its workers inherit the scratch directory too
    try:
        return run(args, sets, cache, scratch)
    finally:
        os.chdir(home)
        if not any(scratch.iterdir()):
            scratch.rmdir()


def run(args: argparse.Namespace, sets: set[str], cache: Path, scratch: Path) -> int:
    suites: list[Suite] = []
    malformed: list[str] = []
    class_names: list[str] = []
    if "a" in sets:
        suites.append(("(a) Math-Verify 0.9.0 tests", harvest_mv_cases(fetch_sdist(cache))))
    if "b" in sets:
        suites.append(("(b) MATH-500 self-consistency", load_math500()))
        suites.append(("(b) MATH-5000 self-consistency", load_math5000()))
    if "c" in sets:
        suites.append(("(c) adversarial", adversarial(scratch / "EXECUTED")))
    if "d" in sets:
        classes, malformed = labelled_classes()
        class_names = [name for name, _ in classes]
        suites.extend(classes)
    if args.mode == "reward":
        for _, pairs in suites:
            for pair in pairs:
                pair.options = {}
                pair.mode = None
    scratch_files(scratch)  # loading writes nothing there; start from an empty directory regardless
    describe_suites(suites, sets, class_names, args.mode, args.workers)
    result = compare(suites, class_names, scratch, args.workers, args.mode, args.show_disagreements)
    notes, executions = result.notes, result.executions
    if args.throughput:
        notes += run_throughput(args.workers, args.throughput_rounds)
        executions += bool(scratch_files(scratch))
    print()
    for note in notes:
        print(note)
    for message in malformed:
        print(f"malformed corpus line left out of set (d): {message}")
    print(f"code executions (a file created in the scratch working directory, set (c)'s marker included): "
          f"{executions}")
    if executions:
        return 1
    return 2 if malformed else 0


if __name__ == "__main__":
    sys.exit(main())
