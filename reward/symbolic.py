"""Typed comparison of parsed answers (the sympy rungs of the ladder).

Rules, per gold kind (``g``) and prediction kind (``p``):

* **Scalars** (:mod:`reward.scalars`): structural equality, then exact evaluation without free
  symbols, or the identity tests of :mod:`reward.identity` with free symbols.
* **Relations.** ``x = a = ... = v`` keeps ``x = v``. Equations are equal up to a non-zero constant
  factor of ``lhs - rhs``; inequalities up to a positive factor with the same strictness (flipped forms
  accepted); univariate relations otherwise compare their solution sets. A relation gold accepts an
  equivalent interval/set prediction; a relation prediction never matches a set/interval gold (it
  would let a model restate the inequality it was asked to solve). Equations and inequalities are
  compared by :func:`reward.identity.constant_ratio`. A scalar gold accepts an assignment
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
  :func:`compare` through every comparison (``options`` arguments, no global state): ``precision``
  lets a decimal prediction equal the exact gold rounded to its written places (method ``rounded``), at
  any depth (matrix entries, interval endpoints);
  ``rename_variables`` renames the prediction's single free variable to the gold's single one before
  comparing (``f(y)`` = ``f(x)``); ``set_accepts_relation`` lets a set/interval gold accept a relation
  prediction with the same solution set (method ``relation_set``).
"""

from __future__ import annotations

import sympy
from sympy.core.function import AppliedUndef

from reward.identity import constant_ratio, evaluate
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
from reward.scalars import Result, scalars_equal
from reward.verdict import DEFAULT_OPTIONS, Options


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
        pairs = (pair for ra, rb in zip(gold.rows, pred.rows) for pair in zip(ra, rb))
        ok = all(nodes_equal(a, b, options)[0] for a, b in pairs)
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
            if not isinstance(expr, sympy.Equality):
                return None
            if not (expr.lhs.is_Symbol or isinstance(expr.lhs, AppliedUndef)):
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
    both_unions = isinstance(gold, IntervalUnion) and isinstance(pred, IntervalUnion)
    if both_unions and len(gold.parts) == len(pred.parts):
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
            assigned = Scalar(value, bool(value.atoms(sympy.Float)))
            return scalars_equal(gold, assigned, options)[0], "assignment"
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
            if constant_ratio(ge, pe, positive_only):
                return True
    gs, ps = _relation_set(g), _relation_set(p)
    if gs is not None and ps is not None:
        return _sets_equal(gs, ps)
    return False


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
        lo, hi = evaluate(node.lo.expr), evaluate(node.hi.expr)
        return sympy.Interval(lo, hi, node.left_open, node.right_open)
    if isinstance(node, IntervalUnion):
        parts = [_as_set(p) for p in node.parts]
        return None if any(p is None for p in parts) else sympy.Union(*parts)
    if isinstance(node, Seq) and node.kind in ("set", "list"):
        if all(isinstance(i, Scalar) for i in node.items):
            return sympy.FiniteSet(*(evaluate(i.expr) for i in node.items if isinstance(i, Scalar)))
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
