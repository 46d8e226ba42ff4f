"""Safe parsing of normalised answer strings into typed answer trees.

Rules.

* Model text never reaches ``eval``, ``exec``, ``sympify(str)`` or ``parse_expr``. LaTeX goes through
  the ANTLR grammar of ``latex2sympy2_extended`` (lazy, ``evaluate=False`` trees). Plain text made only
  of digits, letters, spaces and ``.+-*/^()=<>!`` goes through ``ast.parse(mode="eval")`` and a node
  whitelist (numbers, arithmetic, comparisons, allow-listed names and functions); this module builds the
  sympy objects itself. What the whitelist rejects or cannot read goes to the LaTeX grammar, which is
  equally safe. An answer that is undefined (``zoo``/``nan``, e.g. ``12:00`` read as 12/0) is a parse
  error.
* :func:`caps.check_text` runs before parsing (length, nesting, digits; literal factorial and binomial
  arguments are checked on the text because the LaTeX parser evaluates them eagerly);
  :func:`caps.check_expr` runs on the tree before anything is evaluated.
* Structure is read from the text before any expression parsing:

  - ``x \\in S`` is ``S`` and ``(x, y) = (1, 2)`` is ``(1, 2)``;
  - ``\\{a,b\\}`` is a set; ``{a, b}`` (grouping braces) and bare top-level commas (``1, 2, 3``) a list;
  - ``\\begin{pmatrix}`` (and friends) a matrix, also inside brackets; a matrix expression (``A + B``)
    is computed by the LaTeX parser;
  - ``A \\cup B`` a union of intervals; ``(a,b]``, ``[a,b)`` and ``[a,b]`` intervals; ``(a,b)`` a
    *pair* (tuple or open interval, decided by the grader from the gold); brackets around 3+ items a
    tuple; ``;`` separates tuple items when there is no comma (``(0;-2;6)``);
  - ``x = 1, y = 2`` (distinct names) the tuple of values, remembering the names; a top-level ``;``
    separates the items of a list of lists (``p=5,q=2;p=7,q=2``);
  - one ``\\pm`` makes the list of both signs;
  - a ``\\text{...}`` or a plain word of 4+ letters is a text answer;
  - thousands separators (``7,425,000``) are numbers, not lists.
* Scalars: a lone variable (``x``, ``\\theta``, ``x_1``) is a scalar, alone or inside any structure
  (sympy's ``Symbol`` is also a ``Boolean``; only Booleans that are not expressions are rejected, and
  ``And`` is a relation only when all its parts are relations). Primes are kept as a subscript
  (``f'(x)`` -> ``f_{prime}(x)``, never ``f(x)``), ``^{T}`` is a power (the grammar would read a
  transpose and drop it), ``\\pmod`` is not ``\\pm``, a capital ``E`` is a variable (Euler's number is
  ``e``), and a decimal literal keeps every written digit and its written places (``Scalar.places``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal

import sympy
from latex2sympy2_extended import latex2sympy
from latex2sympy2_extended.latex2sympy2 import ConversionConfig
from latex2sympy2_extended.math_normalization import NormalizationConfig
from sympy.core.function import AppliedUndef

from reward.caps import DEFAULT_CAPS, Caps, TooLarge, check_expr, check_text
from reward.numbers import DECIMAL, written_places


class ParseError(Exception):
    """The answer could not be parsed into any supported form."""


@dataclass(frozen=True)
class Scalar:
    """A number or expression; ``has_float`` is True when a decimal literal was written; ``places`` is the
    number of decimal places written when the answer is a plain decimal (``0.3333330`` -> 7), else None."""

    expr: sympy.Basic
    has_float: bool
    places: int | None = None


@dataclass(frozen=True)
class Relation:
    """An equation, inequality or chain of them (sympy relational or ``And``)."""

    expr: sympy.Basic


@dataclass(frozen=True)
class Seq:
    """A bracketed or comma-separated collection.

    ``kind``: ``set`` (``\\{...\\}``), ``tuple`` (brackets around 3+ items), ``pair`` (``(a, b)``: tuple
    or open interval) or ``list`` (bare commas, order-free like a set). ``names`` holds the left-hand
    sides of a written ``x = 1, y = 2`` (empty otherwise).
    """

    kind: Literal["set", "tuple", "pair", "list"]
    items: tuple[Node, ...]
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Interval:
    """An interval with explicit openness at each end."""

    lo: Scalar
    hi: Scalar
    left_open: bool
    right_open: bool


@dataclass(frozen=True)
class IntervalUnion:
    """A union of intervals (``A \\cup B``)."""

    parts: tuple[Interval, ...]


@dataclass(frozen=True)
class MatrixNode:
    """A matrix, row-major."""

    rows: tuple[tuple[Node, ...], ...]


@dataclass(frozen=True)
class Text:
    """A text answer, compared by :func:`reward.normalize.text_key`."""

    key: str


Node = Scalar | Relation | Seq | Interval | IntervalUnion | MatrixNode | Text

_NORMALIZATION = NormalizationConfig(basic_latex=True, units=False, malformed_operators=False, nits=False,
                                     boxed="none", equations=False)
_CONVERSION = ConversionConfig(interpret_as_mixed_fractions=True, interpret_simple_eq_as_assignment=False,
                               interpret_contains_as_eq=True, lowercase_symbols=False)
_MEMBERSHIP = re.compile(r"^[a-zA-Z]\s*(?:\\in|∈)\s*(.+)$")
_NAMED_TUPLE = re.compile(r"^\(\s*[a-zA-Z](?:\s*,\s*[a-zA-Z])+\s*\)\s*=\s*(\(.+)$")
_MATRIX = re.compile(r"^\\begin\{([pbBvV]?matrix|array)\}(?:\{[lcr|]*\})?((?:(?!\\begin|\\end).)*)\\end\{\1\}$",
                     re.DOTALL)
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_TEXT = re.compile(r"^\\text\s*\{([^{}]*)\}$")
_WORD = re.compile(r"^[A-Za-z]{4,}(?: [A-Za-z]+)*$")
_EMPTY = re.compile(r"^(?:\\emptyset|\\varnothing|\\\{\s*\\\}|\\O)$")
_PLAIN = re.compile(r"^[0-9A-Za-z.+\-*/^()=<>! ]+$")
_LITERAL_FACTORIAL = re.compile(r"(\d+)\s*!|\\binom\s*\{\s*(\d+)\s*\}|\\(?:d|t)?binom\s*(\d+)")
_UNICODE = str.maketrans({"×": "\\times ", "÷": "\\div ", "−": "-", "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ",
                          "π": "\\pi ", "√": "\\sqrt ", "∞": "\\infty ", "·": "\\cdot "})
_FUNCTIONS = {"sqrt": sympy.sqrt, "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "log": sympy.log,
              "ln": sympy.log, "exp": sympy.exp, "abs": sympy.Abs}
_CONSTANTS = {"pi": sympy.pi, "e": sympy.E, "oo": sympy.oo, "inf": sympy.oo, "infty": sympy.oo}  # E is a variable
_NAME = re.compile(r"^[A-Za-z][A-Za-z]?\d?$")
_PM = re.compile(r"\\pm(?![a-zA-Z])")  # not \pmod
_PRIMES = re.compile(r"(?<=[A-Za-z])'+")
_BRACED_T = re.compile(r"\^\s*\{\s*T\s*\}")


def parse_answer(text: str, caps: Caps = DEFAULT_CAPS) -> Node:
    """Parse a normalised answer into a :data:`Node` (rules in the module docstring).

    Raises :class:`TooLarge` when a cap fires and :class:`ParseError` when nothing parses.
    """
    text = text.translate(_UNICODE).strip()
    check_text(text, caps)
    for m in _LITERAL_FACTORIAL.finditer(text):
        value = int(next(g for g in m.groups() if g is not None))
        if value > caps.max_factorial:
            raise TooLarge(f"factorial/binomial argument above {caps.max_factorial}")
    return _parse_node(text, caps)


def _parse_node(text: str, caps: Caps) -> Node:
    text = text.strip()
    if not text:
        raise ParseError("empty answer")
    m = _MEMBERSHIP.match(text) or _NAMED_TUPLE.match(text)
    if m:
        return _parse_node(m.group(1), caps)
    if _EMPTY.match(text):
        return Seq("set", ())
    if text[0] in "([" and text[-1] in ")]" and _MATRIX.match(text[1:-1].strip()):
        text = text[1:-1].strip()
    if len(_PM.findall(text)) == 1 and "," not in text:
        return Seq("list", (_parse_node(_PM.sub("+", text), caps), _parse_node(_PM.sub("-", text), caps)))
    m = _MATRIX.match(text)
    if m:
        rows = [r for r in re.split(r"\\\\", m.group(2)) if r.strip()]
        return MatrixNode(tuple(tuple(_parse_node(c, caps) for c in row.split("&")) for row in rows))
    if text.startswith("\\{") and text.endswith("\\}") and _balanced(text[2:-2]):
        return Seq("set", tuple(_parse_node(p, caps) for p in _split_top(text[2:-2], ",;")))
    if text.startswith("{") and text.endswith("}") and _balanced(text[1:-1]) and len(_split_top(text[1:-1], ",")) > 1:
        return Seq("list", tuple(_parse_node(p, caps) for p in _split_top(text[1:-1], ",;")))
    parts = _split_top(text, "", separator="\\cup")
    if len(parts) > 1:
        return IntervalUnion(tuple(_as_interval(_parse_node(p, caps)) for p in parts))
    if text[0] in "([" and text[-1] in ")]" and _balanced(text[1:-1]):
        items = _split_top(text[1:-1], ",")
        if len(items) == 1 and ";" in text:
            items = _split_top(text[1:-1], ";")
        if len(items) == 2:
            lo, hi = (_parse_node(i, caps) for i in items)
            if text[0] == "(" and text[-1] == ")":
                return Seq("pair", (lo, hi))
            if isinstance(lo, Scalar) and isinstance(hi, Scalar):
                return Interval(lo, hi, text[0] == "(", text[-1] == ")")
            raise ParseError("interval endpoints must be scalars")
        if len(items) > 2:
            return Seq("tuple", tuple(_parse_node(i, caps) for i in items))
    if _THOUSANDS.match(text):
        return _scalar(text.replace(",", ""), caps)
    if _split_top(text, ";") != [text.strip()] and len(_split_top(text, ",")) > 1:
        return Seq("list", tuple(_parse_node(i, caps) for i in _split_top(text, ";")))
    items = _split_top(text, ",;")
    if len(items) > 1:
        nodes = tuple(_parse_node(i, caps) for i in items)
        return _named_values(nodes) or Seq("list", nodes)
    m = _TEXT.match(text)
    if m and re.search(r"[A-Za-z]", m.group(1)):
        return Text(m.group(1))
    if _WORD.match(text):
        return Text(text)
    return _scalar(text, caps)


def _named_values(nodes: tuple[Node, ...]) -> Seq | None:
    """``x = 1, y = 2`` (distinct names) as the tuple of values with their names, else None."""
    named: dict[str, Node] = {}
    for node in nodes:
        expr = node.expr if isinstance(node, Relation) else None
        if not isinstance(expr, sympy.Equality):
            return None
        if not (expr.lhs.is_Symbol or isinstance(expr.lhs, AppliedUndef)) or str(expr.lhs) in named:
            return None
        named[str(expr.lhs)] = Scalar(expr.rhs, bool(expr.rhs.atoms(sympy.Float)))
    return Seq("tuple", tuple(named.values()), tuple(named))


def _as_interval(node: Node) -> Interval:
    if isinstance(node, Interval):
        return node
    if isinstance(node, Seq) and node.kind == "pair" and all(isinstance(i, Scalar) for i in node.items):
        lo, hi = node.items
        assert isinstance(lo, Scalar) and isinstance(hi, Scalar)
        return Interval(lo, hi, True, True)
    raise ParseError("union of non-intervals")


def _balanced(text: str) -> bool:
    """True when every bracket in ``text`` closes inside it (so outer brackets belong together)."""
    depth = 0
    for ch in text:
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _split_top(text: str, chars: str, separator: str | None = None) -> list[str]:
    """Split on top-level separators (characters in ``chars``, or the string ``separator``)."""
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif depth == 0 and separator is not None and text.startswith(separator, i):
            parts.append(text[start:i])
            i += len(separator)
            start = i
            continue
        elif depth == 0 and ch in chars and not (ch == "," and text[max(0, i - 1):i] == "\\"):
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _scalar(text: str, caps: Caps) -> Scalar | Relation | MatrixNode:
    sides = _split_top(text, "=")
    if len(sides) > 2 and not re.search(r"[<>]|\\[lg]e|\\neq?|\\[lg]t", text) and "!=" not in text:
        text = f"{sides[0]} = {sides[-1]}"
    # The LaTeX grammar drops primes (f'(x) would read as f(x)) and reads ^{T} as a transpose that a
    # scalar drops (2^{T} would read as 2): a prime becomes a subscript (f_{prime}(x)), ^{T} a power.
    text = _BRACED_T.sub("^T", _PRIMES.sub(lambda m: "_{" + "prime" * len(m.group(0)) + "}", text))
    if "'" in text:
        raise ParseError("stray quote or prime")
    expr = None
    if _PLAIN.match(text):
        try:
            expr = _parse_plain(text)
        except ParseError:  # outside the whitelist (e.g. f(x)): the LaTeX grammar may still read it
            expr = None
    if expr is None:
        try:
            expr = latex2sympy(text, normalization_config=_NORMALIZATION, conversion_config=_CONVERSION)
        except TooLarge:
            raise
        except Exception as exc:  # the ANTLR parser raises bare Exception on syntax errors
            raise ParseError(f"cannot parse {text[:60]!r}: {type(exc).__name__}") from None
    if not isinstance(expr, sympy.Basic):
        raise ParseError(f"unsupported answer type {type(expr).__name__}")
    check_expr(expr, caps)
    if getattr(expr, "is_Matrix", False) and not isinstance(expr, sympy.MatrixBase):
        expr = expr.doit()
    if expr.has(sympy.zoo, sympy.nan):
        raise ParseError("undefined value (division by zero)")
    if _is_relation(expr):
        return Relation(expr)
    if isinstance(expr, sympy.MatrixBase):
        return MatrixNode(tuple(tuple(Scalar(expr[i, j], bool(expr[i, j].atoms(sympy.Float)))
                                      for j in range(expr.cols)) for i in range(expr.rows)))
    # A symbol is an Expr and also a sympy Boolean (it can stand for a truth value): a lone variable is
    # a scalar answer. Booleans that are not expressions (true, x & y, ~x) are not answers.
    if isinstance(expr, (sympy.Set, sympy.Tuple)) or (isinstance(expr, sympy.logic.boolalg.Boolean)
                                                     and not isinstance(expr, sympy.Expr)):
        raise ParseError(f"unsupported structure {type(expr).__name__}")
    places = written_places(text) if DECIMAL.match(text.strip()) else None
    return Scalar(expr, bool(expr.atoms(sympy.Float)), places)


def _is_relation(expr: sympy.Basic) -> bool:
    """An equation or inequality, or a conjunction of them (a chain ``a < x < b``); ``x \\land y`` of bare
    symbols is not a relation."""
    if isinstance(expr, sympy.core.relational.Relational):
        return True
    return isinstance(expr, sympy.And) and all(_is_relation(arg) for arg in expr.args)


def _parse_plain(text: str) -> sympy.Basic | None:
    """Parse plain-text math through the AST whitelist; None when it is not valid Python syntax."""
    source = text.replace("^", "**")
    source = re.sub(r"(?<![<>=!])=(?!=)", "==", source)
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return _build(tree.body, source)


def _build(node: ast.AST, source: str) -> sympy.Basic:
    """Build a sympy object from a whitelisted AST node (unevaluated); anything else is a ParseError.
    A decimal literal keeps every digit written in ``source`` (a Python float would round
    ``0.99999999999999999999`` to 1.0)."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        if isinstance(node.value, float):
            literal = ast.get_source_segment(source, node) or repr(node.value)
            digits = len(re.sub(r"[eE].*", "", re.sub(r"[^0-9eE]", "", literal)))
            return sympy.Float(literal, max(15, digits))
        return sympy.Integer(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _build(node.operand, source)
        return sympy.Mul(-1, inner, evaluate=False) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        a, b = _build(node.left, source), _build(node.right, source)
        if isinstance(node.op, ast.Add):
            return sympy.Add(a, b, evaluate=False)
        if isinstance(node.op, ast.Sub):
            return sympy.Add(a, sympy.Mul(-1, b, evaluate=False), evaluate=False)
        if isinstance(node.op, ast.Mult):
            return sympy.Mul(a, b, evaluate=False)
        if isinstance(node.op, ast.Div):
            return sympy.Mul(a, sympy.Pow(b, -1, evaluate=False), evaluate=False)
        if isinstance(node.op, ast.Pow):
            return sympy.Pow(a, b, evaluate=False)
    if isinstance(node, ast.Name) and (node.id in _CONSTANTS or _NAME.match(node.id)):
        return _CONSTANTS.get(node.id) or sympy.Symbol(node.id)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
            and not node.keywords and len(node.args) == 1):
        return _FUNCTIONS[node.func.id](_build(node.args[0], source), evaluate=False)
    if isinstance(node, ast.Compare):
        ops = {ast.Eq: sympy.Eq, ast.NotEq: sympy.Ne, ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt,
               ast.GtE: sympy.Ge}
        terms = [_build(node.left, source)] + [_build(c, source) for c in node.comparators]
        rels = []
        for op, lhs, rhs in zip(node.ops, terms, terms[1:]):
            if type(op) not in ops:
                raise ParseError("unsupported comparison")
            rels.append(ops[type(op)](lhs, rhs, evaluate=False))
        return rels[0] if len(rels) == 1 else sympy.And(*rels, evaluate=False)
    raise ParseError(f"disallowed syntax: {type(node).__name__}")
