"""String normalisation of extracted answers and golds (no sympy).

Rules, applied in order by :func:`normalize_answer`:

1. strip math delimiters (``$``, ``$$``, ``\\(\\)``, ``\\[\\]``) and a ``\\boxed{}``/``\\fbox{}`` that
   wraps the whole answer; ``repair=True`` (eval mode, and golds in both modes): outside matrices, undo
   a doubled backslash before a known command (``\\\\text``, ``\\\\le``, ``\\\\pi``: an escaping
   artefact, not a line break);
2. drop sizing and spacing commands (``\\left``, ``\\right``, ``\\big``, ``\\displaystyle``, ``\\,``,
   ``\\!``, ``~``...); top-level ``\\quad``/``\\qquad`` between list items become commas
   (:func:`reward.forms.quad_list`), other ``\\quad`` is spacing; map ``\\dfrac``/``\\tfrac``/``\\cfrac``
   to ``\\frac`` and ``\\textbf``/``\\mathrm``/``\\mbox``/``\\textrm``/``\\mathbf`` to ``\\text``;
3. a whole answer that is a clock time stops here with ``clock`` set (:func:`reward.forms.clock_time`;
   a time with a marker becomes the text ``\\text{time HH:MM}``); degree signs inside trigonometric
   arguments become the factor pi/180 (:func:`reward.forms.trig_degrees`); then record and remove the
   other degree signs (``^\\circ``, ``°``, ``\\degree``) and a percent sign (``\\%``, ``%``, "percent",
   "pct", "percentage");
4. remove currency signs and thousands separators written ``{,}``; ``,\\!`` becomes a plain comma;
5. turn "and"/"or" (plain or in ``\\text{}``) into list commas; remove trailing units (a
   ``\\text{...}`` of letters after a numeric part, or a word from a unit list) and trailing punctuation;
6. ``repair=True`` only (eval mode): fix malformed operators ``\\frac12`` -> ``\\frac{1}{2}``,
   ``\\sqrt3`` -> ``\\sqrt{3}`` and a leading ``.5`` -> ``0.5``; before step 5, split a conjunction
   glued between a number and the next named term (``W(x)=1orW(x)=-1`` -> ``W(x)=1 or W(x)=-1``);
7. mixed numbers become improper fractions and other whole-number/fraction juxtapositions explicit
   products (:func:`reward.forms.mixed_numbers`: ``1\\frac{1}{2}`` and ``1 1/2`` -> ``\\frac{3}{2}``,
   ``2\\frac{5}{3}`` -> ``2 \\cdot \\frac{5}{3}``).

All regular expressions are linear (no nested quantifiers) and inputs are length-capped upstream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reward import forms


@dataclass(frozen=True)
class NormalizedAnswer:
    """A normalised answer string plus the decorations that were removed from it."""

    text: str
    percent: bool = False
    degrees: bool = False
    clock: str | None = None
    """``HH:MM`` (``:SS``) on a 24-hour clock when the whole answer is a clock time (:mod:`reward.forms`)."""
    clock_certain: bool = False
    """True when that time cannot be a ratio (AM/PM marker, leading zero, noon/midnight)."""


_DELIMS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
_SPACING = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big|displaystyle|textstyle|limits)(?![a-zA-Z])"
                      r"|(?<!\\)\\[,!;: ]|\\(?:hspace|vspace)\{[^{}]*\}")
_QUAD_SPACE = re.compile(r"\\q?quad(?![a-zA-Z])")
_FRAC_ALIASES = re.compile(r"\\[dtc]frac(?![a-zA-Z])")
_TEXT_ALIASES = re.compile(r"\\(?:textbf|textit|textrm|textnormal|mathrm|mathbf|mathit|mbox|operatorname)(?![a-zA-Z])")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree|\s*\\text\{\s*degrees?\s*\}|\s+degrees?\b")
_PERCENT = re.compile(r"\\%|%|\s*\\text\{\s*(?:percent|percentage|pct)\s*\}|\s*\b(?:percentage|percent|pct)\b")
_CURRENCY = re.compile(r"\\\$|\$|€|£|¥|\\euro|\\pounds")
_UNIT_WORDS = (
    "cm|mm|km|meters?|metres?|centimeters?|inches|inch|feet|foot|ft|yards?|yd|miles?|mph|kph|"
    "km/h|m/s|seconds?|sec|minutes?|hours?|hrs?|days?|weeks?|months?|years?|units?|"
    "square units|sq units|square feet|square inches|square meters|square centimeters|sq ft|"
    "cubic units|cubic feet|cubic inches|cubic meters|cubic centimeters|dollars?|cents?|"
    "pounds?|lbs?|ounces?|oz|grams?|kg|kilograms?|liters?|litres?|ml|gallons?|degrees?|"
    "radians?|rad|points?|ways?|people|students?|persons?|times|steps?|coins?|marbles?|handshakes?"
)
_TRAILING_TEXT_UNIT = re.compile(
    r"^(?P<num>.*?[0-9}a-zA-Z)\]])\s*\\text\{\s*[a-zA-Z][a-zA-Z .\-/]*\}(?:\s*\^\s*\{?\d\}?)?$")
_TRAILING_WORD_UNIT = re.compile(r"^(?P<num>.*?[0-9}])\s*(?:" + _UNIT_WORDS + r")(?:\s*\^\s*\{?\d\}?|²|³)?$")
_SUPERSCRIPT_UNIT = re.compile(r"^(?P<num>.*?\d)\s*(?:m|cm|km|mm|ft|in)(?:²|³)$")
_THOUSANDS_BRACE = re.compile(r"\{,\}")
_THOUSANDS_BANG = re.compile(r",\\!\s*")
_CONJUNCTION = re.compile(r"\s*(?:\\text\s*\{\s*(?:and|or)\s*\}|\b(?:and|or)\b)\s*")
_FRAC_SHORT = re.compile(r"\\frac\s*(\d)\s*(\d)")
_FRAC_HALF_SHORT = re.compile(r"\\frac\s*\{([^{}]*)\}\s*(\d)")
_FRAC_FIRST_SHORT = re.compile(r"\\frac\s*(\d)\s*\{")
_SQRT_SHORT = re.compile(r"\\sqrt\s*(\d+|[a-zA-Z])")
_GLUED_CONJUNCTION = re.compile(r"(?<=\d)(?:or|and)(?=[A-Za-z]\s*[(=])")
_DOUBLED_BACKSLASH = re.compile(
    r"\\\\(?=(?:text|textbf|mathrm|mathbf|boxed|fbox|frac|dfrac|tfrac|cfrac|sqrt|le|ge|leq|geq|lt|gt|ne|neq|"
    r"in|notin|cdot|times|div|pi|infty|pm|mp|left|right|circ|degree|sin|cos|tan|cot|sec|csc|arcsin|arccos|arctan|"
    r"log|ln|exp|theta|alpha|beta|gamma|delta|phi|cup|cap|emptyset|varnothing|approx|angle|overline|binom|dbinom|"
    r"quad|qquad|displaystyle)(?![a-zA-Z]))")
_LEADING_DOT = re.compile(r"(^|[\s(\[{,=+\-])\.(\d)")


def strip_delimiters(text: str) -> str:
    """Remove math delimiters and a whole-answer ``\\boxed{}``/``\\fbox{}`` wrapper, repeatedly."""
    prev = None
    text = text.strip()
    while prev != text:
        prev = text
        for left, right in _DELIMS:
            if text.startswith(left) and text.endswith(right) and len(text) >= len(left) + len(right):
                text = text[len(left):len(text) - len(right)].strip()
        for cmd in ("\\boxed", "\\fbox"):
            if text.startswith(cmd):
                rest = text[len(cmd):].lstrip()
                if rest.startswith("{") and _matching_brace(rest, 0) == len(rest) - 1:
                    text = rest[1:-1].strip()
    return text


def _matching_brace(text: str, start: int) -> int:
    """Index of the brace closing the one at ``start``, or -1 (linear scan)."""
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif ch == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return i
    return -1


def normalize_answer(text: str, *, repair: bool = False) -> NormalizedAnswer:
    """Normalise an answer string (rules in the module docstring); never raises."""
    text = strip_delimiters(text.replace("\n", " ").replace("\t", " "))
    text = text.replace("$", " ") if text.count("$") >= 2 else text
    if repair and "\\begin" not in text:
        text = _DOUBLED_BACKSLASH.sub(lambda m: "\\", text)
    text = _THOUSANDS_BANG.sub(",", text)
    text = _SPACING.sub(" ", text).replace("~", " ")
    text = _QUAD_SPACE.sub(" ", forms.quad_list(text))
    text = _FRAC_ALIASES.sub(r"\\frac", text)
    text = _TEXT_ALIASES.sub(r"\\text", text)
    clock = forms.clock_time(text)
    if clock is not None:
        value, certain = clock
        return NormalizedAnswer(text=f"\\text{{time {value}}}" if certain else " ".join(text.split()),
                                clock=value, clock_certain=certain)
    text = forms.trig_degrees(text)
    text, n_deg = _DEGREES.subn("", text)
    text, n_pct = _PERCENT.subn("", text)
    text = _CURRENCY.sub("", text)
    text = _THOUSANDS_BRACE.sub("", text)
    if repair:
        text = _GLUED_CONJUNCTION.sub(" or ", text)
    text = _CONJUNCTION.sub(", ", text).strip(" ,")
    text = re.sub(r",\s*,", ",", text)
    text = " ".join(text.split())
    text = text.rstrip(" .;:")
    for pattern in (_TRAILING_TEXT_UNIT, _TRAILING_WORD_UNIT, _SUPERSCRIPT_UNIT):
        m = pattern.match(text)
        if m:
            text = m.group("num").rstrip()
    if repair:
        text = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", text)
        text = _FRAC_HALF_SHORT.sub(r"\\frac{\1}{\2}", text)
        text = _FRAC_FIRST_SHORT.sub(r"\\frac{\1}{", text)
        text = _SQRT_SHORT.sub(r"\\sqrt{\1}", text)
        text = _LEADING_DOT.sub(r"\g<1>0.\2", text)
    text = forms.mixed_numbers(text)
    text = strip_delimiters(text)
    return NormalizedAnswer(text=text, percent=n_pct > 0, degrees=n_deg > 0)


_TEXT_GROUP = re.compile(r"\\text\s*\{([^{}]*)\}")
_LETTERS_ONLY = re.compile(r"^[A-Za-z]+(?:[ ,]+[A-Za-z]+)*$")
_WORD_RUN = re.compile(r"[A-Za-z]{4,}")
ANSWER_WORDS = frozenset({"yes", "no", "odd", "all", "none"})
"""Short words that are text answers on their own (longer words are text by their length)."""


def text_key(text: str, *, fold_case: bool = False) -> str:
    """Key for comparing answers as strings: ``\\text{}`` unwrapped, braces/spaces/backslashes and
    surrounding punctuation dropped. Case is kept (``X`` and ``x`` are different variables, ``\\Delta``
    and ``\\delta`` different symbols) unless ``fold_case``, which only text answers may use
    (:func:`same_text`)."""
    text = _TEXT_GROUP.sub(r"\1", text)
    text = re.sub(r"[\s{}\\]", "", text)
    if fold_case:
        text = text.casefold()
    return text.strip(".,;:")


def is_text_answer(text: str) -> bool:
    """True for a text answer, the only kind whose case may be folded: a ``\\text{...}`` answer with a
    letter in it (``\\text{Evelyn}``, ``\\text{(B)}``, ``\\text{M}``), or plain letters containing a word
    of 4+ letters (``Evelyn``, ``east``, ``no solution``) or a short answer word (``yes``, ``No``,
    ``odd``). Single letters and short letter groups (``x``, ``P``, ``AB``, ``xyz``) are variables."""
    t = text.strip().strip(".")
    m = _TEXT_GROUP.fullmatch(t)
    if m:
        return bool(re.search(r"[A-Za-z]", m.group(1)))
    if not _LETTERS_ONLY.match(t):
        return False
    return bool(_WORD_RUN.search(t)) or t.casefold() in ANSWER_WORDS


def same_text(gold: str, pred: str) -> bool:
    """String equality of two normalised answers by :func:`text_key`: case-sensitive, except that two
    text answers (:func:`is_text_answer`) compare with case folded (``\\text{Evelyn}`` = ``EVELYN``)."""
    if text_key(gold) == text_key(pred):
        return True
    return (
        is_text_answer(gold)
        and is_text_answer(pred)
        and text_key(gold, fold_case=True) == text_key(pred, fold_case=True)
    )
