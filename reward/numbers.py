"""Plain numbers without sympy: parsing to exact ``Fraction`` values and the decimal-tolerance rules.

Rules (used by the cheap rung of :mod:`reward.grader` and, for decimals inside parsed answers, by
:mod:`reward.symbolic`):

* **Plain numbers** (:func:`parse_number`): integers with leading zeros, separators (``7,425,000``,
  ``1 000``) and trailing ``.0``; decimals; ``\\frac{a}{b}`` and ``a/b``; mixed numbers; scientific
  notation (``8.7 \\times 10^{8}``, ``4.5e33``); ``10^{k}``. Values are exact ``Fraction`` s. A decimal
  comma (``1,22``) is read as a point only when the caller says the other side is a decimal written
  with a point; ``0,5`` always is.
* **A gold written with decimals** accepts anything within half a unit of its last written digit
  (``9.6`` accepts ``9.63``; Minerva's significant-figure golds). A gold whose written decimals are
  all zeros (``3.00``) is exact.
* **Long decimals** (:func:`long_decimal_matches`, the one implementation of the rule): a decimal
  prediction written with ``k >= 6`` places matches an exact gold within one unit of its last place
  (``0.333333`` = ``1/3``, ``1.414214`` = ``√2``, ``0.0833333`` = ``1/12``), **only when the gold's
  value is not a terminating decimal** (an irrational, or a fraction whose reduced denominator has a
  prime factor other than 2 and 5). A gold that is an integer or a terminating decimal (``1``,
  ``1/8 = 0.125``) can be written exactly, so it accepts only its exact value: ``0.999999 ≠ 1``,
  ``2.9999999 ≠ 3``, ``0.125001 ≠ 1/8``. For a non-terminating gold the distance to a decimal is never
  exactly one unit of its last place, so the bound needs no inclusive/strict convention. Shorter
  approximations (``0.3333``, ``3.14``) stay wrong unless the eval-mode ``precision`` option applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

LONG_DECIMAL_PLACES = 6
"""Written decimal places from which a decimal may approximate a non-terminating exact gold."""

MAX_NUMBER_CHARS = 200

_INT = re.compile(r"^[+-]?\d+$")
DECIMAL = re.compile(r"^[+-]?(?:\d+\.\d*|\.\d+)$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_SPACED_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?: \d{3})+$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_FRAC = re.compile(r"^([+-]?)\\frac\{([+-]?\d+)\}\{([+-]?\d+)\}$")
_SLASH = re.compile(r"^([+-]?\d+)\s*/\s*(\d+)$")
_MIXED = re.compile(r"^(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}$")
_SCI = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:\\times|\\cdot|\*|x)\s*10\s*\^\s*\{?\s*([+-]?\d{1,4})\s*\}?$"
                  r"|^([+-]?(?:\d+(?:\.\d*)?|\.\d+))[eE]([+-]?\d{1,4})$")
_POW10 = re.compile(r"^10\s*\^\s*\{?\s*([+-]?\d{1,4})\s*\}?$")


@dataclass(frozen=True)
class Number:
    """A plain number: exact ``value``, the ``tolerance`` it grants as a gold (half a unit of its last
    written decimal; 0 when exact) and ``places``, its written decimal places when it is a decimal
    with a non-zero decimal digit (0 otherwise)."""

    value: Fraction
    tolerance: Fraction = Fraction(0)
    places: int = 0


def parse_number(text: str, decimal_comma: bool | None = None) -> Number | None:
    """Exact value and written precision of a plain number, or None if ``text`` is not one."""
    t = text.strip()
    if not t or len(t) > MAX_NUMBER_CHARS:
        return None
    if _SPACED_THOUSANDS.match(t):
        t = t.replace(" ", "")
    if t.startswith("0,") and re.match(r"^0,\d+$", t):
        t = t.replace(",", ".")
    elif decimal_comma and _DECIMAL_COMMA.match(t) and not _THOUSANDS.match(t):
        t = t.replace(",", ".")
    elif _THOUSANDS.match(t):
        t = t.replace(",", "")
    if _INT.match(t):
        return Number(Fraction(int(t)))
    if DECIMAL.match(t):
        places = written_places(t)
        return Number(Fraction(t), _half_unit(places), places)
    m = _FRAC.match(t)
    if m and int(m.group(3)) != 0:
        sign = -1 if m.group(1) == "-" else 1
        return Number(sign * Fraction(int(m.group(2)), int(m.group(3))))
    m = _SLASH.match(t)
    if m and int(m.group(2)) != 0:
        return Number(Fraction(int(m.group(1)), int(m.group(2))))
    m = _MIXED.match(t)
    if m and int(m.group(3)) != 0:
        return Number(int(m.group(1)) + Fraction(int(m.group(2)), int(m.group(3))))
    m = _SCI.match(text.strip())
    if m:
        mantissa, exponent = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        scale = Fraction(10) ** int(exponent)
        return Number(Fraction(mantissa) * scale, _half_unit(written_places(mantissa)) * scale)
    m = _POW10.match(t)
    if m:
        return Number(Fraction(10) ** int(m.group(1)))
    return None


def written_places(decimal: str) -> int:
    """Decimal places written in ``decimal`` (``0.3330`` -> 4), or 0 when every written decimal is zero."""
    if "." not in decimal:
        return 0
    frac = decimal.split(".", 1)[1].strip()
    return len(frac) if frac.strip("0") else 0


def _half_unit(places: int) -> Fraction:
    return Fraction(1, 2 * 10**places) if places else Fraction(0)


def numbers_match(gold: Number, pred: Number, gold_percent: bool, pred_percent: bool) -> bool:
    """Plain gold vs plain prediction: exact, within the gold's written precision, or by the long-decimal
    rule. A side carrying ``%`` is also read divided by 100 (``10%`` = ``0.1`` = ``10``)."""
    golds = [(gold.value, gold.tolerance)] + ([(gold.value / 100, gold.tolerance / 100)] if gold_percent else [])
    preds = [(pred.value, pred.places)]
    if pred_percent:  # the value divided by 100 has two more decimal places
        preds.append((pred.value / 100, pred.places + 2 if pred.places else 0))
    for g, tolerance in golds:
        for p, places in preds:
            if abs(g - p) <= tolerance:
                return True
            if not tolerance and long_decimal_matches(g, p, places):
                return True
    return False


def terminates(value: Fraction) -> bool:
    """True when ``value`` is a terminating decimal (its reduced denominator is 2^a 5^b)."""
    q = value.denominator
    for p in (2, 5):
        while q % p == 0:
            q //= p
    return q == 1


def long_decimal_matches(gold: Fraction, decimal: Fraction, places: int, *, irrational: bool = False) -> bool:
    """The long-decimal rule (module docstring): ``decimal``, written with ``places`` decimals, matches
    the exact ``gold``. ``irrational=True`` says ``gold`` is a rational approximation (to well beyond
    ``places`` digits) of an irrational value, which never terminates."""
    if places < LONG_DECIMAL_PLACES:
        return False
    unit = Fraction(1, 10**places)
    if irrational:
        nearest = round(gold / unit) * unit
        if abs(gold - nearest) <= unit / 10**12:  # numerically a short decimal (an unsimplified 3, say): exact only
            return decimal == nearest
    elif terminates(gold):
        return False
    return abs(gold - decimal) <= unit
