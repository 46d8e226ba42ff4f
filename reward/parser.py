"""Answer extraction: :func:`extract_answer` is the one public function.

Rules.

* **Window.** Only the last ``WINDOW`` characters are scanned (eval mode widens to ``WIDE_WINDOW`` when
  nothing is found), so a 1 MB response costs the same as a 4 KB one. Braces are matched with one
  linear stack pass over the window, so 20k unbalanced ``\\boxed{`` cost O(n).
* **Reward mode (strict).** The answer must be a ``\\boxed{}``/``\\fbox{}`` after the last
  ``</think>``; a ``<think>`` that is never closed means no answer. Every distinct box of the window is
  a candidate and the grader requires *all* of them to be correct, so several mathematically different
  boxed answers are wrong (``method="hedge"``) while ``\\boxed{15\\frac{39}{40}}`` restated as
  ``\\boxed{\\frac{639}{40}}`` is not. An ``or``-hedge inside a box rejects the response outright, and
  so does degenerate repetition (zlib ratio below ``DEGENERATE_RATIO`` on a response longer than
  ``WINDOW``, ``method="degenerate"``). No other anchor is used, which blocks echoing the question.
* **Eval mode (lenient).** Candidates in priority order, the grader using the first that parses:
  the last ``\\boxed{}`` (boxes next to each other, joined by commas or "and", possibly naming the next
  value as in ``\\boxed{1} and y_2 = \\boxed{2}`` or the part as in ``\\boxed{A} for part (a) and
  \\boxed{B}``, become one list);
  the rightmost "final answer is X", then "answer: X"/"answer is X" (an anchor found after the last box
  goes before the box; anchored prose yields its last number; environments right after an anchor are
  joined); the whole response when it is one short line of math (no prose); then the rightmost of the
  last LaTeX environment (up to 6 environments joined by ``,``, "and", "or" become one list) and the
  last number outside any environment (unless it is the right-hand side of an equation with letters
  on its left, or lies inside a broken inline environment: inline ``$...$`` and ``\\(...\\)`` never span
  lines, so in ``Answer $ \\n 9 \\n $`` nothing is extracted, while display ``$$``/``\\[`` may); a choice
  letter opening the response (``A. because...``); the last stand-alone capital letter A-E.
* **Gold mode** (a gold written as a solution): the last ``\\boxed{}`` together with the distinct boxes
  before it that are at most ``GOLD_BOX_GAP`` characters apart (``\\boxed{1} papers and \\boxed{2}``
  is two answers); when no box is complete and the last ``\\boxed{`` is never closed (a truncated
  gold), the text after it;
  without a box, eval-mode extraction.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

WINDOW = 4096
WIDE_WINDOW = 65536
DEGENERATE_RATIO = 0.08
SHORT_LINE = 120
MAX_JOINED = 6
GOLD_BOX_GAP = 12


@dataclass(frozen=True)
class Extraction:
    """Extracted answer candidates, best first.

    ``status`` is ``"ok"`` when at least one candidate exists, else ``"no_answer"``. ``rejected`` is True
    when the response is wrong by rule (hedge, degenerate) whatever the gold; ``method`` names the
    anchor of the first candidate (``boxed``, ``boxes``, ``final_answer``, ``answer``, ``latex``,
    ``plain``, ``number``, ``letter``) or the reason for no answer or rejection.
    """

    candidates: tuple[str, ...]
    status: Literal["ok", "no_answer"]
    method: str
    rejected: bool = False


_BOX = re.compile(r"\\(?:boxed|fbox)\s*(\{|\s(?=[^\s{]))")
_HEDGE = re.compile(r"(?:^|[\s}$])(?:or)(?:[\s{\\$]|$)|\\(?:lor|vee)(?![a-zA-Z])", re.IGNORECASE)
_BOX_JOIN = re.compile(r"^[\s,;.$]*(?:for\s+part\s*\(?[a-z0-9]{1,3}\)?\s*)?(?:(?:and|,)[\s,$]*)?"
                       r"(?:[A-Za-z](?:_\{?\w+\}?)?\s*=\s*)?$", re.IGNORECASE)
_JOIN_NOISE = re.compile(r"\\(?:quad|qquad|text\s*\{\s*((?:for\s+part\s*\(?[a-z0-9]{1,3}\)?\s*)?(?:and|,))\s*\}"
                         r"|[()\[\]]|[,;! ])", re.IGNORECASE)
_ENV = re.compile(r"\$\$(?P<a>(?s:.+?))\$\$|\\\[(?P<b>(?s:.+?))\\\]|\\\((?P<c>.+?)\\\)"
                  r"|\$(?P<d>(?:[^$\n\\]|\\[^\n])+?)\$")
_BROKEN_INLINE = re.compile(r"(?<![$\\])\$[ \t]*\n[^$]{0,400}?(?<![$\\])\$(?!\$)|\\\([ \t]*\n.{0,400}?\\\)", re.DOTALL)
_ENV_JOIN = re.compile(r"^\s*(?:,|,?\s*and|,?\s*or)\s*$")
_FINAL = re.compile(r"final\s+answer\s*(?:is|:|=)?\s*:?", re.IGNORECASE)
_ANSWER = re.compile(r"answer\s*(?:is|:|=)\s*:?", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![A-Za-z\d.])(?:-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:[.,]\d+)?(?:/\d+)?|-?\.\d+)")
_EQ_LHS_WITH_LETTERS = re.compile(r"[a-zA-Z][^=\n]*=\s*$")
_WORDS = re.compile(r"\b(?!(?:and|or)\b)[A-Za-z]{3,}")
_COMMANDS = re.compile(r"\\[A-Za-z]+|\b(?:sqrt|sin|cos|tan|log|ln|exp|pi)\b")
_LEADING_LETTER = re.compile(r"^\(?([A-E])\)?[.:)]\s")
_LETTER = re.compile(r"(?<![A-Za-z\\])\(?([A-E])\)?(?![A-Za-z])")


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
    boxes = _boxes(body[-WINDOW:])
    if not boxes:
        return Extraction((), "no_answer", "no_box")
    if _is_degenerate(response):
        return Extraction((), "ok", "degenerate", rejected=True)
    distinct = _distinct(content for _, _, content in boxes)
    for content in distinct:
        if _HEDGE.search(content.replace("\\text", " ")):
            return Extraction(tuple(distinct), "ok", "hedge", rejected=True)
    return Extraction(tuple(distinct), "ok", "boxed" if len(distinct) == 1 else "boxes")


def _extract_gold(text: str) -> Extraction:
    boxes = _boxes(text[-WIDE_WINDOW:])
    if not boxes:
        unclosed = list(_BOX.finditer(text[-WINDOW:]))
        if unclosed and unclosed[-1].group(1) == "{" and text[-WINDOW:][unclosed[-1].end():].strip():
            return Extraction((text[-WINDOW:][unclosed[-1].end():].strip(),), "ok", "unclosed_box")
        return _extract_eval(text)
    group = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        if len(group) >= MAX_JOINED or group[0][0] - box[1] > GOLD_BOX_GAP:
            break
        group.insert(0, box)
    return Extraction((", ".join(_distinct(content for _, _, content in group)),), "ok", "boxed")


def _extract_eval(response: str) -> Extraction:
    window = response[-WINDOW:]
    found: list[tuple[str, str]] = []
    scope = window
    boxes = _boxes(scope)
    if not boxes and len(response) > WINDOW:
        scope = response[-WIDE_WINDOW:]
        boxes = _boxes(scope)
    if boxes:
        found.append((_join_adjacent_boxes(boxes, scope), "boxed"))
    box_end = boxes[-1][1] - len(scope) + len(window) if boxes else -1
    for pattern, name in ((_FINAL, "final_answer"), (_ANSWER, "answer")):
        matches = list(pattern.finditer(window))
        if matches:
            tail = _after_anchor(window, matches[-1].end())
            if tail:
                found.insert(0 if matches[-1].start() > box_end >= 0 and found[0][1] == "boxed" else len(found),
                             (tail, name))
    stripped = response.strip()
    if 0 < len(stripped) <= SHORT_LINE and "\n" not in stripped and not _has_words(stripped):
        found.append((stripped, "plain"))
    unanchored: list[tuple[int, str, str]] = []
    envs = list(_ENV.finditer(window))
    if envs:
        unanchored.append((envs[-1].end(), _join_envs(window, envs), "latex"))
    broken = list(_BROKEN_INLINE.finditer(window))
    numbers = [m for m in _NUMBER.finditer(window) if not _inside(m.start(), envs) and not _inside(m.start(), broken)]
    if numbers:
        last = numbers[-1]
        if not _EQ_LHS_WITH_LETTERS.search(window[max(0, last.start() - 80):last.start()].split("\n")[-1]):
            unanchored.append((last.end(), last.group(0), "number"))
    found.extend((text, name) for _, text, name in sorted(unanchored, reverse=True))
    leading = _LEADING_LETTER.match(stripped)
    if leading:
        found.append((leading.group(1), "letter"))
    letters = list(_LETTER.finditer(window))
    if letters:
        found.append((letters[-1].group(1), "letter"))
    seen: set[str] = set()
    candidates: list[str] = []
    for text, _ in found:
        text = text.strip()
        if text and text not in seen:
            seen.add(text)
            candidates.append(text)
    if not candidates:
        return Extraction((), "no_answer", "none")
    return Extraction(tuple(candidates), "ok", found[0][1])


def _inside(pos: int, envs: list[re.Match[str]]) -> bool:
    return any(m.start() <= pos < m.end() for m in envs)


def _is_degenerate(response: str) -> bool:
    """True for long responses that compress far better than natural text (repetition loops)."""
    if len(response) <= WINDOW:
        return False
    raw = response.encode("utf-8", "replace")
    return len(zlib.compress(raw, 1)) < DEGENERATE_RATIO * len(raw)


def _brace_matches(text: str) -> dict[int, int]:
    """Map each unescaped ``{`` to its matching ``}`` in one linear pass (unmatched ones are absent)."""
    stack: list[int] = []
    matches: dict[int, int] = {}
    prev = ""
    for i, ch in enumerate(text):
        if prev != "\\":
            if ch == "{":
                stack.append(i)
            elif ch == "}" and stack:
                matches[stack.pop()] = i
        prev = ch if prev != "\\" else ""
    return matches


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """All complete ``\\boxed{...}``/``\\fbox{...}`` (and ``\\boxed 5``) as (start, end, content)."""
    found: list[tuple[int, int, str]] = []
    matches: dict[int, int] | None = None
    for m in _BOX.finditer(text):
        if m.group(1) == "{":
            if matches is None:
                matches = _brace_matches(text)
            close = matches.get(m.end() - 1)
            if close is not None:
                found.append((m.start(), close + 1, text[m.end():close].strip()))
        else:
            tail = re.match(r"[^\s$]+", text[m.end():])
            if tail:
                found.append((m.start(), m.end() + tail.end(), tail.group(0).rstrip(".,")))
    found.sort()
    return [b for i, b in enumerate(found) if i == 0 or b[0] >= found[i - 1][1]]


def _join_adjacent_boxes(boxes: list[tuple[int, int, str]], text: str) -> str:
    """Content of the last box, joined with the distinct boxes right before it (``\\boxed{1}, \\boxed{2}``)."""
    group = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        gap = _JOIN_NOISE.sub(lambda m: m.group(1) or " ", text[box[1]:group[0][0]])
        if len(group) >= MAX_JOINED or not _BOX_JOIN.match(gap):
            break
        group.insert(0, box)
    return ", ".join(_distinct(content for _, _, content in group))


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
    if _has_words(line.replace("$", " ")):
        numbers = list(_NUMBER.finditer(line))
        return numbers[-1].group(0) if numbers else ""
    return line


def _has_words(text: str) -> bool:
    """True when ``text`` has a run of 3+ letters outside LaTeX commands (prose, not an expression)."""
    return bool(_WORDS.search(_COMMANDS.sub(" ", text)))


def _squash(text: str) -> str:
    return "".join(text.split())


def _distinct(contents: Iterable[str]) -> list[str]:
    """Box contents in order, without repeats that differ only in whitespace."""
    kept: list[str] = []
    seen: set[str] = set()
    for content in contents:
        key = _squash(content)
        if key not in seen:
            seen.add(key)
            kept.append(content)
    return kept
