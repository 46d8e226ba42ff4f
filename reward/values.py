"""Values in prose: the last number of a text together with the undelimited LaTeX or arithmetic it belongs to.

Rules.

* **A value** is a number together with the undelimited LaTeX or arithmetic it belongs to
  (``\\frac{3}{4}``, ``\\frac34``, ``2\\sqrt{3}``, ``3 + 4``; not a denominator or a last term), except
  that a unit letter glued to a number is dropped (``5m`` is 5) and a hyphen between numbers is not a
  minus (``10-12 days``); a run longer than the answer cap is offered whole, so a response that is one
  long expression is ``too_large``, not its last term.
* **Equations** (:func:`last_value` with ``guard``): the value is dropped when it is the right-hand side
  of an equation whose left side (after the last prose word) is an expression with variables
  (``3x + 4y + 14 = 0``, ``2x = 24``, ``x^2 = 16``), but kept after a name or prose (``so the total is
  x = 12``, ``the number of ways = 35``, ``f(3) = 12``, ``5 \\cdot 7 = 35``).
* **A lone value** (:func:`lone_value`): a LaTeX environment that holds exactly one value and no
  structure (``\\approx 12``, ``x = 12 \\implies``; not ``(5, 3``).
* **Prose** (:func:`has_words`): a run of 3+ letters outside LaTeX commands.
"""

from __future__ import annotations

import re

_WORDS = re.compile(r"\b(?!(?:and|or)\b)[A-Za-z]{3,}")
_COMMANDS = re.compile(r"\\[A-Za-z]+|\b(?:sqrt|sin|cos|tan|log|ln|exp|pi)\b")

# Undelimited values (outside $...$): a run of terms joined by operators, a term being an optional sign,
# an optional number and then glued factors (a single-letter variable, a value command with its arguments
# such as \frac{3}{4}, \frac34, \sqrt{3}, \pi, a brace or parenthesis group, an exponent or subscript).
# A number glued after a letter (x2, AZYUK2A) never starts a run. "-" is an operator only between spaces
# or next to LaTeX structure, so ranges and hyphens (10-12, 3-digit) are not subtractions.
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?(?:/\d+)?|\.\d+)"
_BRACES = r"\{(?:[^{}\n]|\{(?:[^{}\n]|\{[^{}\n]*\})*\})*\}"
_ARG = rf"(?:\s*{_BRACES}|\s*\d)"
# math inside (...), no words
_PAREN_ATOM = r"(?:[^()\nA-Za-z]|\\[A-Za-z]+|(?<![A-Za-z\\])[A-Za-z](?![A-Za-z]))"
_FACTOR = (rf"(?:\\(?:[dt]?frac|[dt]?binom){_ARG}{_ARG}|\\sqrt(?:\s*\[[^\]\n]{{0,20}}\])?{_ARG}"
           rf"|\\(?:pi|infty|circ|%)(?![A-Za-z])|{_BRACES}|\((?:{_PAREN_ATOM}|\((?:{_PAREN_ATOM})*\)){{1,200}}\)"
           rf"|(?<![A-Za-z\\])[A-Za-z](?![A-Za-z])|!|[\^_]\s*(?:{_BRACES}|\d+|[A-Za-z](?![A-Za-z])|\\circ))")
_TERM = rf"(?:[-+]\s*)?(?:{_NUM}(?:{_FACTOR})*|(?:{_FACTOR})+)"
_OP = r"(?:\s*(?:[+*/]|\\cdot|\\times|\\div)\s*|\s+-\s+|(?<=[}\)])\s*-\s*|\s*-\s*(?=[\\{(]))"
_RUN = re.compile(rf"(?<![A-Za-z\d.\\]){_TERM}(?:{_OP}{_TERM})*")
DIGIT = re.compile(r"\d")
_NUMBER_UNIT = re.compile(rf"([-+]?\s*{_NUM})[A-Za-z]")  # 5m, 1,000.99m: a number with a glued unit letter
_PROSE_WORD = re.compile(r"(?<![\\A-Za-z])(?!(?:sin|cos|tan|log|ln|exp|sqrt)\b)[A-Za-z]{2,}(?![A-Za-z])"
                         r"|[.,;:!?$]\s")
_NAME = re.compile(r"^(?:\\(?:angle|measuredangle|triangle|overline|overrightarrow|vec|hat|bar|text|textbf|"
                   r"mathrm|mathbf|operatorname)\s*)*(?!(?:sin|cos|tan|cot|sec|csc|log|ln|exp)\b)"
                   r"(?:[A-Za-z]+|\{[A-Za-z]+\}|\|[A-Za-z]+\|)'*(?:_\{?[A-Za-z0-9,]+\}?)?(?:\([^()]*\))?$")


def last_value(text: str, skip: list[re.Match[str]], guard: bool) -> tuple[int, str] | None:
    """(end, text) of the last undelimited value outside ``skip``: a number, or the run of terms and
    operators it belongs to (``\\frac{3}{4}``, ``2\\sqrt{3}``, ``3 + 4``), so a denominator or the last term
    of a sum is never taken for the value. With ``guard``, None when that value is the right side of an
    equation whose left side is an expression with variables (``3x + 4y + 14 = 0``)."""
    if skip:
        chars = list(text)
        for m in skip:
            chars[m.start():m.end()] = " " * (m.end() - m.start())
        text = "".join(chars)
    last = None
    for m in _RUN.finditer(text):
        if DIGIT.search(m.group(0)):
            last = m
    if last is None:
        return None
    if guard and _equation_rhs(text[max(0, last.start() - 200):last.start()].split("\n")[-1]):
        return None
    run = last.group(0).strip()
    unit = _NUMBER_UNIT.fullmatch(run)
    return last.end(), unit.group(1) if unit else run


def lone_value(content: str) -> bool:
    """True when an environment holds one value and no structure (``\\approx 12``, ``x = 12 \\implies``,
    ``12 \\checkmark``), so its value may stand in for it when it does not parse; a tuple, an interval or a
    second value (``-[0,1)``, ``(5, 3``, ``2x + 3 = 12``) may not."""
    if any(c in content for c in ",()[]"):
        return False
    return sum(1 for m in _RUN.finditer(content) if DIGIT.search(m.group(0))) == 1


def _equation_rhs(before: str) -> bool:
    """True when ``before`` ends with ``lhs =`` and ``lhs`` (after the last prose word) is an expression
    with variables (``3x + 4y + 14``, ``2x``, ``x^2``) rather than a name (``x``, ``a_{10}``, ``f(3)``,
    ``AB``), nothing (``the number of ways =``) or arithmetic (``3 \\cdot 4 =``)."""
    m = re.search(r"=\s*$", before)
    if not m:
        return False
    lhs = before[:m.start()]
    cuts = list(_PROSE_WORD.finditer(lhs))
    tail = lhs[cuts[-1].end():] if cuts else lhs
    tail = tail.split("=")[-1].strip()
    if not tail or _NAME.match(tail):
        return False
    return bool(re.search(r"[A-Za-z]", re.sub(r"\\[A-Za-z]+", "", tail)))


def has_words(text: str) -> bool:
    """True when ``text`` has a run of 3+ letters outside LaTeX commands (prose, not an expression)."""
    return bool(_WORDS.search(_COMMANDS.sub(" ", text)))

