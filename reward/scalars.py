"""Comparison of two parsed scalar expressions (the scalar rung of :mod:`reward.symbolic`).

Rules.

* **Structural** equality first. ``i`` means the imaginary unit when the gold uses it. Written decimals
  are read as the exact rationals they denote. Undefined function calls (``f(x)``) must be the same calls
  on both sides and are then treated as opaque symbols.
* **Without free symbols**, exact evaluation: two rationals are compared exactly (no ``chop``, no float
  underflow, so ``1/2^98 != 1/2^99``); a decimal prediction against an exact gold follows
  :func:`reward.numbers.long_decimal_matches` (6+ places within one unit of the last, only against a
  gold that is not a terminating decimal: ``3.1415927`` = ``pi``, ``0.33333333`` = ``sqrt(4)/6``,
  ``1.9999999 != sqrt(4)``, ``3.14 != pi``), while decimals inside an exact expression are read exactly;
  a gold written with a decimal accepts a rational within a relative 1e-9; irrationals are compared at
  60 significant digits with a relative tolerance of 1e-45 (1e-9 when either side has a written
  decimal).
* **With free symbols**: :func:`reward.identity.identity`.
* **Eval-mode option** ``precision`` (:class:`reward.verdict.Options`, passed explicitly): a decimal
  prediction may equal the exact real gold rounded to its written places (method ``rounded``).
"""

from __future__ import annotations

from fractions import Fraction

import sympy
from sympy.core.function import AppliedUndef

from reward.identity import evaluate, identity, simplify_zero
from reward.numbers import long_decimal_matches, terminates
from reward.safe_parse import Scalar
from reward.verdict import DEFAULT_OPTIONS, Options

Result = tuple[bool, str]
_EXACT_RTOL = sympy.Float("1e-45", 60)
_FLOAT_RTOL = sympy.Float("1e-9", 60)
_I = sympy.Symbol("i")


def scalars_equal(gold: Scalar, pred: Scalar, options: Options = DEFAULT_OPTIONS) -> Result:
    """Compare two scalar expressions (rules in the module docstring)."""
    ge, pe = gold.expr, pred.expr
    if ge == pe:
        return True, "structural"
    if _I in ge.free_symbols:
        ge, pe = ge.subs(_I, sympy.I), pe.subs(_I, sympy.I)
    ge, pe = _rationalize(ge), _rationalize(pe)
    calls = ge.atoms(AppliedUndef) | pe.atoms(AppliedUndef)
    if calls:
        if ge.atoms(AppliedUndef) != pe.atoms(AppliedUndef):
            return False, "function"
        names = {call: sympy.Dummy(f"call{k}") for k, call in enumerate(sorted(calls, key=str))}
        ge, pe = ge.xreplace(names), pe.xreplace(names)
    has_float = gold.has_float or pred.has_float
    if not (ge.free_symbols or pe.free_symbols):
        gv, pv = evaluate(ge), evaluate(pe)
        decimal_vs_exact = pred.has_float and not gold.has_float
        if decimal_vs_exact and pv.is_Rational and _rounded(gv, pv, options):
            return True, "rounded"
        if gv.is_Rational and pv.is_Rational:
            if gv == pv:
                return True, "rational"
            if decimal_vs_exact:
                return _long_decimal(gv, pv, pred), "decimal_vs_exact"
            if gold.has_float:
                return _close(complex(gv), complex(pv), 1e-9), "numeric_tol"
            return False, "rational"
        if decimal_vs_exact and pv.is_Rational:
            return _long_decimal(gv, pv, pred), "decimal_vs_exact"
        if decimal_vs_exact and gv.is_Rational and terminates(Fraction(int(gv.p), int(gv.q))):
            return _numbers_equal(gv, pv, False)  # an integer or terminating gold takes its exact value only
        return _numbers_equal(gv, pv, has_float)
    return identity(ge, pe, has_float)


def _rounded(gold: sympy.Basic, decimal: sympy.Rational, options: Options) -> bool:
    """The ``precision`` option: ``decimal`` is the real gold rounded to its written places."""
    if options.precision is None:
        return False
    places = _places(decimal)
    if gold.is_Rational:
        exact = Fraction(int(gold.p), int(gold.q))
    else:
        g = gold.evalf(places + 30)
        if not (g.is_number and g.is_real and g.is_finite):
            return False
        exact = Fraction(str(sympy.Rational(g)))
    return options.rounded_match(exact, Fraction(int(decimal.p), int(decimal.q)), places)


def _places(decimal: sympy.Rational) -> int:
    """Decimal places of a decimal rational (``3/25`` -> 2), at most 60."""
    places = 0
    while 10**places % int(decimal.q) and places < 60:
        places += 1
    return places


def _long_decimal(gold: sympy.Basic, decimal: sympy.Rational, pred: Scalar) -> bool:
    """:func:`reward.numbers.long_decimal_matches` for a decimal prediction against an exact gold value
    (places as written for a plain decimal, else those of its value); an irrational gold is evaluated
    well beyond the decimal's places."""
    places = pred.places if pred.places is not None else _places(decimal)
    value = Fraction(int(decimal.p), int(decimal.q))
    if gold.is_Rational:
        return long_decimal_matches(Fraction(int(gold.p), int(gold.q)), value, places)
    magnitude = gold.evalf(15)
    if not (magnitude.is_number and magnitude.is_real and magnitude.is_finite):
        return False
    digits = places + 30 + len(str(int(abs(magnitude))))
    g = gold.evalf(digits)
    if not (g.is_number and g.is_real and g.is_finite):
        return False
    r = sympy.Rational(g)
    return long_decimal_matches(Fraction(int(r.p), int(r.q)), value, places, irrational=True)


def _numbers_equal(gv: sympy.Basic, pv: sympy.Basic, has_float: bool) -> Result:
    a, b = gv.evalf(60), pv.evalf(60)
    if not (a.is_number and b.is_number) or a.has(sympy.nan, sympy.zoo) or b.has(sympy.nan, sympy.zoo):
        return simplify_zero(gv, pv), "simplify"
    if a.is_infinite or b.is_infinite:
        return bool(a == b), "numeric_exact"
    diff = abs(a - b)
    scale = max(abs(a), abs(b))
    if scale < sympy.Float("1e-50", 60):
        return simplify_zero(gv, pv), "simplify"
    rtol = _FLOAT_RTOL if has_float else _EXACT_RTOL
    return bool(diff <= rtol * scale), ("numeric_tol" if has_float else "numeric_exact")


def _close(a: complex, b: complex, rtol: float) -> bool:
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-300)


def _rationalize(expr: sympy.Basic) -> sympy.Basic:
    """Replace written decimals by the exact rationals they denote (``0.3333`` -> 3333/10000)."""
    floats = expr.atoms(sympy.Float)
    if not floats:
        return expr
    return expr.xreplace({f: sympy.Rational(str(f)) for f in floats})
