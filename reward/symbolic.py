"""Typed comparison of parsed answers (the sympy rungs of the ladder).

Rules, per gold kind (``g``) and prediction kind (``p``):

* **Scalars.** Structural equality; then, without free symbols, exact evaluation: two rationals are
  compared exactly (no ``chop``, no float underflow, so ``1/2^98 != 1/2^99``); a decimal number
  never equals an irrational exact gold (``3.14 != pi``) unless written with 6+ places and within one
  unit of the last (``3.1415927``), while decimals inside an exact expression are
  read exactly; irrationals are compared at 60 significant
  digits with a relative tolerance of 1e-45 (1e-9 when a decimal was written on either side). With free
  symbols: seeded randomized identity testing at real and complex points (40 digits); all usable
  points agree -> equal, one clear mismatch -> different, too few usable points -> ``simplify`` of the
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
  compare their parts, then as sets. Matrices compare element-wise with equal shapes. One-element
  collections equal their element.
* **Text** compares normalised keys.
* **Eval-mode options** (:class:`reward.verdict.Options`, all off by default), applied by
  :func:`compare`: ``precision`` lets a decimal prediction equal the exact gold rounded to its written
  places (method ``rounded``), at any depth (matrix entries, interval endpoints);
  ``rename_variables`` renames the prediction's single free variable to the gold's single one before
  comparing (``f(y)`` = ``f(x)``); ``set_accepts_relation`` lets a set/interval gold accept a relation
  prediction with the same solution set (method ``relation_set``).
"""

from __future__ import annotations

import random
from contextvars import ContextVar
from fractions import Fraction

import sympy
from sympy.core.function import AppliedUndef

from reward.normalize import text_key
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
_OPTIONS: ContextVar[Options] = ContextVar("reward_options", default=DEFAULT_OPTIONS)


def compare(gold: Node, pred: Node, options: Options = DEFAULT_OPTIONS) -> Result:
    """:func:`nodes_equal` under the eval-mode ``options`` (rules in the module docstring)."""
    token = _OPTIONS.set(options)
    try:
        if options.rename_variables:
            pred = _rename_single_variable(gold, pred)
        return nodes_equal(gold, pred)
    finally:
        _OPTIONS.reset(token)


def _rename_single_variable(gold: Node, pred: Node) -> Node:
    """``pred`` with its one free symbol renamed to the gold's one (scalars and relations only)."""
    if not (isinstance(gold, (Scalar, Relation)) and isinstance(pred, (Scalar, Relation))):
        return pred
    gs, ps = gold.expr.free_symbols, pred.expr.free_symbols
    if len(gs) != 1 or len(ps) != 1 or gs == ps:
        return pred
    renamed = pred.expr.xreplace({ps.pop(): gs.pop()})
    return Scalar(renamed, pred.has_float) if isinstance(pred, Scalar) else Relation(renamed)


def nodes_equal(gold: Node, pred: Node) -> Result:
    """Compare a parsed prediction with a parsed gold (rules in the module docstring)."""
    gold, pred = _unwrap_single(gold), _unwrap_single(pred)
    if isinstance(gold, Scalar) and isinstance(pred, Scalar):
        return scalars_equal(gold, pred)
    if isinstance(gold, Text) or isinstance(pred, Text):
        keys = (text_key(n.key) if isinstance(n, Text) else None for n in (gold, pred))
        g, p = keys
        return (g is not None and g == p), "text"
    if isinstance(gold, Relation) or isinstance(pred, Relation):
        return _relation_cases(gold, pred)
    if isinstance(gold, MatrixNode) or isinstance(pred, MatrixNode):
        if not (isinstance(gold, MatrixNode) and isinstance(pred, MatrixNode)):
            return False, "matrix"
        if [len(r) for r in gold.rows] != [len(r) for r in pred.rows]:
            return False, "matrix"
        ok = all(nodes_equal(a, b)[0] for ra, rb in zip(gold.rows, pred.rows) for a, b in zip(ra, rb))
        return ok, "matrix"
    if isinstance(gold, (Interval, IntervalUnion)):
        return _interval_cases(gold, pred)
    if isinstance(gold, Seq):
        return _seq_cases(gold, pred)
    return False, "kind_mismatch"


def _unwrap_single(node: Node) -> Node:
    while isinstance(node, Seq) and len(node.items) == 1 and node.kind != "set":
        node = node.items[0]
    return node


def _seq_cases(gold: Seq, pred: Node) -> Result:
    if not isinstance(pred, Seq):
        return False, "set"
    if gold.kind in ("set", "list"):
        golds, preds = _distinct(gold.items), _distinct(pred.items)
        return len(golds) == len(preds) and _perfect_matching(golds, preds), "set"
    if pred.kind == "set" or len(pred.items) != len(gold.items):
        return False, "tuple"
    preds = pred.items
    if gold.names and set(gold.names) == set(pred.names):
        by_name = dict(zip(pred.names, pred.items))
        preds = tuple(by_name[name] for name in gold.names)
    return all(nodes_equal(a, b)[0] for a, b in zip(gold.items, preds)), "tuple"


def _distinct(items: tuple[Node, ...]) -> tuple[Node, ...]:
    """Items without repeats (a set written with a duplicate is the same set)."""
    kept: list[Node] = []
    for item in items:
        if not any(nodes_equal(k, item)[0] for k in kept):
            kept.append(item)
    return tuple(kept)


def _perfect_matching(golds: tuple[Node, ...], preds: tuple[Node, ...]) -> bool:
    """Kuhn's augmenting-path matching; each gold needs a distinct equal prediction."""
    n = len(golds)
    eq = [[nodes_equal(g, p)[0] for p in preds] for g in golds]
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


def _interval_cases(gold: Interval | IntervalUnion, pred: Node) -> Result:
    if isinstance(pred, Seq) and pred.kind == "pair" and all(isinstance(i, Scalar) for i in pred.items):
        lo, hi = pred.items
        assert isinstance(lo, Scalar) and isinstance(hi, Scalar)
        pred = Interval(lo, hi, True, True)
    if isinstance(gold, Interval) and isinstance(pred, Interval):
        same_openness = (gold.left_open, gold.right_open) == (pred.left_open, pred.right_open)
        ok = same_openness and scalars_equal(gold.lo, pred.lo)[0] and scalars_equal(gold.hi, pred.hi)[0]
        return ok, "interval"
    if isinstance(gold, IntervalUnion) and isinstance(pred, IntervalUnion) and len(gold.parts) == len(pred.parts):
        if all(_interval_cases(a, b)[0] for a, b in zip(gold.parts, pred.parts)):
            return True, "interval"
    gs, ps = _as_set(gold), _as_set(pred)
    if gs is None or ps is None:
        return False, "interval"
    return _sets_equal(gs, ps), "interval"


def _relation_cases(gold: Node, pred: Node) -> Result:
    if isinstance(gold, Relation) and isinstance(pred, Relation):
        return _relations_equal(gold.expr, pred.expr), "relation"
    if isinstance(pred, Relation):
        value = _assigned_value(pred.expr, computation=True)
        if isinstance(gold, Scalar) and value is not None:
            return scalars_equal(gold, Scalar(value, bool(value.atoms(sympy.Float))))[0], "assignment"
        if _OPTIONS.get().set_accepts_relation and isinstance(gold, (Interval, IntervalUnion, Seq)):
            gs, ps = _as_set(gold), _relation_set(pred.expr)
            if gs is not None and ps is not None:
                return _sets_equal(gs, ps), "relation_set"
        return False, "relation"
    assert isinstance(gold, Relation)
    value = _assigned_value(gold.expr, computation=False)
    if value is not None and isinstance(pred, Scalar):
        return scalars_equal(Scalar(value, bool(value.atoms(sympy.Float))), pred)[0], "assignment"
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


def scalars_equal(gold: Scalar, pred: Scalar) -> Result:
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
        if pred.has_float and not gold.has_float and pv.is_Rational and _rounded(gv, pv):
            return True, "rounded"
        if gv.is_Rational and pv.is_Rational:
            if has_float:
                return _close(complex(gv), complex(pv), 1e-9), "numeric_tol"
            return gv == pv, "rational"
        if pred.has_float and not gold.has_float and pv.is_Rational:
            return _long_decimal_matches(gv, pv), "decimal_vs_exact"
        return _numbers_equal(gv, pv, has_float)
    return _identity(ge, pe, has_float)


def _rounded(gold: sympy.Basic, decimal: sympy.Rational) -> bool:
    """The ``precision`` option: ``decimal`` is the real gold rounded to its written places."""
    options = _OPTIONS.get()
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


def _long_decimal_matches(gold: sympy.Basic, decimal: sympy.Rational) -> bool:
    """A decimal with k >= 6 written places matches an exact gold within one unit of its last place."""
    places = _places(decimal)
    if places < 6:
        return False
    g = gold.evalf(places + 20)
    if not g.is_real:
        return False
    return bool(abs(g - decimal) < sympy.Rational(1, 10**places))


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
    symbols = sorted(ge.free_symbols | pe.free_symbols, key=str)
    agree = 0
    for point in _points(symbols, complex_points=True):
        a, b = _value(ge, point), _value(pe, point)
        if a is None or b is None:
            continue
        scale = max(1.0, abs(a), abs(b))
        if abs(a - b) <= (1e-9 if has_float else 1e-25) * scale:
            agree += 1
        elif abs(a - b) > 1e-8 * scale:
            return False, "identity"
    if agree >= 3:
        return True, "identity"
    return _simplify_zero(ge, pe), "simplify"


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


def _value(expr: sympy.Basic, point: dict[sympy.Symbol, sympy.Basic]) -> complex | None:
    """``expr`` at ``point`` as a Python complex with 40-digit evaluation, or None when unusable."""
    try:
        v = expr.evalf(40, subs=point)
        if not v.is_number or v.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
            return None
        c = complex(v)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError):
        return None
    if c != c or abs(c) == float("inf"):
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
