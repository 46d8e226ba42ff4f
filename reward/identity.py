"""Is an equation between two expressions an identity? Numeric and exact tests for expressions with
free symbols (and the exact evaluation they share with the other sympy rungs).

Rules.

* **Rational functions** (:func:`rational_identity`): two rational functions with rational coefficients
  (integer powers of symbols, no constants like π) are evaluated exactly (``Fraction``) at seeded random
  integer points of size up to 2^31. A non-zero rational function whose numerator has degree at most d
  vanishes at such a point with probability at most d / 2^31 (Schwartz-Zippel); with the degree bound
  capped at ``_EXACT_DEGREE_CAP`` (4000), ``_EXACT_POINTS`` (4) agreeing points make a false "equal"
  less likely than 1e-20, and one differing point is a proof.
* **Other expressions** (:func:`identity`): values at seeded real and complex points (40 digits, mpmath
  values, so no overflow or underflow) compared with a relative tolerance (1e-30; 1e-9 when a decimal
  was written on either side); points where both values vanish (below 1e-30) or that cannot be
  evaluated prove nothing; all conclusive points agree (3 at least) -> equal, one clear mismatch
  (relative difference above 1e-8) -> different, else ``simplify`` of the difference decides.
* **Constant ratio** (:func:`constant_ratio`, for relations): ``a / b`` is one non-zero (positive)
  constant at every sampled real point (3 conclusive points at least).
"""

from __future__ import annotations

import random
from fractions import Fraction

import mpmath
import sympy

_IDENTITY_RTOL = 1e-30      # values at a sample point agree (40-digit evaluation on both sides)
_FLOAT_IDENTITY_RTOL = 1e-9  # ... when a decimal was written on either side
_MISMATCH_RTOL = 1e-8       # values at a sample point clearly differ
_VANISHING = 1e-30          # both values below this at a point: the point proves nothing
_EXACT_DEGREE_CAP = 4000    # degree bound up to which rational functions are compared exactly
_EXACT_POINTS = 4           # agreeing exact evaluations needed


def identity(ge: sympy.Basic, pe: sympy.Basic, has_float: bool) -> tuple[bool, str]:
    """Two expressions with free symbols: exactly for rational functions (:func:`rational_identity`),
    else by values at seeded points compared with a relative tolerance. A point where both values
    vanish (below 1e-30) or that cannot be evaluated proves nothing; all conclusive points must agree
    and at least 3 must, else ``simplify`` of the difference decides."""
    exact = rational_identity(ge, pe)
    if exact is not None:
        return exact, "identity"
    symbols = sorted(ge.free_symbols | pe.free_symbols, key=str)
    rtol = _FLOAT_IDENTITY_RTOL if has_float else _IDENTITY_RTOL
    agree = 0
    with mpmath.workdps(50):
        for point in sample_points(symbols, complex_points=True):
            a, b = value_at(ge, point), value_at(pe, point)
            if a is None or b is None:
                continue
            scale = max(abs(a), abs(b))
            if scale < _VANISHING:
                continue
            diff = abs(a - b)
            if diff <= rtol * scale:
                agree += 1
            elif diff > _MISMATCH_RTOL * scale:
                return False, "identity"
    if agree >= 3:
        return True, "identity"
    return simplify_zero(ge, pe), "simplify"


class _NotRational(Exception):
    """The expression is not a rational function with rational coefficients (or is too large)."""


def rational_identity(ge: sympy.Basic, pe: sympy.Basic) -> bool | None:
    """Exact comparison of two rational functions with rational coefficients (integer powers of
    symbols, no constants like π): both are evaluated exactly at seeded random integer points of
    size up to 2^31. A non-zero rational function whose numerator has degree at most d vanishes at
    such a point with probability at most d / 2^31 (Schwartz-Zippel), so with the degree bound capped
    at 4000, 4 agreeing points make a false "equal" below 1e-20; one differing point is a proof.
    None when not applicable (other functions, degree bound above the cap, poles everywhere)."""
    try:
        bound = _degree_bound(ge) + _degree_bound(pe)
    except _NotRational:
        return None
    if bound > _EXACT_DEGREE_CAP:
        return None
    symbols = sorted(ge.free_symbols | pe.free_symbols, key=str)
    rng = random.Random(7654321)
    agree = 0
    for _ in range(3 * _EXACT_POINTS):
        point = {sym: Fraction(rng.randint(1, 2**31) * rng.choice((1, -1))) for sym in symbols}
        try:
            a, b = _exact_value(ge, point), _exact_value(pe, point)
        except ZeroDivisionError:  # a pole at this point: try another one
            continue
        except _NotRational:
            return None
        if a != b:
            return False
        agree += 1
        if agree == _EXACT_POINTS:
            return True
    return None


def _degree_bound(expr: sympy.Basic) -> int:
    """An upper bound on the degree of the numerator and of the denominator of ``expr`` as a rational
    function; raises :class:`_NotRational` when it is not one."""
    if not expr.free_symbols:
        return 0
    if expr.is_Symbol:
        return 1
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        total = sum(_degree_bound(arg) for arg in expr.args)
        if total > _EXACT_DEGREE_CAP:
            raise _NotRational("degree above the cap")
        return total
    exponent = _integer_exponent(expr)
    if exponent is not None:
        total = abs(exponent) * _degree_bound(expr.base)
        if total > _EXACT_DEGREE_CAP:
            raise _NotRational("degree above the cap")
        return total
    raise _NotRational(type(expr).__name__)


def _exact_value(expr: sympy.Basic, point: dict[sympy.Symbol, Fraction]) -> Fraction:
    """``expr`` (a rational function, see :func:`_degree_bound`) at a rational ``point``, exactly."""
    if not expr.free_symbols:
        value = expr if expr.is_Rational else evaluate(expr)
        if not value.is_Rational:
            raise _NotRational("irrational constant")
        return Fraction(int(value.p), int(value.q))
    if expr.is_Symbol:
        return point[expr]
    if isinstance(expr, sympy.Add):
        return sum((_exact_value(arg, point) for arg in expr.args), Fraction(0))
    if isinstance(expr, sympy.Mul):
        product = Fraction(1)
        for arg in expr.args:
            product *= _exact_value(arg, point)
        return product
    exponent = _integer_exponent(expr)
    if exponent is not None:
        return _exact_value(expr.base, point) ** exponent  # 0 ** -n raises ZeroDivisionError
    raise _NotRational(type(expr).__name__)


def _integer_exponent(expr: sympy.Basic) -> int | None:
    """The exponent of a power whose exponent is a (possibly unevaluated) integer constant, else None."""
    if not isinstance(expr, sympy.Pow) or expr.exp.free_symbols:
        return None
    exponent = expr.exp if expr.exp.is_Integer else evaluate(expr.exp)
    return int(exponent) if exponent.is_Integer else None


def constant_ratio(a: sympy.Basic, b: sympy.Basic, positive_only: bool) -> bool:
    """True when ``a / b`` is one non-zero (positive) constant at every sampled point."""
    with mpmath.workdps(50):
        return _constant_ratio_at_points(a, b, positive_only)


def _constant_ratio_at_points(a: sympy.Basic, b: sympy.Basic, positive_only: bool) -> bool:
    symbols = sorted(a.free_symbols | b.free_symbols, key=str)
    ratios = []
    for point in sample_points(symbols, complex_points=False):
        va, vb = value_at(a, point), value_at(b, point)
        if va is None or vb is None or abs(vb) < 1e-30:
            continue
        ratios.append(va / vb)
    if len(ratios) < 3:
        return False
    first = ratios[0]
    if abs(first) < 1e-30 or (positive_only and (abs(first.imag) > 1e-20 or first.real <= 0)):
        return False
    return all(abs(r - first) <= 1e-20 * abs(first) for r in ratios)


def sample_points(symbols: list[sympy.Symbol], complex_points: bool) -> list[dict[sympy.Symbol, sympy.Basic]]:
    """Seeded sample points: 6 real points in +-[0.3, 2.3] and, optionally, 2 complex points."""
    rng = random.Random(1234567)
    points = []
    for k in range(8 if complex_points else 6):
        point: dict[sympy.Symbol, sympy.Basic] = {}
        for s in symbols:
            re_part = rng.uniform(0.3, 2.3) * rng.choice((1, -1) if k % 2 else (1,))
            if k >= 6:
                point[s] = sympy.Float(re_part, 40) + sympy.I * sympy.Float(rng.uniform(0.3, 2.3), 40)
            else:
                point[s] = sympy.Float(re_part, 40)
        points.append(point)
    return points


def value_at(expr: sympy.Basic, point: dict[sympy.Symbol, sympy.Basic]) -> mpmath.mpc | mpmath.mpf | None:
    """``expr`` at ``point`` with 40-digit evaluation, as an mpmath number (no overflow or underflow:
    ``x^{10000}`` at 2.3 or 0.3 stays a usable value), or None when unusable. Callers compute with the
    result under ``mpmath.workdps(50)``."""
    try:
        v = expr.evalf(40, subs=point)
        if not v.is_number or v.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
            return None
        c = v._to_mpmath(170)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError):
        return None
    if not mpmath.isfinite(c):
        return None
    return c


def simplify_zero(a: sympy.Basic, b: sympy.Basic) -> bool:
    try:
        return bool(sympy.simplify(sympy.Add(a, -b)) == 0)
    except Exception:  # simplify can raise on exotic expressions; that is "not shown equal"
        return False


def evaluate(expr: sympy.Basic) -> sympy.Basic:
    """Evaluate an unevaluated (cap-checked) tree exactly."""
    return expr.doit()
