"""Comparison ladder: :func:`grade` is the one public function.

Rungs, cheapest first; the first decision wins.

1. **Multiple choice.** A gold that is a single letter A-E (``B``, ``(B)``, ``\\text{(B)}``) is compared
   with the first candidate that is a choice letter (:func:`reward.choice.choice_letter`: ``B``, ``b``,
   ``(B)``, ``B.``, ``B) 42``, ``\\text{(B)}``, ``Option B``; not ``B+1`` or ``2B``); a value answer
   (``\\boxed{42}``) is never mapped to its option (``parse_error``).
   **Clock times** (:func:`reward.forms.compare_clocks`): two times of day are equal only as the same
   time (``8:34 PM`` = ``20:34``, ``2:30`` != ``1:15``); a time with a marker never equals a non-time.
2. **Normalised string equality** (:func:`reward.normalize.same_text`): a positive decision only.
   Case-sensitive (``X`` and ``x`` are different variables) except between two text answers
   (``\\text{Evelyn}`` = ``evelyn``).
3. **Exact numbers** without sympy (:mod:`reward.numbers`: what a plain number is, and its tolerance
   rules): values are exact ``Fraction`` s; a gold written with decimals accepts a prediction within half
   a unit of its last written digit (``9.6`` accepts ``9.63``; ``1/3`` vs gold ``0.33`` is equal,
   ``0.33`` vs gold ``1/3`` is not); a decimal prediction written with 6 or more decimals matches an
   exact gold that is not a terminating decimal within one unit of its last digit (``0.0833333`` =
   ``1/12``; ``0.999999`` != ``1``, ``0.125001`` != ``1/8``), so short approximations (``0.3333``,
   ``3.14``) stay wrong, unless the eval-mode option ``precision`` says the task accepts rounded answers
   (:class:`reward.verdict.Options`; method ``rounded``). Percent: only an explicit ``%`` on either side
   allows reading that side both as written and divided by 100 (``10%`` = ``0.1`` = ``10``; ``500`` !=
   ``5``). A decimal comma (``1,22``) is read as a decimal point only when the other side is a decimal
   written with a point (prediction ``1,22`` vs gold ``1.22``, gold ``1,22`` vs prediction ``1.22``).
4. **Typed sympy comparison** (:mod:`reward.symbolic`) after safe parsing (:mod:`reward.safe_parse`).

Candidates (from :func:`reward.parser.extract_answer`) are tried in order: the first one that parses
decides (in reward mode the candidates are the distinct final boxes and every one must be correct); a
candidate longer than the answer cap is ``too_large`` before any normalisation. Golds are
alternatives: any match is correct; a gold ``name = v`` also offers ``v``, and a chained gold
``a = b = ... = v`` offers a numeric ``v``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from reward.caps import DEFAULT_CAPS, TooLarge
from reward.choice import choice_letter
from reward.forms import compare_clocks
from reward.normalize import NormalizedAnswer, normalize_answer, same_text
from reward.numbers import DECIMAL, numbers_match, parse_number
from reward.verdict import DEFAULT_OPTIONS, Options, Status

if TYPE_CHECKING:  # sympy-backed types, imported lazily at run time
    from reward.safe_parse import Node


@dataclass(frozen=True)
class Grade:
    """Outcome of :func:`grade` (``pred`` is the candidate that decided)."""

    correct: bool
    status: Status
    method: str
    pred: str | None


_CHOICE_GOLD = re.compile(r"^\(?([A-E])\)?$")


def grade(candidates: Sequence[str], golds: Sequence[str], *, mode: Literal["reward", "eval"] = "eval",
          cheap_only: bool = False, options: Options | None = None) -> Grade | None:
    """Grade extracted candidates against acceptable golds (rules in the module docstring).

    With ``cheap_only=True`` only the rungs that need no sympy run, and None is returned when they
    cannot decide; the caller then sends the item to a worker process, which calls this again with
    ``cheap_only=False``. ``options`` are the eval-mode leniencies (:class:`reward.verdict.Options`).
    Never raises for any input.
    """
    options = options or DEFAULT_OPTIONS
    if mode == "reward" and len(candidates) > 1:
        return _grade_all(candidates, golds, cheap_only, options)
    gold_norms = [normalize_answer(g, repair=True) for g in golds]
    gold_norms += [rhs for g in gold_norms if (rhs := _named_rhs(g)) is not None]
    letters = [m.group(1) for g in gold_norms if (m := _CHOICE_GOLD.match(_unwrap_text(g.text)))]
    if letters:
        return _grade_choice(candidates, letters)
    parse_failed = False
    for cand in candidates:
        if len(cand) > DEFAULT_CAPS.max_answer_chars:
            return Grade(False, "too_large", "caps", cand[:DEFAULT_CAPS.max_answer_chars])
        pred = normalize_answer(cand, repair=(mode == "eval"))
        if not pred.text:
            continue
        fast = _fast(pred, gold_norms, options)
        if fast is not None:
            return Grade(fast[0], "ok", fast[1], cand)
        if cheap_only:
            return None
        outcome = _symbolic(pred, gold_norms, options)
        if outcome is None:
            parse_failed = True
            continue
        correct, status, method = outcome
        return Grade(correct, status, method, cand)
    if parse_failed:
        return Grade(False, "parse_error", "parse", candidates[0] if candidates else None)
    return Grade(False, "no_answer", "none", None)


def _grade_all(candidates: Sequence[str], golds: Sequence[str], cheap_only: bool,
               options: Options) -> Grade | None:
    """Reward mode with several distinct boxes: correct only when every box is correct."""
    outcomes = [grade([c], golds, mode="reward", cheap_only=cheap_only, options=options) for c in candidates]
    joined = ", ".join(candidates)
    for outcome in outcomes:
        if outcome is None:
            return None
        if not (outcome.correct and outcome.status == "ok"):
            return Grade(False, outcome.status, "hedge", joined)
    last = outcomes[-1]
    assert last is not None
    return Grade(True, "ok", last.method, joined)


def _named_rhs(gold: NormalizedAnswer) -> NormalizedAnswer | None:
    """``v`` for a gold ``name = v`` whose left side is only a name (``(p,q)``, ``|AB|``, ``V_1:V_2``,
    ``f(x)``): no operator or digit-led term, so ``2x+4y-3=0`` never yields ``0``. In a chain
    ``a = b = ... = v`` (three or more sides) ``v`` is the value when it is a number (no letters outside
    LaTeX commands): ``1 = \\zzz = x = 0`` yields ``0``."""
    parts = gold.text.split("=")
    if len(parts) < 2 or any(c in gold.text for c in "<>!"):
        return None
    if len(parts) > 2:
        value = parts[-1].strip()
        if value and not re.search(r"[A-Za-z]", re.sub(r"\\[A-Za-z]+", "", value)):
            return NormalizedAnswer(value, gold.percent, gold.degrees)
        return None
    lhs, rhs = parts[0].strip(), parts[1].strip()
    if not lhs or not rhs or re.search(r"[+\-*^/]|^\d|\\(?!frac|text|overline|angle)[a-zA-Z]+", lhs):
        return None
    return NormalizedAnswer(rhs, gold.percent, gold.degrees)


def _unwrap_text(text: str) -> str:
    return re.sub(r"\\text\s*\{([^{}]*)\}", r"\1", text).strip()


def _grade_choice(candidates: Sequence[str], letters: list[str]) -> Grade:
    """A choice gold against the first candidate that *is* a choice letter
    (:func:`reward.choice.choice_letter`: ``C``, ``c``, ``(C) 42``, ``\\text{(C)}``, not ``B+1``).
    Eval-mode extraction keeps at most one such candidate, the response's choice reading, so a letter
    inside an expression or a letter named before a value answer never decides. No letter (a value such
    as ``\\boxed{42}``: the options are unknown here, so a value is never mapped to its letter) is wrong
    with status ``parse_error``."""
    for cand in candidates:
        letter = choice_letter(cand)
        if letter is not None:
            return Grade(letter in letters, "ok", "choice", cand)
    if not candidates:
        return Grade(False, "no_answer", "choice", None)
    return Grade(False, "parse_error", "choice", candidates[0])


def _fast(pred: NormalizedAnswer, golds: list[NormalizedAnswer], options: Options) -> tuple[bool, str] | None:
    """Decide without sympy when possible: string equality (positive only) or two plain numbers
    (:mod:`reward.numbers`)."""
    clock = compare_clocks(pred, golds)
    if clock is not None:
        return clock, "clock"
    if any(same_text(g.text, pred.text) and pred.percent == g.percent for g in golds):
        return True, "string"
    decimal_pred = bool(DECIMAL.match(pred.text.strip()))
    gold_numbers = [parse_number(g.text, decimal_pred) for g in golds]
    if any(n is None for n in gold_numbers):
        return None
    decimal_gold = any(n is not None and n.tolerance > 0 for n in gold_numbers)
    p = parse_number(pred.text, decimal_gold)
    if p is None:
        return None
    all_int = True
    for g, gn in zip(golds, gold_numbers):
        assert gn is not None
        all_int = all_int and gn.value.denominator == 1 and p.value.denominator == 1 and gn.tolerance == 0
        if numbers_match(gn, p, g.percent, pred.percent):
            if all_int:
                return True, "int"
            return True, "numeric_tol" if gn.tolerance or gn.value != p.value else "rational"
        if (gn.tolerance == 0 and p.places and not (g.percent or pred.percent)
                and options.rounded_match(gn.value, p.value, p.places)):
            return True, "rounded"
    return False, "int" if all_int else "rational"


def _symbolic(pred: NormalizedAnswer, golds: list[NormalizedAnswer],
              options: Options) -> tuple[bool, Status, str] | None:
    """Parse the prediction and compare it with each parsable gold; None when the prediction does not
    parse."""
    from reward import symbolic
    from reward.safe_parse import ParseError, parse_answer

    try:
        pred_node = parse_answer(pred.text)
    except TooLarge:
        return False, "too_large", "caps"
    except ParseError:
        return None
    method = "parse"
    any_gold = False
    for gold in golds:
        gold_node = _gold_node(gold.text)
        if gold_node is None:
            continue
        any_gold = True
        ok, method = symbolic.compare(gold_node, pred_node, options)
        if not ok and (gold.percent or pred.percent):
            ok = _percent_equal(gold, pred, gold_node, pred_node, options)
        if ok:
            return True, "ok", method
    if not any_gold:
        return False, "parse_error", "gold_parse"
    return False, "ok", method


def _percent_equal(gold: NormalizedAnswer, pred: NormalizedAnswer, gold_node: Node, pred_node: Node,
                   options: Options) -> bool:
    """Percent rung for non-plain numbers: a side carrying ``%`` may also be read divided by 100."""
    import sympy

    from reward.safe_parse import Scalar
    from reward.scalars import scalars_equal

    if not (isinstance(gold_node, Scalar) and isinstance(pred_node, Scalar)):
        return False
    hundredth = sympy.Rational(1, 100)
    def readings(node: Scalar, percent: bool) -> list[Scalar]:
        return [node] + ([Scalar(sympy.Mul(node.expr, hundredth), node.has_float)] if percent else [])

    golds, preds = readings(gold_node, gold.percent), readings(pred_node, pred.percent)
    return any(scalars_equal(g, p, options)[0] for g in golds for p in preds)


@lru_cache(maxsize=4096)
def _gold_node(text: str) -> Node | None:
    """Parsed gold, cached per process (golds repeat across samples); None when it does not parse."""
    from reward.safe_parse import ParseError, parse_answer

    try:
        return parse_answer(text)
    except (ParseError, TooLarge):
        return None
