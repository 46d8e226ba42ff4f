"""Gold answers: the one rule that turns a dataset's answer field into the gold strings the verifier compares.

The training data (``examples/data_preprocess``), the evaluator (``pmpo_verl.evaluation.benchmarks``) and the
verifier (:func:`reward.verify_batch`, :func:`reward.compute_score`) all call :func:`prepare_gold`, which is
idempotent (preparing its own output changes nothing), so the three agree by construction;
``tests/evaluation/test_gold_agreement.py`` checks it on every gold of ``shared/data/benchmarks``.

Rules of :func:`prepare_gold` (the result is always a tuple of alternatives; empty means "no usable gold"):

- a list, tuple or array holds acceptable alternatives (Minerva ``["6630.65\\n", "6630\\n"]``): each item is
  prepared, duplicates are dropped (first kept). A one-item list is therefore the same gold as its item: there
  is no separate "unwrap" rule. With ``parts=True`` (OlympiadBench's ``is_multiple_answer``) the items are
  the parts of one answer instead, joined with ``", "``;
- ``int`` -> its digits; an integral ``float`` -> an integer string (AMC ``142.0`` -> ``"142"``), any other
  finite float -> ``repr``; ``None``, ``bool``, NaN and infinities -> no gold;
- text is stripped; a gold JSON-escaped twice gets its backslash runs halved
  (:func:`reward.forms.undouble_gold`); a gold holding ``\\boxed{}`` is reduced to its boxed answer(s) (an
  unclosed final ``\\boxed{`` to the text after it); a gold written as a whole solution without a box (longer
  than ``GOLD_SOLUTION_CHARS`` with a "final answer"/"answer is" anchor) to its eval-mode answer. A gold is
  trusted data, so this repair is safe in both verifier modes;
- **leading zeros are kept** (AIME ``"025"`` stays ``"025"``, ``"-007"`` stays ``"-007"``). The verifier
  compares integers by value (``025`` = ``25`` = ``0025`` in both modes), so stripping them cannot change a
  grade; it would only rewrite the dataset's text, make the evaluator's golds differ from the training data's,
  and break on Unicode digits (``"²".isdigit()`` is true, ``int("²")`` raises).

verl parquet stores one ground-truth string per row: :func:`verl_fields` writes the first alternative as
``ground_truth`` and all of them, JSON-encoded, as ``extra_info["answers"]``; :func:`verl_gold` reads them
back (a list is accepted too). :func:`last_boxed` is the MATH convention for a reference solution's answer.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

from reward.forms import undouble_gold
from reward.parser import extract_answer

Gold = Any
"""A gold answer: a string, an int/float (AMC golds are floats like ``27.0``) or a list of alternatives."""

GOLD_SOLUTION_CHARS = 200
_ANSWER_ANCHOR = re.compile(r"final\s+answer|answer\s*(?:is|:)", re.IGNORECASE)


def prepare_gold(gold: Gold, *, parts: bool = False) -> tuple[str, ...]:
    """The acceptable gold strings of a raw answer field, by the rules of the module docstring."""
    if hasattr(gold, "tolist") and not isinstance(gold, str):
        gold = gold.tolist()
    if isinstance(gold, (list, tuple)):
        if parts and len(gold) > 1:
            return prepare_gold(", ".join(str(item).strip() for item in gold))
        return tuple(dict.fromkeys(alt for item in gold for alt in prepare_gold(item)))
    if isinstance(gold, bool) or gold is None:
        return ()
    if isinstance(gold, int):
        return (str(gold),)
    if isinstance(gold, float):
        if not math.isfinite(gold):
            return ()
        return (str(int(gold)),) if gold.is_integer() else (repr(gold),)
    return _prepare_gold_text(str(gold))


@lru_cache(maxsize=65536)
def _prepare_gold_text(gold: str) -> tuple[str, ...]:
    text = undouble_gold(gold.strip())
    if "\\boxed" in text or "\\fbox" in text or _is_solution(text):
        extraction = extract_answer(text, "gold")
        if extraction.candidates:
            return (extraction.candidates[0],)
    return (text,) if text else ()


def _is_solution(text: str) -> bool:
    """A gold written as a whole solution without a box: long prose with an answer anchor."""
    return len(text) > GOLD_SOLUTION_CHARS and bool(_ANSWER_ANCHOR.search(text))


def verl_fields(golds: tuple[str, ...]) -> tuple[str, str]:
    """``(ground_truth, extra_info["answers"])`` of a verl parquet row holding the prepared ``golds``."""
    if not golds:
        raise ValueError("a verl row needs at least one gold answer")
    return golds[0], json.dumps(list(golds), ensure_ascii=False)


def verl_gold(ground_truth: Gold, extra_info: dict | None) -> Gold:
    """The gold of a verl row: ``extra_info["answers"]`` (a JSON list written by :func:`verl_fields`, or a
    list) when it holds any answer, else ``ground_truth``."""
    answers = extra_info.get("answers") if isinstance(extra_info, dict) else None
    if isinstance(answers, str):
        try:
            answers = json.loads(answers)
        except ValueError:
            return ground_truth
    if hasattr(answers, "tolist"):
        answers = answers.tolist()
    if isinstance(answers, (list, tuple)) and answers:
        return answers
    return ground_truth


def last_boxed(solution: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``, or ``\\boxed 5``) of a reference solution,
    braces matched, stripped; None when there is none. (MATH's answer convention: only the last box, unlike
    :func:`prepare_gold`, which joins a run of adjacent boxes the way a model's final answer is read.)"""
    best = max(((solution.rfind(macro), macro) for macro in ("\\boxed", "\\fbox")), default=(-1, ""))
    if best[0] < 0:
        return None
    i = best[0] + len(best[1])
    while i < len(solution) and solution[i] == " ":
        i += 1
    if i >= len(solution):
        return None
    if solution[i] != "{":
        token = solution[i:].split("$", 1)[0].strip()
        return token or None
    depth = 0
    for j in range(i, len(solution)):
        if solution[j] == "{":
            depth += 1
        elif solution[j] == "}":
            depth -= 1
            if depth == 0:
                return solution[i + 1:j].strip() or None
    return None
