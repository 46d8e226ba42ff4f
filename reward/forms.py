"""Written forms that mean the same value (no sympy), applied by :mod:`reward.normalize` and
:func:`reward.gold.prepare_gold`.

Rules.

* **Clock times** (:func:`clock_time`, :func:`compare_clocks`). A whole answer ``H:MM`` (hours 0-23,
  two-digit minutes 00-59, optional ``:SS``), an hour with a marker (``8:34 PM``, ``8:34 p.m.``,
  ``8:34\\text{ PM}``, ``\\text{8 pm}``, hours 1-12; ``8.34 pm`` too when the marker is there), or
  ``noon``/``midnight`` (optionally ``12``/``12:00`` before them) is a time of day, kept as ``HH:MM`` on a
  24-hour clock: ``12:00 AM`` is ``00:00``, ``12:30 PM`` is ``12:30``, and a time without a marker is
  read on the 24-hour clock (``8:34`` is the morning). Two times are equal only as the same minute of
  the day (``20:34`` != ``10:17`` and ``2:30`` != ``1:15``, although the ratios are equal). A time with a
  marker, a leading zero (``09:30``, ``3:04``) or noon/midnight is *certain* and never equals a
  non-time (``8:34 PM`` != ``20.34``; its text becomes ``\\text{time HH:MM}``); a plain ``H:MM`` may
  be a ratio, so against a non-time it keeps its ratio reading (``7:32`` = ``7/32``, ``20:34`` !=
  ``20.34``). ``3:4`` (one-digit second part) and ``8:60`` are not times.
* **Mixed numbers** (:func:`mixed_numbers`). A whole number (no leading zero, not right after a digit,
  ``.``, ``^``, ``_``, a letter, ``)``, ``]`` or ``}``) directly followed, spaces allowed, by a *proper*
  numeric fraction ``\\frac{n}{d}`` (``0 < n < d``) is a mixed number and becomes ``\\frac{w*d+n}{d}``:
  ``1\\frac{1}{2}`` and ``1 \\frac{1}{2}`` are ``\\frac{3}{2}``, ``-2\\frac{1}{4}`` is ``-\\frac{9}{4}``.
  The plain form ``1 1/2`` (at least one space) is read the same way, and a Unicode vulgar fraction
  (``½``, ``1½``) is its ``\\frac``. Any other fraction right after a whole number is a product and gets an
  explicit ``\\cdot``: ``2\\frac{5}{3}`` (improper) is ``10/3`` and ``2\\frac{x}{4}`` is ``x/2``. A
  fraction followed by ``^`` is left alone (``2\\frac{1}{2}^2`` is ambiguous).
* **Degrees inside trigonometric functions** (:func:`trig_degrees`). Inside the argument of ``sin``,
  ``cos``, ``tan``, ``cot``, ``sec``, ``csc`` (with or without a backslash, with a power such as
  ``\\sin^2``; never ``\\sin^{-1}`` or ``\\arcsin``), a degree sign ``^\\circ``, ``^{\\circ}``, ``°`` or
  ``\\degree`` is the factor ``\\cdot\\frac{\\pi}{180}``: ``\\sin(90^\\circ - x)`` is ``\\cos x`` and
  ``\\cos 60^\\circ`` is ``1/2``. The argument is the bracketed group after the function, or else the
  run of numbers, letters, ``\\frac{}{}``/``\\sqrt{}``, Greek letters and degree signs right after it
  (wrapped in parentheses once converted). Degree signs elsewhere are left to the normaliser (an angle
  answer ``30^\\circ`` is ``30``).
* **Doubly escaped golds** (:func:`undouble_gold`). A gold in which every run of backslashes has even
  length and some ``\\\\`` is followed by a letter, a brace or ``%$,;:!`` was JSON-escaped twice: every
  run is halved, so ``\\\\frac{1}{2}`` is ``\\frac{1}{2}`` and a doubly escaped matrix keeps its row
  separators (``\\\\\\\\`` -> ``\\\\``). A gold with single-backslash commands (a real ``\\\\`` row
  separator next to ``\\begin``) is left to the normaliser's known-command repair.
* **``\\quad`` lists** (:func:`quad_list`). Top-level ``\\quad``/``\\qquad`` (with an optional ``,`` or
  ``;`` before them, and ``and``/``or`` next to them) separate list items when every piece between
  them is an item: a relation without ``\\text`` (``x = 1``), a bracketed group without ``\\text``
  (``(1,2)``, ``\\{1\\}``) or a plain number/fraction; the separators then become commas
  (``x = 1 \\qquad x = 2`` -> ``x = 1, x = 2``). Otherwise ``\\quad`` stays spacing (``5 \\quad \\text{cm}``).

Every pattern is linear (no nested quantifiers); scans are single passes over length-capped input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

# ---------------------------------------------------------------- clock times

_TEXT_WRAP = re.compile(r"\\text\s*\{([^{}]*)\}")
_CLOCK = re.compile(r"^(?P<h>\d{1,2})(?:(?P<sep>[:.])(?P<m>\d{2})(?::(?P<s>\d{2}))?)?\s*"
                    r"(?:(?P<ampm>[ap])\.?\s?m\b\.?|(?P<word>noon|midnight))?$", re.IGNORECASE)
_CLOCK_WORD = re.compile(r"^(?P<word>noon|midnight)$", re.IGNORECASE)


def clock_time(text: str) -> tuple[str, bool] | None:
    """``(HH:MM[:SS], certain)`` when the whole answer is a clock time, else None. ``certain`` is False
    only for a plain ``H:MM`` without a marker or a leading zero, which may also be a ratio (``7:32``)."""
    if ":" not in text and not re.search(r"[ap]\.?\s?m\b|noon|midnight", text, re.IGNORECASE):
        return None
    bare = _TEXT_WRAP.sub(r" \1 ", text).replace("{:}", ":")
    bare = " ".join(bare.replace("{", " ").replace("}", " ").split()).rstrip(",;")
    word = _CLOCK_WORD.match(bare)
    if word:
        return _hhmm(12 if word.group("word").lower() == "noon" else 0, 0, 0), True
    m = _CLOCK.match(bare)
    if not m:
        return None
    hour, minute, second = int(m.group("h")), int(m.group("m") or 0), int(m.group("s") or 0)
    if minute > 59 or second > 59:
        return None
    if m.group("word"):
        if hour != 12 or minute or second:
            return None
        return _hhmm(12 if m.group("word").lower() == "noon" else 0, 0, 0), True
    if m.group("ampm"):
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if m.group("ampm").lower() == "p" else 0)
        return _hhmm(hour, minute, second), True
    if m.group("m") is None or m.group("sep") != ":" or hour > 23:
        return None
    leading_zero = m.group("h").startswith("0") or m.group("m").startswith("0")
    return _hhmm(hour, minute, second), leading_zero


def _hhmm(hour: int, minute: int, second: int) -> str:
    return f"{hour:02d}:{minute:02d}" + (f":{second:02d}" if second else "")


def compare_clocks(pred: Any, golds: Sequence[Any]) -> bool | None:
    """The clock-time rung (normalised answers with ``clock``/``clock_certain``, see
    :func:`reward.normalize.normalize_answer`): True when the prediction is the same time of day as a
    gold, False when every gold is decided against it, None when the rung does not apply.

    Two clock times are equal only as the same time of day (``2:30`` != ``1:15`` although the ratios are
    equal); a certain time (marker, leading zero, noon/midnight) never equals a non-time; a plain ``H:MM``
    against a non-time is left to the other rungs (the ratio ``7:32`` = ``7/32``).
    """
    decisions: list[bool | None] = []
    for gold in golds:
        if pred.clock is not None and gold.clock is not None:
            decisions.append(pred.clock == gold.clock)
        elif (pred.clock is not None and pred.clock_certain) or (gold.clock is not None and gold.clock_certain):
            decisions.append(False)
        else:
            decisions.append(None)
    if any(decisions):
        return True
    if decisions and all(d is False for d in decisions):
        return False
    return None


# ---------------------------------------------------------------- mixed numbers

_VULGAR = {"½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5),
           "⅗": (3, 5), "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅛": (1, 8), "⅜": (3, 8), "⅝": (5, 8),
           "⅞": (7, 8), "⅐": (1, 7), "⅑": (1, 9), "⅒": (1, 10)}
_VULGAR_RE = re.compile("[" + "".join(_VULGAR) + "]")
_WHOLE = r"(?<![\d.^_A-Za-z\\)\]}])(\d+)"
_INT_FRAC = re.compile(_WHOLE + r"(\s*)\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_PLAIN_MIXED = re.compile(r"(?<![\d.,/^_A-Za-z\\)\]}])(\d+)\s+(\d+)\s*/\s*(\d+)(?![\d.]|\s*[/^])")
_UINT = re.compile(r"^\s*(\d+)\s*$")


def mixed_numbers(text: str) -> str:
    """Mixed numbers as improper fractions, other integer-fraction juxtapositions as explicit products."""
    if "\\frac" not in text and "/" not in text and not _VULGAR_RE.search(text):
        return text
    text = _VULGAR_RE.sub(lambda m: "\\frac{{{}}}{{{}}}".format(*_VULGAR[m.group(0)]), text)
    text = _INT_FRAC.sub(_int_frac, text)
    return _PLAIN_MIXED.sub(_plain_mixed, text)


def _improper(whole: str, num: str, den: str) -> str | None:
    """``\\frac{w*d+n}{d}`` for a mixed number (no leading zero, proper fraction), else None."""
    if whole.startswith("0") or len(whole) + len(num) + len(den) > 60:
        return None
    n, d = int(num), int(den)
    if not 0 < n < d:
        return None
    return f"\\frac{{{int(whole) * d + n}}}{{{d}}}"


def _int_frac(m: re.Match[str]) -> str:
    whole, space, num, den = m.groups()
    follows = m.string[m.end():].lstrip()
    if follows.startswith("^"):
        return m.group(0)
    nm, dm = _UINT.match(num), _UINT.match(den)
    if nm and dm:
        improper = _improper(whole, nm.group(1), dm.group(1))
        if improper:
            return improper
    return f"{whole} \\cdot \\frac{{{num}}}{{{den}}}"


def _plain_mixed(m: re.Match[str]) -> str:
    return _improper(*m.groups()) or m.group(0)


# ---------------------------------------------------------------- degrees inside trigonometric functions

_TRIG = re.compile(r"(?<![A-Za-z])\\?(?:sin|cos|tan|cot|sec|csc)(?![A-Za-z])")
_DEGREE_SIGN = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|°|\\degree(?![A-Za-z])")
_TO_RADIANS = "\\cdot\\frac{\\pi}{180}"
_OPEN, _CLOSE = "([{", ")]}"
_ARG_STOP_COMMANDS = {"cdot", "times", "div", "pm", "mp", "quad", "qquad", "text", "le", "ge", "leq", "geq",
                      "ne", "neq", "lt", "gt", "cup", "cap", "in", "to", "sin", "cos", "tan", "cot", "sec",
                      "csc", "log", "ln", "exp", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh"}


def trig_degrees(text: str) -> str:
    """Degree signs inside trigonometric arguments as the factor pi/180 (rules in the module docstring)."""
    if not _DEGREE_SIGN.search(text) or not _TRIG.search(text):
        return text
    out: list[str] = []
    pos = 0
    while True:
        m = _TRIG.search(text, pos)
        if m is None:
            break
        j = _skip_power(text, m.end())
        if j < 0:  # \sin^{-1}: an inverse function, its argument is not an angle
            out.append(text[pos:m.end()])
            pos = m.end()
            continue
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] in _OPEN:
            close = _matching(text, j)
            if close < 0:
                break
            inner = trig_degrees(text[j + 1:close])
            out.append(text[pos:j + 1] + _DEGREE_SIGN.sub(lambda _: _TO_RADIANS, inner) + text[close])
            pos = close + 1
            continue
        end = _bare_argument_end(text, j)
        arg = text[j:end]
        if _DEGREE_SIGN.search(arg):
            out.append(text[pos:j] + "(" + _DEGREE_SIGN.sub(lambda _: _TO_RADIANS, arg) + ")")
        else:
            out.append(text[pos:end])
        pos = max(end, m.end())
    out.append(text[pos:])
    return "".join(out)


def _skip_power(text: str, i: int) -> int:
    """Index after an optional power (``^2``, ``^{2}``) of a function name; -1 for the inverse ``^{-1}``."""
    j = i
    while j < len(text) and text[j] == " ":
        j += 1
    if j >= len(text) or text[j] != "^":
        return i
    j += 1
    while j < len(text) and text[j] == " ":
        j += 1
    if j < len(text) and text[j] == "{":
        close = _matching(text, j)
        if close < 0:
            return i
        power, end = text[j + 1:close], close + 1
    elif text.startswith("\\circ", j):
        return i  # \sin^\circ is not a power
    else:
        mm = re.match(r"-?\d|[A-Za-z]", text[j:])
        if not mm:
            return i
        power, end = mm.group(0), j + mm.end()
    return -1 if power.replace(" ", "").startswith("-") else end


def _matching(text: str, start: int) -> int:
    """Index of the bracket closing the one at ``start`` (any of ``([{``), or -1."""
    depth = 0
    for k in range(start, len(text)):
        ch = text[k]
        if ch in _OPEN and (k == 0 or text[k - 1] != "\\" or ch != "{"):
            depth += 1
        elif ch in _CLOSE and (k == 0 or text[k - 1] != "\\" or ch != "}"):
            depth -= 1
            if depth == 0:
                return k
    return -1


def _bare_argument_end(text: str, j: int) -> int:
    """End of an unbracketed trigonometric argument starting at ``j`` (``58^\\circ``, ``2x``, ``\\frac{\\pi}{6}``)."""
    k = j
    if k < len(text) and text[k] in "+-":
        k += 1
    start = k
    while k < len(text):
        ch = text[k]
        if ch.isdigit() or ch == "." or ch.isalpha() and ch.isascii():
            k += 1
        elif ch == "°":
            k += 1
        elif ch == "\\":
            name = re.match(r"\\([A-Za-z]+)", text[k:])
            if not name or name.group(1) in _ARG_STOP_COMMANDS:
                break
            k += name.end()
        elif ch == "{":
            close = _matching(text, k)
            if close < 0:
                break
            k = close + 1
        elif ch in "^_":
            k += 1
            while k < len(text) and text[k] == " ":
                k += 1
            if k < len(text) and text[k] == "{":
                close = _matching(text, k)
                if close < 0:
                    break
                k = close + 1
            elif text.startswith("\\circ", k):
                k += len("\\circ")
            elif k < len(text):
                k += 1
        elif ch == " ":
            nxt = k
            while nxt < len(text) and text[nxt] == " ":
                nxt += 1
            if nxt < len(text) and (text[nxt] in "^°" or text.startswith("\\degree", nxt)) and k > start:
                k = nxt
            else:
                break
        else:
            break
    return k if k > start else j


# ---------------------------------------------------------------- doubly escaped golds

_BACKSLASH_RUN = re.compile(r"\\+")
_DOUBLED_BEFORE_NAME = re.compile(r"(?<!\\)\\\\(?=[A-Za-z{}%$,;:!])")


def undouble_gold(text: str) -> str:
    """Halve every backslash run of a gold that was JSON-escaped twice (rules in the module docstring)."""
    if "\\\\" not in text:
        return text
    runs = _BACKSLASH_RUN.findall(text)
    if any(len(r) % 2 for r in runs) or not _DOUBLED_BEFORE_NAME.search(text):
        return text
    return _BACKSLASH_RUN.sub(lambda r: "\\" * (len(r.group(0)) // 2), text)


# ---------------------------------------------------------------- \quad-separated lists

_QUAD = re.compile(r"\s*[,;]?\s*\\q?quad(?![A-Za-z])\s*")
_CONJ_EDGE = re.compile(r"^(?:\\text\s*\{\s*(?:and|or)\s*\}|(?:and|or)\b)\s*|\s*(?:\\text\s*\{\s*(?:and|or)\s*\}"
                        r"|\b(?:and|or))$")
_RELATION = re.compile(r"=|<|>|\\(?:le|ge|leq|geq|ne|neq|lt|gt)(?![A-Za-z])")
_NUMBER_ITEM = re.compile(r"^[+-]?(?:\d+(?:\.\d+)?|\\frac\{\d+\}\{\d+\}|\d+/\d+)$")


def quad_list(text: str) -> str:
    """``\\quad``-separated items joined by commas when every piece is an item, else ``text`` unchanged."""
    if "quad" not in text:
        return text
    pieces: list[str] = []
    depth = 0
    last = 0
    scanned = 0
    for m in _QUAD.finditer(text):
        for ch in text[scanned:m.start()]:
            depth += ch in _OPEN
            depth -= ch in _CLOSE
        scanned = m.start()
        if depth == 0:
            pieces.append(text[last:m.start()])
            last = m.end()
    pieces.append(text[last:])
    items = []
    for piece in pieces:
        piece = piece.strip()
        prev = None
        while prev != piece:
            prev, piece = piece, _CONJ_EDGE.sub("", piece).strip()
        if piece:
            items.append(piece)
    if len(items) < 2 or not all(_is_item(i) for i in items):
        return text
    return ", ".join(items)


def _is_item(piece: str) -> bool:
    if "\\text" in piece:
        return False
    if _NUMBER_ITEM.match(piece):
        return True
    if piece[0] in "([" and piece[-1] in ")]" and _matching(piece, 0) == len(piece) - 1:
        return True
    if piece.startswith("\\{") and piece.endswith("\\}"):
        return True
    return bool(_RELATION.search(piece))
