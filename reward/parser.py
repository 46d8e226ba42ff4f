"""Answer extraction: :func:`extract_answer` is the public entry point.

Helpers, one idea each: :mod:`reward.boxes` (complete boxes, adjacent boxes), :mod:`reward.values` (the
last value of a text), :mod:`reward.choice` (choice letters and a response's choice reading).

Rules.

* **Window.** Only the last ``WINDOW`` characters are scanned (eval mode widens to ``WIDE_WINDOW`` when
  nothing is found), so a 1 MB response costs the same as a 4 KB one. Braces are matched with one
  linear stack pass over the window, so 20k unbalanced ``\\boxed{`` cost O(n).
* **Truncated answers (both modes).** A ``\\boxed{`` opened after the last complete box and never closed
  means the response was cut off while writing its answer: no answer (``method="unclosed_box"``), even
  when an earlier box or number exists (``\\boxed{5} ... wait, \\boxed{6`` is not 5).
* **Reward mode (strict).** The answer must be a ``\\boxed{}``/``\\fbox{}`` after the last
  ``</think>``; a ``<think>`` that is never closed means no answer. Every distinct box of the window is
  a candidate and the grader requires *all* of them to be correct, so several mathematically different
  boxed answers are wrong (``method="hedge"``) while ``\\boxed{15\\frac{39}{40}}`` restated as
  ``\\boxed{\\frac{639}{40}}`` is not. An ``or``-hedge inside a box rejects the response outright, and
  so does degenerate repetition (zlib ratio below ``DEGENERATE_RATIO`` on a response longer than
  ``WINDOW``, ``method="degenerate"``). No other anchor is used, which blocks echoing the question;
  ``<answer>...</answer>`` tags are not an anchor either (a box inside the tag is a box).
* **Eval mode (lenient).** Candidates in priority order, the grader using the first that parses:
  the last ``\\boxed{}`` (boxes next to each other, joined by commas or "and", possibly naming the next
  value as in ``\\boxed{1} and y_2 = \\boxed{2}`` or the part as in ``\\boxed{A} for part (a) and
  \\boxed{B}``, become one list);
  the content of the last complete ``<answer>...</answer>`` tag (R1-style prompts), read with these same
  rules, before the box when the tag comes after the last box;
  the rightmost "final answer is X", then "answer: X"/"answer is X" (an anchor found after the last box
  goes before the box; anchored prose yields its last value; environments right after an anchor are
  joined); the whole response when it is one short line of math (no prose); then the rightmost of the
  last LaTeX environment (up to 6 environments joined by ``,``, "and", "or" become one list) and the
  last value outside any environment; the choice reading (below).
  A *value* (:mod:`reward.values`) is a number together with the undelimited LaTeX or arithmetic
  it belongs to (``\\frac{3}{4}``, ``3 + 4``; not a denominator or a last term); the value right of
  an equation whose left side is an expression with variables is dropped. Numbers inside an
  environment are not values of the text around it: when the last environment is later than the last
  value and does not parse, the environment's own value is tried next if it holds exactly one and no
  structure (``$\\approx 12$``, ``$x = 12 \\implies$``; not ``$(5, 3$``), and an earlier number outside
  it only when the environment holds no digit (``12. $\\blacksquare$``). Inline ``$...$`` and
  ``\\(...\\)`` never span lines, so in ``Answer $ \\n 9 \\n $`` nothing is extracted, while display
  ``$$``/``\\[`` may.
* **Choice letters (eval mode).** A response's *choice reading* (:func:`reward.choice.choice_reading`)
  is the letter its latest decisive statement names. Every other candidate that
  :func:`reward.choice.choice_letter` would read as a letter is dropped, and the reading is appended when
  no candidate carries it, so the grader's choice rung (first candidate that is a letter) sees only the
  reading: a letter inside an answer (``\\boxed{B+1}``) or in the reasoning is never the choice.
* **Gold mode** (a gold written as a solution): the last ``\\boxed{}`` together with the distinct boxes
  before it that are at most ``GOLD_BOX_GAP`` characters apart (``\\boxed{1} papers and \\boxed{2}``
  is two answers); when no box is complete and the last ``\\boxed{`` is never closed (a truncated
  gold), the text after it;
  without a box, eval-mode extraction.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Literal

from reward.boxes import BOX, MAX_JOINED, distinct, find_boxes, join_adjacent_boxes, unclosed_final_box
from reward.choice import choice_letter, choice_reading
from reward.values import DIGIT, has_words, last_value, lone_value

WINDOW = 4096
WIDE_WINDOW = 65536
DEGENERATE_RATIO = 0.08
SHORT_LINE = 120
GOLD_BOX_GAP = 12


@dataclass(frozen=True)
class Extraction:
    """Extracted answer candidates, best first.

    ``status`` is ``"ok"`` when at least one candidate exists, else ``"no_answer"``. ``rejected`` is True
    when the response is wrong by rule (hedge, degenerate) whatever the gold; ``method`` names the
    anchor of the first candidate (``boxed``, ``boxes``, ``answer_tag``, ``final_answer``, ``answer``,
    ``latex``, ``latex_number``, ``plain``, ``number``, ``letter``) or the reason for no answer
    (``no_box``, ``unfinished_think``, ``unclosed_box``, ``none``) or rejection.
    """

    candidates: tuple[str, ...]
    status: Literal["ok", "no_answer"]
    method: str
    rejected: bool = False


_HEDGE = re.compile(r"(?:^|[\s}$])(?:or)(?:[\s{\\$]|$)|\\(?:lor|vee)(?![a-zA-Z])", re.IGNORECASE)
_ENV = re.compile(r"\$\$(?P<a>(?s:.+?))\$\$|\\\[(?P<b>(?s:.+?))\\\]|\\\((?P<c>.+?)\\\)"
                  r"|\$(?P<d>(?:[^$\n\\]|\\[^\n])+?)\$")
_BROKEN_INLINE = re.compile(r"(?<![$\\])\$[ \t]*\n[^$]{0,400}?(?<![$\\])\$(?!\$)"
                            r"|\\\([ \t]*\n.{0,400}?\\\)", re.DOTALL)
_ENV_JOIN = re.compile(r"^\s*(?:,|,?\s*and|,?\s*or)\s*$")
_FINAL = re.compile(r"final\s+answer\s*(?:is|:|=)?\s*:?", re.IGNORECASE)
_ANSWER = re.compile(r"answer\s*(?:is|:|=)\s*:?", re.IGNORECASE)


def extract_answer(response: str, mode: Literal["reward", "eval", "gold"] = "eval") -> Extraction:
    """Extract answer candidates from a model response (rules in the module docstring)."""
    if mode == "reward":
        return _extract_reward(response)
    if mode == "gold":
        return _extract_gold(response)
    if mode == "eval":
        return _extract_eval(response)
    raise ValueError(f"unknown mode {mode!r}")


def _extract_reward(response: str) -> Extraction:
    end = response.rfind("</think>")
    if end >= 0:
        body = response[end + len("</think>"):]
    elif "<think>" in response:
        return Extraction((), "no_answer", "unfinished_think")
    else:
        body = response
    boxes = find_boxes(body[-WINDOW:])
    if unclosed_final_box(body[-WINDOW:], boxes):
        return Extraction((), "no_answer", "unclosed_box")
    if not boxes:
        return Extraction((), "no_answer", "no_box")
    if _is_degenerate(response):
        return Extraction((), "ok", "degenerate", rejected=True)
    contents = distinct(content for _, _, content in boxes)
    for content in contents:
        if _HEDGE.search(content.replace("\\text", " ")):
            return Extraction(tuple(contents), "ok", "hedge", rejected=True)
    return Extraction(tuple(contents), "ok", "boxed" if len(contents) == 1 else "boxes")


def _extract_gold(text: str) -> Extraction:
    boxes = find_boxes(text[-WIDE_WINDOW:])
    if not boxes:
        unclosed = list(BOX.finditer(text[-WINDOW:]))
        if unclosed and unclosed[-1].group(1) == "{" and text[-WINDOW:][unclosed[-1].end():].strip():
            return Extraction((text[-WINDOW:][unclosed[-1].end():].strip(),), "ok", "unclosed_box")
        return _extract_eval(text)
    group = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        if len(group) >= MAX_JOINED or group[0][0] - box[1] > GOLD_BOX_GAP:
            break
        group.insert(0, box)
    return Extraction((", ".join(distinct(content for _, _, content in group)),), "ok", "boxed")


def _extract_eval(response: str, nested: bool = False) -> Extraction:
    window = response[-WINDOW:]
    found: list[tuple[str, str]] = []
    scope = window
    boxes = find_boxes(scope)
    if not boxes and len(response) > WINDOW:
        scope = response[-WIDE_WINDOW:]
        boxes = find_boxes(scope)
    if unclosed_final_box(scope, boxes):
        return Extraction((), "no_answer", "unclosed_box")
    if boxes:
        found.append((join_adjacent_boxes(boxes, scope), "boxed"))
    box_end = boxes[-1][1] - len(scope) + len(window) if boxes else -1
    tag = None if nested else _last_answer_tag(window)
    if tag is not None and tag[2].strip():
        inner = _extract_eval(tag[2], nested=True)
        at = 0 if tag[0] >= box_end else len(found)
        found[at:at] = [(text, "answer_tag") for text in inner.candidates]
    for pattern, name in ((_FINAL, "final_answer"), (_ANSWER, "answer")):
        matches = list(pattern.finditer(window))
        if matches:
            tail = _after_anchor(window, matches[-1].end())
            if tail:
                before_box = matches[-1].start() > box_end >= 0 and found[0][1] == "boxed"
                found.insert(0 if before_box else len(found), (tail, name))
    stripped = response.strip()
    if 0 < len(stripped) <= SHORT_LINE and "\n" not in stripped and not has_words(stripped):
        found.append((stripped, "plain"))
    envs = list(_ENV.finditer(window))
    broken = list(_BROKEN_INLINE.finditer(window))
    value = last_value(window, envs + broken, guard=True)
    env = envs[-1] if envs else None
    if env is not None and (value is None or env.end() > value[0]):
        found.append((_join_envs(window, envs), "latex"))
        content = _env_content(env)
        inner_value = last_value(content, [], guard=True) if lone_value(content) else None
        if inner_value is not None:
            found.append((inner_value[1], "latex_number"))
        if value is not None and not DIGIT.search(content):
            found.append((value[1], "number"))
    else:
        if value is not None:
            found.append((value[1], "number"))
        if env is not None:
            found.append((_join_envs(window, envs), "latex"))
    final_box = (box_end, join_adjacent_boxes(boxes, scope, with_or=True)) if boxes else None
    choice = choice_reading(response, window, final_box, tag)
    seen: set[str] = set()
    candidates: list[str] = []
    names: list[str] = []
    has_choice = False  # a kept candidate reads as the choice letter (no other letter is ever kept)
    for text, name in found:
        text = text.strip()
        if not text or text in seen:
            continue
        letter = choice_letter(text)
        if letter is not None:
            if letter != choice or has_choice:
                continue  # a letter that is not the response's choice reading (only the reading may be a letter)
            has_choice = True
        seen.add(text)
        candidates.append(text)
        names.append(name)
    if choice is not None and not has_choice:
        candidates.append(choice)
        names.append("letter")
    if not candidates:
        return Extraction((), "no_answer", "none")
    return Extraction(tuple(candidates), "ok", names[0])


def _last_answer_tag(text: str) -> tuple[int, int, str] | None:
    """(start, end, content) of the last complete ``<answer>...</answer>`` (R1-style prompts), or None."""
    lower = text.lower()
    close = lower.rfind("</answer>")
    if close < 0:
        return None
    open_ = lower.rfind("<answer>", 0, close)
    if open_ < 0:
        return None
    return open_, close + len("</answer>"), text[open_ + len("<answer>"):close]


def _is_degenerate(response: str) -> bool:
    """True for long responses that compress far better than natural text (repetition loops)."""
    if len(response) <= WINDOW:
        return False
    raw = response.encode("utf-8", "replace")
    return len(zlib.compress(raw, 1)) < DEGENERATE_RATIO * len(raw)


def _join_envs(text: str, envs: list[re.Match[str]]) -> str:
    """Content of the last LaTeX environment, joined with up to 5 before it when separated by , / and / or."""
    group = [envs[-1]]
    for env in reversed(envs[:-1]):
        if len(group) >= MAX_JOINED or not _ENV_JOIN.match(text[env.end():group[0].start()]):
            break
        group.insert(0, env)
    return ", ".join(_env_content(m) for m in group)


def _env_content(m: re.Match[str]) -> str:
    return next(g for g in m.groups() if g is not None).strip()


def _after_anchor(text: str, pos: int) -> str:
    """The answer written right after an anchor: a LaTeX environment, or the rest of the sentence."""
    rest = text[pos:pos + 300].lstrip(" *:\t\"'\\")
    envs = list(_ENV.finditer(rest))
    if envs and envs[0].start() == 0:
        group = [envs[0]]
        for env in envs[1:]:
            if len(group) >= MAX_JOINED or not _ENV_JOIN.match(rest[group[-1].end():env.start()]):
                break
            group.append(env)
        return ", ".join(_env_content(m) for m in group)
    line = rest.split("\n", 1)[0]
    line = re.split(r"\.\s|\.$|\s(?:I hope|which|because|since)\b", line, maxsplit=1)[0]
    line = line.replace("**", "").strip(" *.:")
    if has_words(line.replace("$", " ")):
        value = last_value(line.replace("$", " "), [], guard=False)
        return value[1] if value else ""
    return line
