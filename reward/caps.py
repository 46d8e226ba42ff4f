"""Safety caps, checked before anything is evaluated.

Rules (defaults in :class:`Caps`):

* an extracted answer longer than ``max_answer_chars`` is rejected;
* brace/bracket/paren nesting deeper than ``max_depth`` is rejected (checked in one linear pass);
* an integer literal with more than ``max_digits`` digits is rejected;
* on the parsed (unevaluated) expression tree: a numeric exponent above ``max_exponent`` in magnitude
  is rejected unless the base is 0 or +-1, so power towers such as ``9^{9^{9^{9}}}`` are rejected
  outright; a factorial/binomial/gamma argument above ``max_factorial`` is rejected; any numeric
  sub-expression whose size bound exceeds ``max_value_digits`` decimal digits is rejected; more than
  ``max_symbols`` free symbols are rejected.

A violation raises :class:`TooLarge`; the verifier maps it to ``status="too_large"``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any


class TooLarge(Exception):
    """A cap or guard fired; the answer is rejected without being evaluated."""


@dataclass(frozen=True)
class Caps:
    """Limits applied to every answer and gold before evaluation."""

    max_answer_chars: int = 1000
    max_depth: int = 50
    max_digits: int = 1000
    max_exponent: int = 10_000
    max_factorial: int = 10_000
    max_value_digits: int = 100_000
    max_symbols: int = 10


DEFAULT_CAPS = Caps()

_OPEN = frozenset("{([")
_CLOSE = frozenset("})]")


def check_text(text: str, caps: Caps = DEFAULT_CAPS) -> None:
    """Reject an answer string that breaks a textual cap (length, nesting depth, digit run)."""
    if len(text) > caps.max_answer_chars:
        raise TooLarge(f"answer longer than {caps.max_answer_chars} characters")
    depth = 0
    for ch in text:
        if ch in _OPEN:
            depth += 1
            if depth > caps.max_depth:
                raise TooLarge(f"nesting deeper than {caps.max_depth}")
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
    if re.search(rf"\d{{{caps.max_digits + 1},}}", text):
        raise TooLarge(f"integer literal with more than {caps.max_digits} digits")


_FACTORIAL_LIKE = ("factorial", "factorial2", "subfactorial", "binomial", "gamma", "RisingFactorial",
                   "FallingFactorial", "fibonacci", "lucas", "bell", "catalan", "harmonic", "primorial")


def check_expr(expr: Any, caps: Caps = DEFAULT_CAPS) -> None:
    """Reject an unevaluated sympy tree whose evaluation could blow up (see module rules).

    The walk is recursive over a tree whose depth is already bounded by :func:`check_text`.
    """
    free: set[Any] = getattr(expr, "free_symbols", set())
    if len(free) > caps.max_symbols:
        raise TooLarge(f"more than {caps.max_symbols} free symbols")
    _size(expr, caps)


def _size(e: Any, caps: Caps) -> float:
    """Upper bound on the decimal size (digits of numerator/denominator) of a sub-expression.

    Symbolic sub-expressions get a nominal size; the caps apply to their numeric parts.
    """
    import sympy

    if not isinstance(e, sympy.Basic):
        return 1.0
    if e.is_Integer:
        n = abs(int(e))
        return max(1.0, n.bit_length() * 0.30103)
    if e.is_Rational:
        return max(1.0, (abs(e.p).bit_length() + e.q.bit_length()) * 0.30103)
    if e.is_Float:
        return max(1.0, abs(math.log10(abs(float(e))))) if e != 0 else 1.0
    if e.is_Atom:
        return 1.0
    if e.is_Pow:
        base, exp = e.args
        base_size = _size(base, caps)
        exp_size = _size(exp, caps)
        if exp.free_symbols:
            return base_size * 10.0
        if base.is_Integer and abs(int(base)) <= 1:
            return 1.0
        if exp_size > math.log10(caps.max_exponent) + 1:
            raise TooLarge("exponent too large (power tower?)")
        magnitude = abs(complex(exp.evalf(15)))
        if magnitude > caps.max_exponent:
            raise TooLarge(f"exponent above {caps.max_exponent}")
        size = base_size * max(1.0, magnitude)
        if size > caps.max_value_digits:
            raise TooLarge(f"value above {caps.max_value_digits} digits")
        return size
    name = type(e).__name__
    if name in _FACTORIAL_LIKE:
        total = 1.0
        for arg in e.args:
            arg_size = _size(arg, caps)
            if arg.free_symbols:
                continue
            if arg_size > math.log10(caps.max_factorial) + 1:
                raise TooLarge("factorial argument too large")
            value = abs(complex(arg.evalf(15)))
            if value > caps.max_factorial:
                raise TooLarge(f"factorial argument above {caps.max_factorial}")
            total += value * math.log10(max(value, 2.0))
        return total
    sizes = [_size(a, caps) for a in e.args]
    if e.is_Mul:
        total = sum(sizes)
    else:
        total = (max(sizes) if sizes else 1.0) + 1.0
    if total > caps.max_value_digits:
        raise TooLarge(f"value above {caps.max_value_digits} digits")
    return total
