#!/usr/bin/env python
"""Benchmark: this project's verifier (``reward``) vs Math-Verify 0.9.0, side by side on the same pairs.

Sets:
  (a) Math-Verify 0.9.0's own test cases, harvested from its sdist (downloaded with pip into
      ``--cache`` at run time, never committed): every ``pytest.mark.parametrize`` case of its test
      modules plus the multiple-choice extraction cases. Labels are Math-Verify's own, except the
      audited ``1 -/+ 1/e`` pair (design doc 2.1), whose "equal" label encodes a bug and is flipped.
  (b) Gold self-consistency: MATH-500 (PRM800K split with solutions) and the 5,000-problem MATH test
      set. Positives: the reference solution vs its gold answer (MATH-5000 golds are the solution's
      last ``\\boxed{}``, read by this script's own brace matcher). Negatives: seeded shuffled cross
      pairs whose gold strings differ.
  (c) This project's adversarial suite: anchor false positives, hedges, restated inequalities,
      tolerance abuse, hostile inputs and code-execution payloads. All labels are False; a payload that
      ran would create a marker file.

Both verifiers see the same (response, gold) pairs: ours through ``reward.verify_batch`` (eval mode,
5 s per-item deadline), Math-Verify through ``parse``/``verify`` with its recommended configuration
(gold wrapped in ``\\boxed{}`` and parsed LaTeX-only; prediction with boxed priority 0 plus the
plain-expression extractor). On set (a) Math-Verify runs each case with the configuration its test used,
and ours with the matching eval-mode options (``precision`` for a non-default ``precision``,
``rename_variables`` for ``strict=False``, ``set_accepts_relation`` for ``allow_set_relation_comp=True``);
every other pair runs with our defaults. The header line says which mode ours ran in.

Usage: ``python scripts/bench_verifier.py [--sets a,b,c] [--workers 2] [--mode eval|reward]
[--show-disagreements] [--cache ~/.cache/pmpo-verl]``.
Needs ``math-verify==0.9.0`` (the ``test`` extra) and network access to PyPI for set (a) on first run.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import json
import random
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "benchmarks"
TIMEOUT = 5.0
MV_VERSION = "0.9.0"
MV_DEFAULT_PRECISION = 6
AUDITED_FALSE = {("$1 - \\frac{1}{\\mathrm{e}}$", "$1 + \\frac{1}{\\mathrm{e}}$")}


@dataclass
class Pair:
    """One labelled (response, gold) pair plus how Math-Verify should run it."""

    response: str
    gold: Any
    label: bool
    mv_run: Callable[[], bool] | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Score:
    """Confusion counts and latencies of one verifier on one set."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    timeouts: int = 0
    late: int = 0
    wall_s: float = 0.0
    outputs: list[bool] = field(default_factory=list)

    def add(self, got: bool, label: bool) -> None:
        self.outputs.append(got)
        if got and label:
            self.tp += 1
        elif got:
            self.fp += 1
        elif label:
            self.fn += 1
        else:
            self.tn += 1

    def row(self, name: str, verifier: str) -> str:
        n = self.tp + self.fp + self.fn + self.tn
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")
        agree = (self.tp + self.tn) / n if n else float("nan")
        lat = sorted(self.latencies_ms)
        p50 = statistics.median(lat) if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan")
        return (f"| {name} | {verifier} | {n} | {self.tp} | {self.fp} | {self.fn} | {self.tn} | "
                f"{precision:.4f} | {recall:.4f} | {agree:.4f} | {p50:.2f} | {p99:.2f} | {self.timeouts} | "
                f"{self.late} | {self.wall_s:.1f} |")


# ---------------------------------------------------------------- set (a): Math-Verify's own tests

def fetch_sdist(cache: Path) -> Path:
    """Download and unpack math-verify's sdist into ``cache`` (once); returns the unpacked root."""
    root = cache / f"math_verify-{MV_VERSION}"
    if not (root / "tests").is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        f"math-verify=={MV_VERSION}", "-d", str(cache)], check=True, capture_output=True)
        with tarfile.open(cache / f"math_verify-{MV_VERSION}.tar.gz") as tar:
            tar.extractall(cache, filter="data")
    return root


def harvest_mv_cases(root: Path) -> list[Pair]:
    """Every parametrized case of math-verify's test modules, run the way its test ran it."""
    import pytest  # noqa: F401  (the test modules import it)
    from math_verify import parse, verify

    package = types.ModuleType("tests")
    package.__path__ = [str(root / "tests")]
    saved = {k: v for k, v in sys.modules.items() if k == "tests" or k.startswith("tests.")}
    for k in saved:
        del sys.modules[k]
    sys.modules["tests"] = package
    pairs: list[Pair] = []
    try:
        for path in sorted((root / "tests").glob("test_*.py")):
            name = f"tests.{path.stem}"
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            for fname, func in inspect.getmembers(module, inspect.isfunction):
                marks = [m for m in getattr(func, "pytestmark", []) if m.name == "parametrize"]
                if not fname.startswith("test_") or not marks:
                    continue
                argnames = [a.strip() for a in marks[0].args[0].split(",")] if isinstance(marks[0].args[0], str) \
                    else list(marks[0].args[0])
                source = inspect.getsource(func)
                for values in marks[0].args[1]:
                    case = dict(zip(argnames, values))
                    pair = _mv_pair(case, source, module, parse, verify)
                    if pair is not None:
                        pairs.append(pair)
    finally:
        for k in [k for k in sys.modules if k == "tests" or k.startswith("tests.")]:
            del sys.modules[k]
        sys.modules.update(saved)
    return pairs


def _mv_pair(case: dict[str, Any], source: str, module: Any, parse: Any, verify: Any) -> Pair | None:
    if "config" in case:  # multiple-choice extraction cases: (pred, expected parse, config)
        if not case["expected"]:
            return None
        letter, config, pred = case["expected"][-1], case["config"], case["pred"]
        return Pair(pred, letter, True, lambda: parse(pred, [config]) == case["expected"])
    gold, pred = case["gold"], case["pred"]
    label = bool(case.get("expected", case.get("result")))
    if (gold, pred) in AUDITED_FALSE:
        label = False
    if "compare_strings" in source:
        kwargs: dict[str, Any] = {}
        m = re.search(r"match_types=(\[[^\]]*\])", source)
        if m:
            kwargs["match_types"] = ast.literal_eval(m.group(1))
        m = re.search(r"precision=(\d+)", source)
        if m:
            kwargs["precision"] = int(m.group(1))
        for key in ("precision", "strict", "allow_set_relation_comp"):
            if key in case:
                kwargs[key] = case[key]
        run = lambda: bool(module.compare_strings(gold, pred, **kwargs))  # noqa: E731
    else:
        kwargs = {}
        run = lambda: bool(verify(parse(gold), parse(pred)))  # noqa: E731
    return Pair(pred, gold, label, run, our_options(kwargs))


def our_options(mv_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The eval-mode options of ``reward`` that mirror a Math-Verify test's non-default configuration."""
    options: dict[str, Any] = {}
    if mv_kwargs.get("precision", MV_DEFAULT_PRECISION) != MV_DEFAULT_PRECISION:
        options["precision"] = mv_kwargs["precision"]
    if mv_kwargs.get("strict", True) is False:
        options["rename_variables"] = True
    if mv_kwargs.get("allow_set_relation_comp", False) is True:
        options["set_accepts_relation"] = True
    return options


# ---------------------------------------------------------------- set (b): gold self-consistency

def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (independent brace matcher, for MATH-5000 golds)."""
    start = text.rfind("\\boxed")
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        return None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j]
    return None


def self_consistency(rows: list[tuple[str, str]], seed: int = 0) -> list[Pair]:
    """Positives (solution, own gold) and seeded cross negatives (solution, another different gold)."""
    pairs = [Pair(sol, gold, True) for sol, gold in rows]
    rng = random.Random(seed)
    order = list(range(len(rows)))
    rng.shuffle(order)
    for i, j in enumerate(order):
        if rows[i][1].strip() != rows[j][1].strip():
            pairs.append(Pair(rows[j][0], rows[i][1], False))
    return pairs


def load_math500() -> list[Pair]:
    rows = [json.loads(line) for line in (DATA / "math500_solutions.jsonl").open()]
    return self_consistency([(r["solution"], r["answer"]) for r in rows])


def load_math5000() -> list[Pair]:
    rows = [json.loads(line) for line in (DATA / "math_test5000.jsonl").open()]
    usable = [(r["solution"], box) for r in rows if (box := last_boxed(r["solution"])) is not None]
    return self_consistency(usable)


# ---------------------------------------------------------------- set (c): adversarial

def adversarial(marker: Path) -> list[Pair]:
    """All-False pairs: anchor false positives, hedges, abuse, hostile inputs, code payloads."""
    touch = "".join(f"chr({ord(c)})+" for c in f"touch {marker}").rstrip("+")
    cases: list[tuple[str, Any]] = [
        ("\\boxed{\\frac{1}{2^{98}}}", "\\frac{1}{2^{99}}"),
        ("\\boxed{\\frac{1}{2006!}}", "\\frac{1}{2004!}"),
        ("\\boxed{\\frac{1}{3\\cdot 2^{2006}}}", "\\frac{2^{2005}+1}{3\\cdot2^{2006}}"),
        ("\\boxed{1+\\frac{1}{\\mathrm{e}}}", "1-\\frac{1}{\\mathrm{e}}"),
        ("3x + 4y + 14=0", "3*x-1*y+13=0"),
        ("\\boxed{4\\sqrt(2)}", "4"),
        ("\\boxed{4\\sqrt{2}}", "4"),
        ("$1\\le x<2$", "x\\in[1,2)"),
        ("\\boxed{1 \\le x < 2}", "[1,2)"),
        ("\\boxed{500}", "5"), ("\\boxed{0.05}", "5"), ("\\boxed{28}", "0.28"),
        ("\\boxed{(1,2]}", "(1,2)"), ("\\boxed{[1,2]}", "(1,2)"), ("\\boxed{[1,2)}", "(1,2]"),
        ("\\boxed{0.3333}", "\\frac{1}{3}"), ("\\boxed{3.14}", "\\pi"), ("\\boxed{3.1416}", "\\pi"),
        ("\\boxed{1.4142}", "\\sqrt{2}"), ("\\boxed{2.718}", "e"),
        ("\\boxed{3} or \\boxed{4}", "3"), ("\\boxed{3 \\text{ or } 4}", "3"), ("\\boxed{3 or 4}", "3"),
        ("\\boxed{1,2,3,4,5,6,7,8,9,10}", "3"), ("\\boxed{\\{1,2,3\\}}", "\\{1,2\\}"),
        ("\\boxed{(2,1)}", "(1,2)"), ("\\boxed{x^2+2x}", "x^2+2x+1"), ("\\boxed{\\frac{1}{2^{100}}}", "0"),
        ("\\boxed{10^{-60}}", "0"), ("\\boxed{1+10^{-30}}", "1"), ("\\boxed{2^{10000}+1}", "2^{10000}"),
        ("\\boxed{\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}"),
        ("\\boxed{\\begin{pmatrix}1&2\\end{pmatrix}}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"),
        ("\\boxed{\\text{(C)}}", "\\text{(B)}"), ("\\boxed{B}", "A"), ("\\boxed{25\\%}", "0.4"),
        ("\\boxed{x=5}", "x=6"), ("\\boxed{y=2x+1}", "y=2x-1"), ("\\boxed{x > 5}", "x < 5"),
        ("\\boxed{x \\geq 5}", "x > 5"), ("\\boxed{9^{9^{9^{9}}}}", "1"), ("\\boxed{10^{10^{10}}}", "1"),
        ("9^9^9^9", "1"), ("\\boxed{(10^7)!}", "1"), ("\\boxed{10000000!}", "1"), ("\\boxed{2**2**40}", "1"),
        ("\\boxed{\\binom{100000000}{50000000}}", "1"),
        ("\\boxed{" * 20000, "1"), ("$1$ and " * 20000, "1"), ("answer: " * 20000, "1"),
        ("x" * 1_000_000 + "\\boxed{1}", "2"), ("(" * 5000 + "1" + ")" * 5000, "1"),
        ("\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}", "2"),
        (f"\\boxed{{__import__('os').system('touch {marker}')}}", "0"),
        (f"__import__('os').system('touch {marker}')", "0"),
        ("\\boxed{().__class__.__base__.__subclasses__()}", "0"),
        (f"\\boxed{{__builtins__.__dict__[chr(101)+chr(120)+chr(101)+chr(99)]({touch})}}", "0"),
        (f"\\boxed{{\\pi + eval({touch})}}", "\\pi"),
        (f"\\boxed{{[eval({touch})]}}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"),
        (f"The answer is $exec({touch})$", "0"),
        ("\\boxed{lambda: 0}", "0"), ("\\boxed{import os}", "0"),
    ]
    return [Pair(response, gold, False) for response, gold in cases]


# ---------------------------------------------------------------- runners

def run_ours(pairs: list[Pair], workers: int, mode: str) -> Score:
    """One ``verify_batch`` per distinct option set (a single call when no pair sets options)."""
    import reward

    score = Score()
    groups: dict[tuple[tuple[str, Any], ...], list[int]] = {}
    for index, pair in enumerate(pairs):
        groups.setdefault(tuple(sorted(pair.options.items())), []).append(index)
    verdicts: list[Any] = [None] * len(pairs)
    start = time.perf_counter()
    for options, indices in groups.items():
        batch = reward.verify_batch([pairs[i].response for i in indices], [pairs[i].gold for i in indices],
                                    mode=mode, timeout=TIMEOUT, workers=workers, **dict(options))
        for i, verdict in zip(indices, batch):
            verdicts[i] = verdict
    score.wall_s = time.perf_counter() - start
    for pair, verdict in zip(pairs, verdicts):
        score.add(verdict.correct, pair.label)
        score.latencies_ms.append(verdict.elapsed_ms)
        score.timeouts += verdict.status == "timeout"
        score.late += verdict.elapsed_ms > TIMEOUT * 1000 + 100
    return score


def run_math_verify(pairs: list[Pair]) -> Score:
    import logging

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    def default(pair: Pair) -> bool:
        golds = pair.gold if isinstance(pair.gold, list) else [pair.gold]
        pred = parse(pair.response, [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()])
        for gold in golds:
            gold_text = str(int(gold)) if isinstance(gold, float) and gold.is_integer() else str(gold)
            if verify(parse("\\boxed{" + gold_text + "}", [LatexExtractionConfig()]), pred):
                return True
        return False

    score = Score()
    start = time.perf_counter()
    for pair in pairs:
        t0 = time.perf_counter()
        try:
            got = pair.mv_run() if pair.mv_run is not None else default(pair)
        except Exception:
            got = False
        elapsed = (time.perf_counter() - t0) * 1000
        score.add(bool(got), pair.label)
        score.latencies_ms.append(elapsed)
        score.late += elapsed > TIMEOUT * 1000 + 100
    score.wall_s = time.perf_counter() - start
    return score


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="a,b,c", help="comma-separated subset of a,b,c")
    parser.add_argument("--workers", type=int, default=2, help="worker processes for our verifier")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "pmpo-verl")
    parser.add_argument("--mode", choices=("eval", "reward"), default="eval",
                        help="our verifier's mode (reward mode ignores set (a)'s per-test options)")
    parser.add_argument("--show-disagreements", action="store_true",
                        help="list the pairs where ours or Math-Verify disagrees with the label")
    args = parser.parse_args()
    sets = set(args.sets.split(","))
    marker_dir = Path(tempfile.mkdtemp(prefix="bench-verifier-"))
    marker = marker_dir / "EXECUTED"
    suites: list[tuple[str, list[Pair]]] = []
    if "a" in sets:
        suites.append(("(a) Math-Verify 0.9.0 tests", harvest_mv_cases(fetch_sdist(args.cache))))
    if "b" in sets:
        suites.append(("(b) MATH-500 self-consistency", load_math500()))
        suites.append(("(b) MATH-5000 self-consistency", load_math5000()))
    if "c" in sets:
        suites.append(("(c) adversarial", adversarial(marker)))
    if args.mode == "reward":
        for _, pairs in suites:
            for pair in pairs:
                pair.options = {}
    print(f"ours: reward.verify_batch(mode={args.mode!r}, timeout={TIMEOUT}, workers={args.workers}); "
          f"math-verify {MV_VERSION}")
    for name, pairs in suites:
        configured = [p for p in pairs if p.options]
        if configured:
            kinds = sorted({f"{k}={v}" for p in configured for k, v in p.options.items()})
            print(f"{name}: {len(configured)} pairs run with their test's options on both sides ({', '.join(kinds)})")
    print("| set | verifier | n | TP | FP | FN | TN | precision | recall | agreement | p50 ms | p99 ms | "
          "timeouts | past deadline | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    notes = []
    for name, pairs in suites:
        ours = run_ours(pairs, args.workers, args.mode)
        print(ours.row(name, "ours"), flush=True)
        theirs = run_math_verify(pairs)
        print(theirs.row(name, "math-verify"), flush=True)
        same = sum(a == b for a, b in zip(ours.outputs, theirs.outputs)) / max(1, len(pairs))
        notes.append(f"{name}: ours and Math-Verify give the same verdict on {same:.4f} of pairs")
        if args.show_disagreements:
            for pair, got, mv in zip(pairs, ours.outputs, theirs.outputs):
                if got != pair.label or mv != pair.label:
                    who = "both wrong" if got == mv else ("ours wrong" if got != pair.label else "mv wrong")
                    print(f"  {who} (label={pair.label}, ours={got}, mv={mv}{', ' + str(pair.options) if pair.options else ''}): "
                          f"gold={str(pair.gold)[:80]!r} response={pair.response[-120:]!r}")
    executed = marker.exists()
    print()
    for note in notes:
        print(note)
    print(f"code executions (marker file created): {int(executed)}")
    return 1 if executed else 0


if __name__ == "__main__":
    sys.exit(main())
