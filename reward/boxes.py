"""Boxed answers in LaTeX text: finding the complete ``\\boxed{...}`` of a text and joining adjacent ones.

Rules.

* **A box** is ``\\boxed{...}`` or ``\\fbox{...}`` with balanced braces (escaped braces do not count),
  or ``\\boxed 5`` (the run of characters after one space). Braces are matched with one linear stack
  pass, so 20k unbalanced ``\\boxed{`` cost O(n). Nested boxes count once (the outer one).
* **Unclosed.** A ``\\boxed{`` opened after the last complete box and never closed marks a truncated
  answer (:func:`unclosed_final_box`).
* **Adjacent boxes** (:func:`join_adjacent_boxes`): the last box together with up to ``MAX_JOINED - 1``
  distinct boxes right before it, when only commas, "and", a part label (``for part (a)``) or the name
  of the next value (``y_2 =``) separate them; the contents are joined with ``", "``.
* **Distinct** contents (:func:`distinct`) differ in more than whitespace.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_JOINED = 6
"""At most this many adjacent boxes (or LaTeX environments) are joined into one answer."""

Box = tuple[int, int, str]
"""(start, end, content) of one box in the text it was found in."""

BOX = re.compile(r"\\(?:boxed|fbox)\s*(\{|\s(?=[^\s{]))")
_BOX_JOIN = re.compile(r"^[\s,;.$]*(?:for\s+part\s*\(?[a-z0-9]{1,3}\)?\s*)?(?:(?:and|,)[\s,$]*)?"
                       r"(?:[A-Za-z](?:_\{?\w+\}?)?\s*=\s*)?$", re.IGNORECASE)
_JOIN_NOISE = re.compile(r"\\(?:quad|qquad"
                         r"|text\s*\{\s*((?:for\s+part\s*\(?[a-z0-9]{1,3}\)?\s*)?(?:and|,))\s*\}"
                         r"|[()\[\]]|[,;! ])", re.IGNORECASE)


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


def find_boxes(text: str) -> list[Box]:
    """All complete ``\\boxed{...}``/``\\fbox{...}`` (and ``\\boxed 5``) as (start, end, content)."""
    found: list[Box] = []
    matches: dict[int, int] | None = None
    for m in BOX.finditer(text):
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


def join_adjacent_boxes(boxes: list[Box], text: str, with_or: bool = False) -> str:
    """Content of the last box, joined with the distinct boxes right before it (``\\boxed{1}, \\boxed{2}``;
    with ``with_or`` also ``\\boxed{C} or \\boxed{D}``, for the choice reading)."""
    group = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        gap = _JOIN_NOISE.sub(lambda m: m.group(1) or " ", text[box[1]:group[0][0]])
        if with_or:
            gap = re.sub(r"(?i)^[\s$]*or\b", ",", gap)
        if len(group) >= MAX_JOINED or not _BOX_JOIN.match(gap):
            break
        group.insert(0, box)
    return ", ".join(distinct(content for _, _, content in group))


def unclosed_final_box(text: str, boxes: list[Box]) -> bool:
    """True when a ``\\boxed{`` opened after the last complete box never closes (a truncated answer)."""
    last_end = boxes[-1][1] if boxes else 0
    return any(m.group(1) == "{" for m in BOX.finditer(text, last_end))


def _squash(text: str) -> str:
    return "".join(text.split())


def distinct(contents: Iterable[str]) -> list[str]:
    """Box contents in order, without repeats that differ only in whitespace."""
    kept: list[str] = []
    seen: set[str] = set()
    for content in contents:
        key = _squash(content)
        if key not in seen:
            seen.add(key)
            kept.append(content)
    return kept
