"""Answer extraction: :func:`extract_answer` is the public entry point (:func:`choice_letter`, the
choice-letter reader, is shared with the grader's choice rung).

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
  A *value* is a number together with the undelimited LaTeX or arithmetic it belongs to
  (``\\frac{3}{4}``, ``\\frac34``, ``2\\sqrt{3}``, ``3 + 4``; not a denominator or a last term), except
  that a unit letter glued to a number is dropped (``5m`` is 5) and a hyphen between numbers is not a
  minus (``10-12 days``); a run longer than the answer cap is offered whole, so a response that is one
  long expression is ``too_large``, not its last term. The value is dropped when it is the right-hand
  side of an equation whose left side (after the last prose word) is an expression with variables
  (``3x + 4y + 14 = 0``, ``2x = 24``, ``x^2 = 16``), but kept after a name or prose (``so the total is
  x = 12``, ``the number of ways = 35``, ``f(3) = 12``, ``5 \\cdot 7 = 35``). Numbers inside an
  environment are not values of the text around it: when the last environment is later than the last
  value and does not parse, the environment's own value is tried next if it holds exactly one and no
  structure (``$\\approx 12$``, ``$x = 12 \\implies$``; not ``$(5, 3$``), and an earlier number outside
  it only when the environment holds no digit (``12. $\\blacksquare$``). Inline ``$...$`` and
  ``\\(...\\)`` never span lines, so in ``Answer $ \\n 9 \\n $`` nothing is extracted, while display
  ``$$``/``\\[`` may.
* **Choice letters (eval mode).** A response's *choice reading* is the latest decisive statement: the
  final box (or boxes joined by ",", "and", "or"), the last ``<answer>`` tag, or a prose statement that
  names the answer letter: after an anchor ("the answer is (b)", "Answer: **C**", "the correct option is
  D", "which corresponds to option C", "we choose C.", "答案是C", "故选D", "正解はE", "정답은 C", "la
  réponse est C", "die Antwort ist C", "la respuesta es C", "a resposta correta é B", "la risposta
  corretta è A", "Ответ: D") or before a predicate ("C is correct", "(D) is the correct answer", "B is
  valid", "C项正确", "C est correcte", "C ist richtig", "C es correcta"). What follows the named letter
  does not matter ("the answer is C, not A" is C), but a second letter joined by or/and/"," is a hedge
  (no letter), a conditional ("if C is correct", "whether B is the answer") or a negation ("is not A",
  "C is incorrect") names nothing, a lower-case letter must end its sentence ("the answer is a positive
  integer" is no letter) and "A" followed by a lower-case word must be followed by a connective (the
  article is not option A). A box or tag that is not a letter decides too: the answer is a value, so no
  letter mentioned elsewhere is read. Without any of these, a response that opens with a letter (``C.
  Because ...``) and marks no other option (``(B)``, ``B.``, ``B:``), or whose last line is only a
  letter (``**C**``, ``Option C``), answers with that letter. Every other candidate that
  :func:`choice_letter` would read as a letter is dropped, and the reading is appended when no
  candidate carries it, so the grader's choice rung (first candidate that is a letter) sees only the
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
    anchor of the first candidate (``boxed``, ``boxes``, ``answer_tag``, ``final_answer``, ``answer``,
    ``latex``, ``latex_number``, ``plain``, ``number``, ``letter``) or the reason for no answer
    (``no_box``, ``unfinished_think``, ``unclosed_box``, ``none``) or rejection.
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
_PAREN_ATOM = r"(?:[^()\nA-Za-z]|\\[A-Za-z]+|(?<![A-Za-z\\])[A-Za-z](?![A-Za-z]))"  # math inside (...), no words
_FACTOR = (rf"(?:\\(?:[dt]?frac|[dt]?binom){_ARG}{_ARG}|\\sqrt(?:\s*\[[^\]\n]{{0,20}}\])?{_ARG}"
           rf"|\\(?:pi|infty|circ|%)(?![A-Za-z])|{_BRACES}|\((?:{_PAREN_ATOM}|\((?:{_PAREN_ATOM})*\)){{1,200}}\)"
           rf"|(?<![A-Za-z\\])[A-Za-z](?![A-Za-z])|!|[\^_]\s*(?:{_BRACES}|\d+|[A-Za-z](?![A-Za-z])|\\circ))")
_TERM = rf"(?:[-+]\s*)?(?:{_NUM}(?:{_FACTOR})*|(?:{_FACTOR})+)"
_OP = r"(?:\s*(?:[+*/]|\\cdot|\\times|\\div)\s*|\s+-\s+|(?<=[}\)])\s*-\s*|\s*-\s*(?=[\\{(]))"
_RUN = re.compile(rf"(?<![A-Za-z\d.\\]){_TERM}(?:{_OP}{_TERM})*")
_DIGIT = re.compile(r"\d")
_NUMBER_UNIT = re.compile(rf"([-+]?\s*{_NUM})[A-Za-z]")  # 5m, 1,000.99m: a number with a glued unit letter
_PROSE_WORD = re.compile(r"(?<![\\A-Za-z])(?!(?:sin|cos|tan|log|ln|exp|sqrt)\b)[A-Za-z]{2,}(?![A-Za-z])|[.,;:!?$]\s")
_NAME = re.compile(r"^(?:\\(?:angle|measuredangle|triangle|overline|overrightarrow|vec|hat|bar|text|textbf|mathrm|"
                   r"mathbf|operatorname)\s*)*(?!(?:sin|cos|tan|cot|sec|csc|log|ln|exp)\b)"
                   r"(?:[A-Za-z]+|\{[A-Za-z]+\}|\|[A-Za-z]+\|)'*(?:_\{?[A-Za-z0-9,]+\}?)?(?:\([^()]*\))?$")

# Choice letters (multiple-choice answers).
_FULLWIDTH = str.maketrans({**{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
                            **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
                            "（": "(", "）": ")", "：": ":", "，": ",", "．": ".", "。": ".", "、": ","})
_CHOICE_WRAP = re.compile(r"\\(?:text|textbf|textrm|textsf|textit|mathrm|mathbf|mathsf|mathit|mbox|boxed|fbox)"
                          r"\s*\{([^{}]*)\}")
_CHOICE_FORM = re.compile(r"(?:(?:option|choice|answer)\s*:?\s*)?"
                          r"(?:\(\s*(?P<p>[A-Ea-e])\s*\)|\[\s*(?P<b>[A-Ea-e])\s*\]|(?P<l>[A-Ea-e])\s*(?P<sep>[.:)])?)"
                          r"(?P<rest>.*)", re.IGNORECASE | re.DOTALL)
_CHOICE_SPACE = re.compile(r"^(?:\s|\\[ ;,:!]|\\q?quad|~|\s*[:.]\s)")
_CHOICE_LEAD = r"(?:\s|[:=*_$\"'“”‘’「『【\[(~{]|\\[(\[]|\\(?:boxed|text|textbf|mathrm|mathbf|fbox|bf)\b\s*)*"
_CHOICE_ANCHORS = (
    r"\banswer(?:\s+choice)?\s*(?:[:=]|\s(?:is|was|would\s+be|should\s+be|must\s+be|will\s+be)\b\s*:?)"
    r"|\b(?:correct|right|best)\s+(?:option|choice|graph|statement|figure|one)\s*"
    r"(?:[:=]|\s(?:is|would\s+be|should\s+be|must\s+be)\b\s*:?)"
    r"|\b(?:choose|select|pick)(?=\s*(?:option|choice|answer)?\s*\(?[A-Ea-e]\)?\s*(?:[.,;!]|$))\s*(?:option|choice|answer)?"
    r"|\b(?:is|corresponds\s+to|matches)\s+(?:the\s+)?(?:answer\s+)?(?:option|choice)"
    r"|答案\s*(?::|(?:应该|應該|应|應)?\s*(?:是|为|為|选|選))"
    r"|(?:故|所以|因此|应当?|應當?|则|則|答)\s*(?:选|選)(?:择|擇)?|(?:选择|選擇)"
    r"|答えは|正解は|정답은|답은"
    r"|\br[ée]ponse(?:\s+(?:correcte|juste|finale))?\s*(?::|\s(?:est|serait|sera)\b\s*:?)"
    r"|\bantwort\s*(?::|\s(?:ist|lautet|wäre)\b\s*:?)"
    r"|\brespuesta(?:\s+(?:correcta|final))?\s*(?::|\s(?:es|sería|será)\b\s*:?)"
    r"|\bresposta(?:\s+(?:correta|final))?\s*(?::|\s(?:é|seria)\b\s*:?)"
    r"|\brisposta(?:\s+(?:corretta|giusta|finale))?\s*(?::|\s(?:è|sarebbe)\b\s*:?)"
    r"|ответ\s*(?::|—|-|\s(?:—|-|это)\s*)")
_CHOICE_AFTER = re.compile(rf"(?=[acrbpsimACRBPSIM答故所因应應则則选選正정답оО])(?:{_CHOICE_ANCHORS})(?:\s*(?:therefore|thus|hence|clearly|indeed|then)\b)?"
                           rf"{_CHOICE_LEAD}(?:(?:option|choice|选项|選項){_CHOICE_LEAD})?"
                           r"(?:\(\s*(?P<p>[A-Ea-e])\s*\)|(?P<l>[A-Ea-e]))(?![A-Za-z0-9])", re.IGNORECASE)
_CHOICE_BEFORE = re.compile(
    r"(?:(?<![A-Za-z0-9\\])(?:(?:option|choice)\s*)?(?:\(\s*(?P<p>[A-Ea-e])\s*\)|(?P<l>[A-E]))(?![A-Za-z0-9])"
    r"(?:[}$*]|\\\))*(?:\s*(?:is|must\s+be|should\s+be|would\s+be)\s+(?:the\s+)?(?:only\s+)?"
    r"(?:correct|valid|true|(?:right|best|correct)\s+(?:answer|option|choice)|answer)\b"
    r"|\s+(?:est\s+(?:la\s+bonne\s+r[ée]ponse|correcte?|juste)|ist\s+(?:richtig|korrekt|die\s+richtige\s+antwort)"
    r"|es\s+(?:la\s+)?(?:correcta|correcto|respuesta\s+correcta))\b))"
    r"|(?<![A-Za-z0-9\\])(?:选项|選項)?(?P<c>[A-E])\s*(?:项|項|选项|選項)?\s*(?:是)?\s*(?:正确|正確)", re.IGNORECASE)
_CHOICE_HEDGE = re.compile(r"^\s*\)?\s*(?:,|/|\bor\b|\band\b|\bet\b|\boder\b|\bund\b|\bo\b|\by\b|或者?|和|与)\s*"
                           r"(?:option\s*)?\(?[A-Ea-e]\)?(?![A-Za-z0-9])", re.IGNORECASE)
_CHOICE_CONDITION = re.compile(r"\b(?:if|whether|suppose|assume|assuming|unless|si|ob|wenn|falls)\b[^.,;:\n]{0,15}$"
                               r"|(?:如果|若|假设|假設)[^。，,\n]{0,10}$",
                               re.IGNORECASE)
_ARTICLE_OK = re.compile(r"\s+(?:because|since|as|and|not|which|is|was|so|for|with|rather|instead|but|or|then|"
                         r"here|there|from|of|in|\()\b", re.IGNORECASE)
_CHOICE_HEDGE_BEFORE = re.compile(r"\(?[A-Ea-e]\)?\s*(?:,|/|\bor\b|\band\b|\bet\b|\bo\b|或者?|和)\s*(?:option\s*)?\(?$",
                                  re.IGNORECASE)
_LETTER_IN_EXPRESSION = re.compile(r"\s*(?:[=<>^_+*/]|\\(?:le|ge|leq|geq|neq|cdot|times|in)(?![A-Za-z]))")
_CLOSING_MARKUP = re.compile(r"^(?:\*\*|__|[$})])*")
_LEADING_LETTER = re.compile(r"^(?:\(([A-E])\)|([A-E])[.:)])\s")
_OPTION_MARK = re.compile(r"(?<![A-Za-z0-9\\])(?:\(\s*([A-E])\s*\)|([A-E])[.:)](?=\s))")  # (B), B., B:, B) listing


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
    if _unclosed_final_box(body[-WINDOW:], boxes):
        return Extraction((), "no_answer", "unclosed_box")
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


def _extract_eval(response: str, nested: bool = False) -> Extraction:
    window = response[-WINDOW:]
    found: list[tuple[str, str]] = []
    scope = window
    boxes = _boxes(scope)
    if not boxes and len(response) > WINDOW:
        scope = response[-WIDE_WINDOW:]
        boxes = _boxes(scope)
    if _unclosed_final_box(scope, boxes):
        return Extraction((), "no_answer", "unclosed_box")
    if boxes:
        found.append((_join_adjacent_boxes(boxes, scope), "boxed"))
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
                found.insert(0 if matches[-1].start() > box_end >= 0 and found[0][1] == "boxed" else len(found),
                             (tail, name))
    stripped = response.strip()
    if 0 < len(stripped) <= SHORT_LINE and "\n" not in stripped and not _has_words(stripped):
        found.append((stripped, "plain"))
    envs = list(_ENV.finditer(window))
    broken = list(_BROKEN_INLINE.finditer(window))
    value = _last_value(window, envs + broken, guard=True)
    env = envs[-1] if envs else None
    if env is not None and (value is None or env.end() > value[0]):
        found.append((_join_envs(window, envs), "latex"))
        content = _env_content(env)
        inner_value = _last_value(content, [], guard=True) if _lone_value(content) else None
        if inner_value is not None:
            found.append((inner_value[1], "latex_number"))
        if value is not None and not _DIGIT.search(content):
            found.append((value[1], "number"))
    else:
        if value is not None:
            found.append((value[1], "number"))
        if env is not None:
            found.append((_join_envs(window, envs), "latex"))
    choice = _choice_reading(response, window, boxes, scope, tag)
    seen: set[str] = set()
    candidates: list[str] = []
    names: list[str] = []
    for text, name in found:
        text = text.strip()
        if not text or text in seen:
            continue
        letter = choice_letter(text)
        if letter is not None and (letter != choice or choice in (choice_letter(c) for c in candidates)):
            continue  # a letter that is not the response's choice reading (only the reading may be a letter)
        seen.add(text)
        candidates.append(text)
        names.append(name)
    if choice is not None and choice not in (choice_letter(c) for c in candidates):
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


def _unclosed_final_box(text: str, boxes: list[tuple[int, int, str]]) -> bool:
    """True when a ``\\boxed{`` opened after the last complete box never closes (a truncated answer)."""
    last_end = boxes[-1][1] if boxes else 0
    return any(m.group(1) == "{" for m in _BOX.finditer(text, last_end))


def _last_value(text: str, skip: list[re.Match[str]], guard: bool) -> tuple[int, str] | None:
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
        if _DIGIT.search(m.group(0)):
            last = m
    if last is None:
        return None
    if guard and _equation_rhs(text[max(0, last.start() - 200):last.start()].split("\n")[-1]):
        return None
    run = last.group(0).strip()
    unit = _NUMBER_UNIT.fullmatch(run)
    return last.end(), unit.group(1) if unit else run


def _lone_value(content: str) -> bool:
    """True when an environment holds one value and no structure (``\\approx 12``, ``x = 12 \\implies``,
    ``12 \\checkmark``), so its value may stand in for it when it does not parse; a tuple, an interval or a
    second value (``-[0,1)``, ``(5, 3``, ``2x + 3 = 12``) may not."""
    if any(c in content for c in ",()[]"):
        return False
    return sum(1 for m in _RUN.finditer(content) if _DIGIT.search(m.group(0))) == 1


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


def choice_letter(text: str) -> str | None:
    """The choice letter (upper case) that ``text`` *is*, or None: ``C``, ``c``, ``(C)``, ``[C]``, ``C.``,
    ``C)``, ``C:``, an option written after its letter (``(C) 42``, ``C) 42``, ``C. 42``), wrapped in
    ``\\text{}``/``\\textbf{}``/``\\mathrm{}``/``**``/``$``, or named (``Option C``, ``Answer: C``). A letter
    inside an expression (``B+1``, ``2B``, ``B = 3``, ``C 42``) is not a choice letter. The grader's
    choice rung uses exactly this reader, and eval-mode extraction keeps no other candidate it accepts."""
    t = text.translate(_FULLWIDTH)
    for _ in range(3):
        unwrapped = _CHOICE_WRAP.sub(lambda m: m.group(1), t)
        if unwrapped == t:
            break
        t = unwrapped
    t = t.replace("**", "").replace("$", "").strip().rstrip(".,;!").strip()
    if len(t) > 200:
        return None
    m = _CHOICE_FORM.fullmatch(t)
    if not m:
        return None
    letter = m.group("p") or m.group("b") or m.group("l")
    rest = m.group("rest")
    if rest and (m.group("l") and not m.group("sep") or not _CHOICE_SPACE.match(rest) or not rest.strip()):
        return None
    return letter.upper()


def _choice_reading(response: str, window: str, boxes: list[tuple[int, int, str]], scope: str,
                    tag: tuple[int, int, str] | None) -> str | None:
    """The choice letter a response answers with, or None (see the module docstring, "Choice letters").

    The latest decisive statement wins: the final box (or group of adjacent boxes), the last complete
    ``<answer>`` tag, and prose statements naming a letter ("the answer is C", "C is correct", "答案是C",
    "la réponse est C", ...). A box or tag that is not a letter decides too: the answer is a value.
    Without any, a response that opens with a letter (``C. Because ...``) and lists no other option, or
    whose last line is only a letter (``**C**``, ``Option C``), answers with that letter."""
    decisions: list[tuple[int, str | None]] = []
    if boxes:
        end = boxes[-1][1] - len(scope) + len(window)
        decisions.append((end, _read_choice_text(_join_adjacent_boxes(boxes, scope, with_or=True))))
    if tag is not None:
        decisions.append((tag[1], _read_choice_text(tag[2])))
    decisions.extend(_choice_statements(window))
    if decisions:
        return max(decisions, key=lambda d: d[0])[1]
    stripped = response.strip().translate(_FULLWIDTH)
    leading = _LEADING_LETTER.match(stripped)
    if leading:
        letter = leading.group(1) or leading.group(2)
        listed = [m.group(1) or m.group(2) for m in _OPTION_MARK.finditer(stripped[-WINDOW:])]
        if all(other == letter for other in listed):
            return letter
    lines = [line for line in window.split("\n") if line.strip()]
    if lines:
        last = choice_letter(lines[-1])
        if last is not None and _bare_choice(lines[-1]):
            return last
    return None


def _read_choice_text(text: str) -> str | None:
    """The letter an answer text (box or tag content) gives: the text itself, else its last statement."""
    letter = choice_letter(text)
    if letter is not None:
        return letter
    statements = _choice_statements(text)
    return statements[-1][1] if statements else None


def _bare_choice(line: str) -> bool:
    """True when a line is only a choice letter (no option content after it)."""
    t = _CHOICE_WRAP.sub(lambda m: m.group(1), line.translate(_FULLWIDTH)).replace("**", "").replace("$", "")
    m = _CHOICE_FORM.fullmatch(t.strip().rstrip(".,;!").strip())
    return bool(m) and not m.group("rest").strip()


def _choice_statements(text: str) -> list[tuple[int, str | None]]:
    """(position, letter) of each prose statement naming the answer letter, in order; the letter is None
    for a hedge (``the answer is C or D``). Conditionals (``if C is correct``) and negations (``the answer
    is not A``, ``C is incorrect``) are not statements."""
    t = text.translate(_FULLWIDTH)
    found: list[tuple[int, str | None]] = []
    for pattern in (_CHOICE_AFTER, _CHOICE_BEFORE):
        for m in pattern.finditer(t):
            name = next(k for k in ("p", "l", "c") if k in m.groupdict() and m.group(k))
            letter = m.group(name)
            pos = m.start(name)
            if name in ("l", "c") and pattern is _CHOICE_BEFORE and not letter.isupper():
                continue
            if _CHOICE_CONDITION.search(t[max(0, m.start() - 40):m.start()]):
                continue
            after = t[m.end():m.end() + 40]
            if pattern is _CHOICE_AFTER and (name == "l" and not _letter_stands_alone(letter, after)
                                             or _LETTER_IN_EXPRESSION.match(_CLOSING_MARKUP.sub("", after))):
                continue
            hedge = _CHOICE_HEDGE.match(after) or _CHOICE_HEDGE_BEFORE.search(t[max(0, pos - 20):pos])
            found.append((pos, None if hedge else letter.upper()))
    found.sort(key=lambda f: f[0])
    return found


def _letter_stands_alone(letter: str, after: str) -> bool:
    """A bare letter after an answer anchor is the choice unless it starts prose: a lower-case letter must
    end the sentence (``the answer is b.``, not ``the answer is a positive integer``), and ``A`` followed
    by a lower-case word must be followed by a connective (``A because ...``), not read as the article."""
    if letter.islower():
        return bool(re.match(r"(?:[.,;!?:)]+(?:\s|$)|\s*$|[ \t]*\n)", after))
    if letter == "A" and re.match(r"\s+[a-z]", after):
        return bool(_ARTICLE_OK.match(after))
    return True


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


def _join_adjacent_boxes(boxes: list[tuple[int, int, str]], text: str, with_or: bool = False) -> str:
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
        value = _last_value(line.replace("$", " "), [], guard=False)
        return value[1] if value else ""
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
