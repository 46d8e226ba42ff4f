"""Choice letters: which option letter (A-E) a text *is*, and which one a response answers with.

Rules.

* **A choice letter** (:func:`choice_letter`) is ``C``, ``c``, ``(C)``, ``[C]``, ``C.``, ``C)``, ``C:``, an
  option written after its letter (``(C) 42``, ``C) 42``, ``C. 42``), wrapped in ``\\text{}``/``\\textbf{}``/
  ``\\mathrm{}``/``**``/``$``, or named (``Option C``, ``Answer: C``); full-width forms (``Ｃ``, ``（B）``)
  count. A letter inside an expression (``B+1``, ``2B``, ``B = 3``, ``C 42``) is not a choice letter. The
  grader's choice rung uses exactly this reader.
* **The choice reading** (:func:`choice_reading`, eval mode) is the latest decisive statement: the final
  box (or boxes joined by ",", "and", "or"), the last ``<answer>`` tag, or a prose statement that names
  the answer letter: after an anchor ("the answer is (b)", "Answer: **C**", "the correct option is D",
  "which corresponds to option C", "we choose C.", "答案是C", "故选D", "正解はE", "정답은 C", "la réponse est
  C", "die Antwort ist C", "la respuesta es C", "a resposta correta é B", "la risposta corretta è A",
  "Ответ: D") or before a predicate ("C is correct", "(D) is the correct answer", "B is valid", "C项正确",
  "C est correcte", "C ist richtig", "C es correcta"). What follows the named letter does not matter
  ("the answer is C, not A" is C), but a second letter joined by or/and/"," is a hedge (no letter), a
  conditional ("if C is correct", "whether B is the answer") or a negation ("is not A", "C is
  incorrect") names nothing, a lower-case letter must end its sentence ("the answer is a positive
  integer" is no letter) and "A" followed by a lower-case word must be followed by a connective (the
  article is not option A). A box or tag that is not a letter decides too: the answer is a value, so no
  letter mentioned elsewhere is read. Without any of these, a response that opens with a letter (``C.
  Because ...``) and marks no other option (``(B)``, ``B.``, ``B:``), or whose last line is only a letter
  (``**C**``, ``Option C``), answers with that letter.
"""

from __future__ import annotations

import re

_FULLWIDTH = str.maketrans({**{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
                            **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
                            "（": "(", "）": ")", "：": ":", "，": ",", "．": ".", "。": ".", "、": ","})
_CHOICE_WRAP = re.compile(r"\\(?:text|textbf|textrm|textsf|textit|mathrm|mathbf|mathsf|mathit|mbox"
                          r"|boxed|fbox)"
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
_CHOICE_AFTER = re.compile(rf"(?=[acrbpsimACRBPSIM答故所因应應则則选選正정답оО])(?:{_CHOICE_ANCHORS})"
                           r"(?:\s*(?:therefore|thus|hence|clearly|indeed|then)\b)?"
                           rf"{_CHOICE_LEAD}(?:(?:option|choice|选项|選項){_CHOICE_LEAD})?"
                           r"(?:\(\s*(?P<p>[A-Ea-e])\s*\)|(?P<l>[A-Ea-e]))(?![A-Za-z0-9])", re.IGNORECASE)
_CHOICE_BEFORE = re.compile(
    r"(?:(?<![A-Za-z0-9\\])(?:(?:option|choice)\s*)?(?:\(\s*(?P<p>[A-Ea-e])\s*\)|(?P<l>[A-E]))(?![A-Za-z0-9])"
    r"(?:[}$*]|\\\))*(?:\s*(?:is|must\s+be|should\s+be|would\s+be)\s+(?:the\s+)?(?:only\s+)?"
    r"(?:correct|valid|true|(?:right|best|correct)\s+(?:answer|option|choice)|answer)\b"
    r"|\s+(?:est\s+(?:la\s+bonne\s+r[ée]ponse|correcte?|juste)"
    r"|ist\s+(?:richtig|korrekt|die\s+richtige\s+antwort)"
    r"|es\s+(?:la\s+)?(?:correcta|correcto|respuesta\s+correcta))\b))"
    r"|(?<![A-Za-z0-9\\])(?:选项|選項)?(?P<c>[A-E])\s*(?:项|項|选项|選項)?\s*(?:是)?\s*(?:正确|正確)",
    re.IGNORECASE)
_CHOICE_HEDGE = re.compile(r"^\s*\)?\s*(?:,|/|\bor\b|\band\b|\bet\b|\boder\b|\bund\b|\bo\b|\by\b"
                           r"|或者?|和|与)\s*"
                           r"(?:option\s*)?\(?[A-Ea-e]\)?(?![A-Za-z0-9])", re.IGNORECASE)
_CHOICE_CONDITION = re.compile(r"\b(?:if|whether|suppose|assume|assuming|unless|si|ob|wenn|falls)\b"
                               r"[^.,;:\n]{0,15}$"
                               r"|(?:如果|若|假设|假設)[^。，,\n]{0,10}$",
                               re.IGNORECASE)
_ARTICLE_OK = re.compile(r"\s+(?:because|since|as|and|not|which|is|was|so|for|with|rather|instead|but|or|"
                         r"then|"
                         r"here|there|from|of|in|\()\b", re.IGNORECASE)
_CHOICE_HEDGE_BEFORE = re.compile(r"\(?[A-Ea-e]\)?\s*(?:,|/|\bor\b|\band\b|\bet\b|\bo\b|或者?|和)\s*"
                                  r"(?:option\s*)?\(?$", re.IGNORECASE)
_LETTER_IN_EXPRESSION = re.compile(r"\s*(?:[=<>^_+*/]|\\(?:le|ge|leq|geq|neq|cdot|times|in)(?![A-Za-z]))")
_CLOSING_MARKUP = re.compile(r"^(?:\*\*|__|[$})])*")
_LEADING_LETTER = re.compile(r"^(?:\(([A-E])\)|([A-E])[.:)])\s")
# an option listed as (B), B., B: or B)
_OPTION_MARK = re.compile(r"(?<![A-Za-z0-9\\])(?:\(\s*([A-E])\s*\)|([A-E])[.:)](?=\s))")


def _unwrapped(text: str) -> str:
    """``text`` with full-width characters made ASCII and up to three nested ``\\text{}``-style or box
    wrappers removed (``\\text{\\textbf{C}}`` -> ``C``)."""
    t = text.translate(_FULLWIDTH)
    for _ in range(3):
        unwrapped = _CHOICE_WRAP.sub(lambda m: m.group(1), t)
        if unwrapped == t:
            break
        t = unwrapped
    return t


def choice_letter(text: str) -> str | None:
    """The choice letter (upper case) that ``text`` *is*, or None: ``C``, ``c``, ``(C)``, ``[C]``, ``C.``,
    ``C)``, ``C:``, an option written after its letter (``(C) 42``, ``C) 42``, ``C. 42``), wrapped in
    ``\\text{}``/``\\textbf{}``/``\\mathrm{}``/``**``/``$``, or named (``Option C``, ``Answer: C``). A letter
    inside an expression (``B+1``, ``2B``, ``B = 3``, ``C 42``) is not a choice letter. The grader's
    choice rung uses exactly this reader, and eval-mode extraction keeps no other candidate it accepts."""
    t = _unwrapped(text)
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


def choice_reading(response: str, window: str, final_box: tuple[int, str] | None,
                   tag: tuple[int, int, str] | None) -> str | None:
    """The choice letter a response answers with, or None (rules in the module docstring).

    ``window`` is the scanned tail of ``response``; ``final_box`` is (end in ``window``, joined content)
    of the final box group (adjacent boxes joined with ",", "and" or "or"), ``tag`` (start, end,
    content) of the last complete ``<answer>`` tag. The latest decisive statement wins: the final box,
    the tag, and prose statements naming a letter ("the answer is C", "C is correct", "答案是C",
    "la réponse est C", ...). A box or tag that is not a letter decides too: the answer is a value.
    Without any, a response that opens with a letter (``C. Because ...``) and lists no other option in
    its last ``len(window)`` characters, or whose last line is only a letter (``**C**``, ``Option C``),
    answers with that letter."""
    decisions: list[tuple[int, str | None]] = []
    if final_box is not None:
        decisions.append((final_box[0], _read_choice_text(final_box[1])))
    if tag is not None:
        decisions.append((tag[1], _read_choice_text(tag[2])))
    decisions.extend(_choice_statements(window))
    if decisions:
        return max(decisions, key=lambda d: d[0])[1]
    stripped = response.strip().translate(_FULLWIDTH)
    leading = _LEADING_LETTER.match(stripped)
    if leading:
        letter = leading.group(1) or leading.group(2)
        listed = [m.group(1) or m.group(2) for m in _OPTION_MARK.finditer(stripped[-len(window):])]
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
    t = _unwrapped(line).replace("**", "").replace("$", "")
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

