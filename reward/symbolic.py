"""Typed comparison of parsed answers (the sympy rungs of the ladder).

Rules, per gold kind (``g``) and prediction kind (``p``):

* **Scalars.** Structural equality; then, without free symbols, exact evaluation: two rationals are
  compared exactly (no ``chop``, no float underflow, so ``1/2^98 != 1/2^99``); a decimal prediction
  against an exact gold follows :func:`reward.numbers.long_decimal_matches` (6+ places within one unit
  of the last, only against a gold that is not a terminating decimal: ``3.1415927`` = ``pi``,
  ``0.33333333`` = ``sqrt(4)/6``, ``1.9999999 != sqrt(4)``, ``3.14 != pi``), while decimals inside an
  exact expression are read exactly; irrationals are compared at 60 significant digits with a relative
  tolerance of 1e-45 (1e-9 when the gold has a written decimal). With free symbols
  (:func:`_identity`): two rational functions exactly, at seeded random integer points; other
  expressions at seeded real and complex points (40 digits, mpmath values, so no overflow or
  underflow) with a relative tolerance; points where both values vanish prove nothing; all conclusive
  points agree (3 at least) -> equal, one clear mismatch -> different, else ``simplify`` of the
  difference. ``i`` means the imaginary unit when the gold uses it. Undefined function calls
  (``f(x)``) must be the same calls on both sides and are then treated as opaque symbols.
* **Relations.** ``x = a = ... = v`` keeps ``x = v``. Equations are equal up to a non-zero constant
  factor of ``lhs - rhs``; inequalities up to a positive factor with the same strictness (flipped forms
  accepted); univariate relations otherwise compare their solution sets. A relation gold accepts an
  equivalent interval/set prediction; a relation prediction never matches a set/interval gold (it
  would let a model restate the inequality it was asked to solve). A scalar gold accepts an assignment
  ``x = v`` or a computation ``2 \\cdot 3 = v`` whose value equals it, and an assignment gold ``x = v``
  accepts ``v`` (a gold ``7 = 11a + c`` is a statement, not an assignment).
* **Collections.** Set and bare-list golds are unordered (repeats dropped, then a perfect matching with
  the full ladder and equal sizes); tuple and pair golds are ordered (two written ``x = 1, y = 2``
  lists are matched by name). A pair prediction ``(a, b)``
  against an interval gold is an open interval; intervals compare endpoints and openness; unions
  compare their parts, then as sets. Matrices compare element-wise with equal shapes. A vector (a
  one-column or one-row matrix with 2+ entries) equals an ordered tuple, pair or bare list of the same
  entries in the same order, either side the gold (a prediction ``[a, b]`` too); a set or an interval
  gold is never a vector. One-element collections equal their element.
* **Text** compares normalised keys with case folded (both sides are text answers).
* **Eval-mode options** (:class:`reward.verdict.Options`, all off by default), passed explicitly from
  :func:`compare` through every comparison (``options`` arguments, no global state): ``precision`` lets a decimal prediction equal the exact gold rounded to its written
  places (method ``rounded``), at any depth (matrix entries, interval endpoints);
  ``rename_variables`` renames the prediction's single free variable to the gold's single one before
  comparing (``f(y)`` = ``f(x)``); ``set_accepts_relation`` lets a set/interval gold accept a relation
  prediction with the same solution set (method ``relation_set``).
"""

from __future__ import annotations

import random
from fractions import Fraction

import mpmath
import sympy
from sympy.core.function import AppliedUndef

from reward.normalize import text_key
from reward.numbers import long_decimal_matches, terminates
from reward.safe_parse import (
    Interval,
    IntervalUnion,
    MatrixNode,
    Node,
    Relation,
    Scalar,
    Seq,
    Text,
)
from reward.verdict import DEFAULT_OPTIONS, Options

Result = tuple[bool, str]
_EXACT_RTOL = sympy.Float("1e-45", 60)
_FLOAT_RTOL = sympy.Float("1e-9", 60)
_I = sympy.Symbol("i")
_IDENTITY_RTOL = 1e-30      # values at a sample point agree (40-digit evaluation on both sides)
_FLOAT_IDENTITY_RTOL = 1e-9  # ... when a decimal was written on either side
_MISMATCH_RTOL = 1e-8       # values at a sample point clearly differ
_VANISHING = 1e-30          # both values below this at a point: the point proves nothing
_EXACT_DEGREE_CAP = 4000    # degree bound up to which rational functions are compared exactly
_EXACT_POINTS = 4           # agreeing exact evaluations needed


def compare(gold: Node, pred: Node, options: Options = DEFAULT_OPTIONS) -> Result:
    """:func:`nodes_equal` under the eval-mode ``options`` (rules in the module docstring)."""
    if options.rename_variables:
        pred = _rename_single_variable(gold, pred)
    return nodes_equal(gold, pred, options)


def _rename_single_variable(gold: Node, pred: Node) -> Node:
    """``pred`` with its one free symbol renamed to the gold's one (scalars and relations only)."""
    if not (isinstance(gold, (Scalar, Relation)) and isinstance(pred, (Scalar, Relation))):
        return pred
    gs, ps = gold.expr.free_symbols, pred.expr.free_symbols
    if len(gs) != 1 or len(ps) != 1 or gs == ps:
        return pred
    renamed = pred.expr.xreplace({ps.pop(): gs.pop()})
    return Scalar(renamed, pred.has_float) if isinstance(pred, Scalar) else Relation(renamed)


def nodes_equal(gold: Node, pred: Node, options: Options = DEFAULT_OPTIONS) -> Result:
    """Compare a parsed prediction with a parsed gold (rules in the module docstring); ``options`` are
    the eval-mode leniencies, passed down to every comparison of the parts."""
    gold, pred = _unwrap_single(gold), _unwrap_single(pred)
    if isinstance(gold, Scalar) and isinstance(pred, Scalar):
        return scalars_equal(gold, pred, options)
    if isinstance(gold, Text) or isinstance(pred, Text):
        keys = (text_key(n.key, fold_case=True) if isinstance(n, Text) else None for n in (gold, pred))
        g, p = keys
        return (g is not None and g == p), "text"
    if isinstance(gold, Relation) or isinstance(pred, Relation):
        return _relation_cases(gold, pred, options)
    if isinstance(gold, MatrixNode) or isinstance(pred, MatrixNode):
        if not (isinstance(gold, MatrixNode) and isinstance(pred, MatrixNode)):
            return _vector_cases(gold, pred, options)
        if [len(r) for r in gold.rows] != [len(r) for r in pred.rows]:
            return False, "matrix"
        ok = all(nodes_equal(a, b, options)[0] for ra, rb in zip(gold.rows, pred.rows) for a, b in zip(ra, rb))
        return ok, "matrix"
    if isinstance(gold, (Interval, IntervalUnion)):
        return _interval_cases(gold, pred, options)
    if isinstance(gold, Seq):
        return _seq_cases(gold, pred, options)
    return False, "kind_mismatch"


def _vector_cases(gold: Node, pred: Node, options: Options) -> Result:
    """A matrix against a non-matrix: a vector (one column or one row, 2+ entries) equals an ordered
    tuple of the same entries in the same order (``(1, 2, 3)``, ``1, 2, 3``, ``[1, 2, 3]``; a bare-list
    gold too, read in its written order). A set is unordered and an interval gold is not a vector."""
    matrix, other = (gold, pred) if isinstance(gold, MatrixNode) else (pred, gold)
    assert isinstance(matrix, MatrixNode)
    entries = _vector_entries(matrix)
    if entries is None:
        return False, "matrix"
    if isinstance(other, Seq) and other.kind != "set":
        items = other.items
    elif other is pred and isinstance(other, Interval) and not (other.left_open or other.right_open):
        items = (other.lo, other.hi)  # [a, b] written for a vector
    else:
        return False, "matrix"
    if len(items) != len(entries):
        return False, "matrix"
    pairs = zip(entries, items) if matrix is gold else zip(items, entries)
    return all(nodes_equal(a, b, options)[0] for a, b in pairs), "matrix"


def _vector_entries(matrix: MatrixNode) -> tuple[Node, ...] | None:
    """The entries of a one-column or one-row matrix with at least 2 entries, else None."""
    if len(matrix.rows) == 1:
        entries = matrix.rows[0]
    elif all(len(row) == 1 for row in matrix.rows):
        entries = tuple(row[0] for row in matrix.rows)
    else:
        return None
    return entries if len(entries) >= 2 else None


def _unwrap_single(node: Node) -> Node:
    while isinstance(node, Seq) and len(node.items) == 1 and node.kind != "set":
        node = node.items[0]
    return node


def _seq_cases(gold: Seq, pred: Node, options: Options) -> Result:
    if not isinstance(pred, Seq):
        return False, "set"
    gold_names, pred_names = _solved_names(gold), _solved_names(pred)
    if gold_names is not None and pred_names is not None and gold_names != pred_names:
        return False, "set" if gold.kind in ("set", "list") else "tuple"
    if gold.kind in ("set", "list"):
        golds, preds = _distinct(gold.items, options), _distinct(pred.items, options)
        return len(golds) == len(preds) and _perfect_matching(golds, preds, options), "set"
    if pred.kind == "set" or len(pred.items) != len(gold.items):
        return False, "tuple"
    preds = pred.items
    if gold.names and set(gold.names) == set(pred.names):
        by_name = dict(zip(pred.names, pred.items))
        preds = tuple(by_name[name] for name in gold.names)
    return all(nodes_equal(a, b, options)[0] for a, b in zip(gold.items, preds)), "tuple"


def _solved_names(seq: Seq) -> set[str] | None:
    """The variables a collection of equations solves for (``x = 1, y = 2`` -> {x, y}: one point;
    ``x = 1, x = 2`` -> {x}: two values of x; subscripts and call arguments dropped, so
    ``x_1 = 1, x_2 = 2`` -> {x} and ``W(n) = 1, W(n) = -1`` -> {W}), or
    None when its items are not all ``name = value``. Two collections that both name their variables
    must name the same ones (``x = 1, y = 2`` is not the solution list ``x = 1 and x = 2``)."""
    names = list(seq.names)
    if not names:
        for item in seq.items:
            expr = item.expr if isinstance(item, Relation) else None
            if not isinstance(expr, sympy.Equality) or not (expr.lhs.is_Symbol or isinstance(expr.lhs, AppliedUndef)):
                return None
            names.append(str(expr.lhs.func) if isinstance(expr.lhs, AppliedUndef) else str(expr.lhs))
    return {name.split("(", 1)[0].split("_", 1)[0] for name in names} if names else None


def _distinct(items: tuple[Node, ...], options: Options) -> tuple[Node, ...]:
    """Items without repeats (a set written with a duplicate is the same set)."""
    kept: list[Node] = []
    for item in items:
        if not any(nodes_equal(k, item, options)[0] for k in kept):
            kept.append(item)
    return tuple(kept)


def _perfect_matching(golds: tuple[Node, ...], preds: tuple[Node, ...], options: Options) -> bool:
    """Kuhn's augmenting-path matching; each gold needs a distinct equal prediction."""
    n = len(golds)
    eq = [[nodes_equal(g, p, options)[0] for p in preds] for g in golds]
    match: list[int] = [-1] * n

    def augment(gi: int, seen: list[bool]) -> bool:
        for pi in range(n):
            if eq[gi][pi] and not seen[pi]:
                seen[pi] = True
                if match[pi] < 0 or augment(match[pi], seen):
                    match[pi] = gi
                    return True
        return False

    return all(augment(gi, [False] * n) for gi in range(n))


def _interval_cases(gold: Interval | IntervalUnion, pred: Node, options: Options) -> Result:
    if isinstance(pred, Seq) and pred.kind == "pair" and all(isinstance(i, Scalar) for i in pred.items):
        lo, hi = pred.items
        assert isinstance(lo, Scalar) and isinstance(hi, Scalar)
        pred = Interval(lo, hi, True, True)
    if isinstance(gold, Interval) and isinstance(pred, Interval):
        same_openness = (gold.left_open, gold.right_open) == (pred.left_open, pred.right_open)
        ok = (same_openness and scalars_equal(gold.lo, pred.lo, options)[0]
              and scalars_equal(gold.hi, pred.hi, options)[0])
        return ok, "interval"
    if isinstance(gold, IntervalUnion) and isinstance(pred, IntervalUnion) and len(gold.parts) == len(pred.parts):
        if all(_interval_cases(a, b, options)[0] for a, b in zip(gold.parts, pred.parts)):
            return True, "interval"
    gs, ps = _as_set(gold), _as_set(pred)
    if gs is None or ps is None:
        return False, "interval"
    return _sets_equal(gs, ps), "interval"


def _relation_cases(gold: Node, pred: Node, options: Options) -> Result:
    if isinstance(gold, Relation) and isinstance(pred, Relation):
        return _relations_equal(gold.expr, pred.expr), "relation"
    if isinstance(pred, Relation):
        value = _assigned_value(pred.expr, computation=True)
        if isinstance(gold, Scalar) and value is not None:
            return scalars_equal(gold, Scalar(value, bool(value.atoms(sympy.Float))), options)[0], "assignment"
        if options.set_accepts_relation and isinstance(gold, (Interval, IntervalUnion, Seq)):
            gs, ps = _as_set(gold), _relation_set(pred.expr)
            if gs is not None and ps is not None:
                return _sets_equal(gs, ps), "relation_set"
        return False, "relation"
    assert isinstance(gold, Relation)
    value = _assigned_value(gold.expr, computation=False)
    if value is not None and isinstance(pred, Scalar):
        return scalars_equal(Scalar(value, bool(value.atoms(sympy.Float))), pred, options)[0], "assignment"
    if isinstance(pred, (Interval, IntervalUnion, Seq)):
        gs, ps = _relation_set(gold.expr), _as_set(pred)
        if gs is not None and ps is not None:
            return _sets_equal(gs, ps), "relation_set"
    return False, "relation"


def _assigned_value(rel: sympy.Basic, computation: bool) -> sympy.Basic | None:
    """``v`` for an assignment ``x = v`` / ``f(x) = v`` (left side a symbol or function call) or, when
    ``computation`` (predictions only), for ``2 \\cdot 3 = 6`` (left side without symbols)."""
    if not isinstance(rel, sympy.Equality):
        return None
    if rel.lhs.is_Symbol or isinstance(rel.lhs, AppliedUndef):
        return None if rel.rhs.has(rel.lhs) else rel.rhs
    if computation and not rel.lhs.free_symbols and not rel.lhs.atoms(AppliedUndef):
        return rel.rhs
    return None


def _relation_terms(rel: sympy.Basic) -> list[tuple[str, sympy.Basic]] | None:
    """``rel`` as (op, expr) terms meaning ``expr op 0`` with op in ==, !=, >, >=; None if unsupported."""
    if isinstance(rel, sympy.And):
        terms: list[tuple[str, sympy.Basic]] = []
        for arg in rel.args:
            sub = _relation_terms(arg)
            if sub is None:
                return None
            terms.extend(sub)
        return terms
    if isinstance(rel, sympy.Equality):
        return [("==", sympy.Add(rel.lhs, -rel.rhs))]
    if isinstance(rel, sympy.Unequality):
        return [("!=", sympy.Add(rel.lhs, -rel.rhs))]
    if isinstance(rel, (sympy.StrictGreaterThan, sympy.GreaterThan)):
        return [(">" if rel.rel_op == ">" else ">=", sympy.Add(rel.lhs, -rel.rhs))]
    if isinstance(rel, (sympy.StrictLessThan, sympy.LessThan)):
        return [(">" if rel.rel_op == "<" else ">=", sympy.Add(rel.rhs, -rel.lhs))]
    return None


def _relations_equal(g: sympy.Basic, p: sympy.Basic) -> bool:
    gt, pt = _relation_terms(g), _relation_terms(p)
    if gt is not None and pt is not None and len(gt) == len(pt) == 1:
        (gop, ge), (pop, pe) = gt[0], pt[0]
        if gop == pop:
            positive_only = gop in (">", ">=")
            if _constant_ratio(ge, pe, positive_only):
                return True
    gs, ps = _relation_set(g), _relation_set(p)
    if gs is not None and ps is not None:
        return _sets_equal(gs, ps)
    return False


def _constant_ratio(a: sympy.Basic, b: sympy.Basic, positive_only: bool) -> bool:
    """True when ``a / b`` is one non-zero (positive) constant at every sampled point."""
    with mpmath.workdps(50):
        return _constant_ratio_at_points(a, b, positive_only)


def _constant_ratio_at_points(a: sympy.Basic, b: sympy.Basic, positive_only: bool) -> bool:
    symbols = sorted(a.free_symbols | b.free_symbols, key=str)
    ratios = []
    for point in _points(symbols, complex_points=False):
        va, vb = _value(a, point), _value(b, point)
        if va is None or vb is None or abs(vb) < 1e-30:
            continue
        ratios.append(va / vb)
    if len(ratios) < 3:
        return False
    first = ratios[0]
    if abs(first) < 1e-30 or (positive_only and (abs(first.imag) > 1e-20 or first.real <= 0)):
        return False
    return all(abs(r - first) <= 1e-20 * abs(first) for r in ratios)


def _relation_set(rel: sympy.Basic) -> sympy.Set | None:
    calls = rel.atoms(AppliedUndef)
    if len(calls) == 1:
        rel = rel.xreplace({calls.pop(): sympy.Dummy("f")})
    symbols = rel.free_symbols
    if len(symbols) != 1:
        return None
    try:
        return rel.doit().as_set()
    except Exception:  # sympy raises many types for unsupported relations
        return None


def _as_set(node: Node) -> sympy.Set | None:
    if isinstance(node, Interval):
        lo, hi = _evaluate(node.lo.expr), _evaluate(node.hi.expr)
        return sympy.Interval(lo, hi, node.left_open, node.right_open)
    if isinstance(node, IntervalUnion):
        parts = [_as_set(p) for p in node.parts]
        return None if any(p is None for p in parts) else sympy.Union(*parts)
    if isinstance(node, Seq) and node.kind in ("set", "list") and all(isinstance(i, Scalar) for i in node.items):
        return sympy.FiniteSet(*(_evaluate(i.expr) for i in node.items if isinstance(i, Scalar)))
    if isinstance(node, Seq) and node.kind == "pair":
        return _as_set(_as_interval_pair(node))
    return None


def _as_interval_pair(node: Seq) -> Node:
    lo, hi = node.items
    if isinstance(lo, Scalar) and isinstance(hi, Scalar):
        return Interval(lo, hi, True, True)
    return node


def _sets_equal(a: sympy.Set, b: sympy.Set) -> bool:
    if a == b:
        return True
    try:
        return bool(sympy.SymmetricDifference(a, b).is_empty)
    except Exception:  # undecidable symbolic set algebra
        return False


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
        gv, pv = _evaluate(ge), _evaluate(pe)
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
    return _identity(ge, pe, has_float)


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
        return _simplify_zero(gv, pv), "simplify"
    if a.is_infinite or b.is_infinite:
        return bool(a == b), "numeric_exact"
    diff = abs(a - b)
    scale = max(abs(a), abs(b))
    if scale < sympy.Float("1e-50", 60):
        return _simplify_zero(gv, pv), "simplify"
    rtol = _FLOAT_RTOL if has_float else _EXACT_RTOL
    return bool(diff <= rtol * scale), ("numeric_tol" if has_float else "numeric_exact")


def _identity(ge: sympy.Basic, pe: sympy.Basic, has_float: bool) -> Result:
    """Two expressions with free symbols: exactly for rational functions (:func:`_rational_identity`),
    else by values at seeded points compared with a relative tolerance. A point where both values
    vanish (below 1e-30) or that cannot be evaluated proves nothing; all conclusive points must agree
    and at least 3 must, else ``simplify`` of the difference decides."""
    exact = _rational_identity(ge, pe)
    if exact is not None:
        return exact, "identity"
    symbols = sorted(ge.free_symbols | pe.free_symbols, key=str)
    rtol = _FLOAT_IDENTITY_RTOL if has_float else _IDENTITY_RTOL
    agree = 0
    with mpmath.workdps(50):
        for point in _points(symbols, complex_points=True):
            a, b = _value(ge, point), _value(pe, point)
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
    return _simplify_zero(ge, pe), "simplify"


class _NotRational(Exception):
    """The expression is not a rational function with rational coefficients (or is too large)."""


def _rational_identity(ge: sympy.Basic, pe: sympy.Basic) -> bool | None:
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
        value = expr if expr.is_Rational else _evaluate(expr)
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
    exponent = expr.exp if expr.exp.is_Integer else _evaluate(expr.exp)
    return int(exponent) if exponent.is_Integer else None


def _points(symbols: list[sympy.Symbol], complex_points: bool) -> list[dict[sympy.Symbol, sympy.Basic]]:
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


def _value(expr: sympy.Basic, point: dict[sympy.Symbol, sympy.Basic]) -> mpmath.mpc | mpmath.mpf | None:
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


def _close(a: complex, b: complex, rtol: float) -> bool:
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-300)


def _simplify_zero(a: sympy.Basic, b: sympy.Basic) -> bool:
    try:
        return bool(sympy.simplify(sympy.Add(a, -b)) == 0)
    except Exception:  # simplify can raise on exotic expressions; that is "not shown equal"
        return False


def _evaluate(expr: sympy.Basic) -> sympy.Basic:
    """Evaluate an unevaluated (cap-checked) tree exactly."""
    return expr.doit()


def _rationalize(expr: sympy.Basic) -> sympy.Basic:
    """Replace written decimals by the exact rationals they denote (``0.3333`` -> 3333/10000)."""
    floats = expr.atoms(sympy.Float)
    if not floats:
        return expr
    return expr.xreplace({f: sympy.Rational(str(f)) for f in floats})
