"""The labelled (response, gold) pairs the verifier benchmark scores, set by set.

- (a) Math-Verify 0.9.0's own test cases, harvested from its sdist (:func:`harvest_mv_cases`): every
  ``pytest.mark.parametrize`` case of its test modules plus the multiple-choice extraction cases, run the
  way its test ran them. Labels are Math-Verify's own, except the audited ``1 -/+ 1/e`` pair
  (:data:`AUDITED_FALSE`), whose "equal" label encodes a bug and is flipped.
- (b) Gold self-consistency (:func:`load_math500`, :func:`load_math5000`): the reference solution vs its
  gold as positives (MATH-5000 golds are the solution's last ``\\boxed{}``, read by
  :func:`reward.gold.last_boxed`, the rule the training data uses), seeded shuffled cross pairs whose
  gold strings differ as negatives.
- (c) The adversarial suite (:func:`adversarial`): anchor false positives, hedges, restated inequalities,
  tolerance abuse, hostile inputs and code-execution payloads; all labels False.
- (d) The labelled classes (:func:`labelled_classes`): one suite per ``tests/reward/cases/<class>.jsonl``,
  read by :mod:`.labelled_cases`, the loader the tests use.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import random
import re
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reward.gold import last_boxed

from .labelled_cases import load_corpus
from .math_verify_adapter import mv_equivalents, our_options

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "benchmarks"  # beside the checkout
AUDITED_FALSE = {("$1 - \\frac{1}{\\mathrm{e}}$", "$1 + \\frac{1}{\\mathrm{e}}$")}
Suite = tuple[str, list["Pair"]]  # (row name in the table, its pairs)


@dataclass
class Pair:
    """One labelled (response, gold) pair plus how Math-Verify should run it."""

    response: str
    gold: Any
    label: bool
    mv_run: Callable[[], bool] | None = None  # set (a): the test's own call (None: the recommended one)
    options: dict[str, Any] = field(default_factory=dict)  # our eval-mode options
    mode: str | None = None  # ours runs this mode (None: the --mode argument)
    mv_kwargs: dict[str, Any] = field(default_factory=dict)  # Math-Verify verify() keywords (set (d))
    where: str = ""  # set (d): "<class>:<line>"
    reason: str = ""


# ---------------------------------------------------------------- set (a): Math-Verify's own tests

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
                names = marks[0].args[0]
                argnames = [a.strip() for a in names.split(",")] if isinstance(names, str) else list(names)
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


# ---------------------------------------------------------------- set (b): gold self-consistency

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


def math5000_golds(path: Path = DATA / "math_test5000.jsonl") -> list[tuple[str, str]]:
    """(reference solution, gold) of the MATH test problems, the gold being the solution's last ``\\boxed{}``
    (:func:`reward.gold.last_boxed`, as the training data reads it); problems without one are left out."""
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [(r["solution"], box) for r in rows if (box := last_boxed(r["solution"])) is not None]


def load_math5000() -> list[Pair]:
    return self_consistency(math5000_golds())


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

# ---------------------------------------------------------------- set (d): labelled classes

def labelled_classes() -> tuple[list[Suite], list[str]]:
    """One suite per class file (``(d) <class>``) and the malformed lines, which are left out."""
    corpus, malformed = load_corpus()
    suites = []
    for path, cases in corpus.items():
        pairs = [Pair(c.response, c.gold, c.label, options=dict(c.options), mode=c.mode,
                      mv_kwargs=mv_equivalents(c.options), where=c.id, reason=c.reason) for c in cases]
        suites.append((f"(d) {path.stem}", pairs))
    return suites, [bad.message for bad in malformed]


# ---------------------------------------------------------------- throughput

def math5000_positives() -> list[Pair]:
    """The MATH test reference solutions against their own gold (the last ``\\boxed{}``, as set (b))."""
    return [Pair(solution, gold, True) for solution, gold in math5000_golds()]
