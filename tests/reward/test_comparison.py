"""Comparison kinds (full ladder through reward.verify, eval mode): each rung and the anchors' known failures."""

import pytest

import reward


def check(pred: str, gold, expected: bool) -> None:
    verdict = reward.verify(f"\\boxed{{{pred}}}", gold, mode="eval")
    assert verdict.correct is expected, verdict


# (pred, gold, expected) per rung; every pred is boxed and verified in eval mode by check()
BOXED_CASES = {
    "known_false_positive": [
        ("\\frac{1}{2^{98}}", "\\frac{1}{2^{99}}", False),         # evalf(chop) false positive of Math-Verify
        ("\\frac{1}{2006!}", "\\frac{1}{2004!}", False),
        ("\\frac{1}{3\\cdot 2^{2006}}", "\\frac{2^{2005}+1}{3\\cdot2^{2006}}", False),
        ("1+\\frac{1}{\\mathrm{e}}", "1-\\frac{1}{\\mathrm{e}}", False),
        ("4\\sqrt{2}", "4", False),
        ("3.14", "\\pi", False),
        ("0.3333", "\\frac{1}{3}", False),
        ("\\frac{1}{2^{100}}", "0", False),
        ("1+10^{-30}", "1", False),
        ("2^{10000}+1", "2^{10000}", False),
    ],
    "exact_number": [
        ("2\\sqrt{2}", "\\sqrt{8}", True),
        ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", True),
        ("\\frac{10\\sqrt{10.5}}{27}", "\\frac{5\\sqrt{42}}{27}", True),
        ("3.1415926536", "\\pi", True),
        ("-1", "e^{i\\pi}", True),
        ("1 + i\\sqrt{3}", "1 + \\sqrt{3}i", True),
    ],
    "symbolic_identity": [
        ("(x+1)^2", "x^2+2x+1", True),
        ("\\frac{x^2-1}{x-1}", "x+1", True),
        ("\\sin^2 x + \\cos^2 x", "1", True),
        ("x^2+2x", "x^2+2x+1", False),
        ("p - q", "p - q", True),
        ("q - p", "p - q", False),
        ("2x+3", "2y+3", False),
    ],
    "relation": [
        ("y=-\\frac{1}{2}x+\\frac{3}{4}", "2x+4y-3=0", True),
        ("4y = 3 - 2x", "2x+4y-3=0", True),
        ("x=5", "5", True),
        ("5", "k=5", True),
        ("x=6", "x=5", False),
        ("5 \\geq x", "x \\leq 5", True),
        ("x > 5", "x < 5", False),
        ("x \\geq 5", "x > 5", False),
        ("x \\in [-2,7]", "-2 \\le x \\le 7", True),
        ("1 \\le x < 2", "[1,2)", False),
        ("[1,2)", "1 \\le x < 2", True),
    ],
    "collection": [
        ("\\{2,1\\}", "\\{1,2\\}", True),
        ("2, 1", "1, 2", True),
        ("(2,1)", "(1,2)", False),
        ("(1,2)", "(1,2)", True),
        ("(1,2]", "(1,2)", False),
        ("[1,2]", "(1,2)", False),
        ("(1,2]", "(1,2]", True),
        ("(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty,2)\\cup(3,\\infty)", True),
        ("\\{1,2,3\\}", "\\{1,2\\}", False),
        ("1,2,3,4,5,6,7,8,9,10", "3", False),
        ("-2021, 2021", "\\pm 2021", True),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
        ("(3, \\frac{\\pi}{2})", "\\left( 3, \\frac{2\\pi}{4} \\right)", True),
    ],
    "matrix": [
        ("\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", True),
        ("\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", False),
        ("\\begin{pmatrix}1&2\\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", False),
    ],
    "percent_degrees_units_text_choice": [
        ("0.1", "10\\%", True),
        ("500\\%", "5", True),
        ("500", "5", False),
        ("90", "90^\\circ", True),
        ("5 \\text{ cm}", "5", True),
        ("\\text{Evelyn}", "Evelyn", True),
        ("\\text{Bob}", "\\text{Evelyn}", False),
        ("\\text{(B)}", "B", True),
        ("C", "\\text{(B)}", False),
    ],
    "decimal_comma_gold": [                                           # Math-Verify test: gold 1,22
        ("1.22", "1,22", True),
        ("1.23", "1,22", False),
        ("1.22", "1, 22", False),                                     # with a space it is a list
    ],
    "chained_gold": [                                                 # a = b = ... = v offers a numeric v
        ("0", "1 = \\zzz = x = 0", True),
        ("1", "1 = \\zzz = x = 0", False),
        ("2", "z = 1 + 1 = 2", True),
        ("3", "z = 1 + 1 = 2", False),
    ],
}


@pytest.mark.parametrize("pred,gold,expected", [
    pytest.param(pred, gold, expected, id=f"{rung}-{i}")
    for rung, rows in BOXED_CASES.items() for i, (pred, gold, expected) in enumerate(rows)
])
def test_boxed_answer_against_gold(pred, gold, expected):
    check(pred, gold, expected)


def test_verdict_fields():
    v = reward.verify("\\boxed{\\sqrt{8}}", "2\\sqrt{2}")
    assert v.correct and v.status == "ok" and v.pred == "\\sqrt{8}" and v.gold == "2\\sqrt{2}"
    assert v.method in ("numeric_exact", "rational", "structural", "identity", "simplify")


def test_malformed_sqrt_is_a_parse_error_not_a_dropped_factor():
    # malformed \sqrt(2) fails to parse instead of silently dropping the factor (issue #41)
    verdict = reward.verify("\\boxed{4\\sqrt(2)}", "4", mode="reward")
    assert not verdict.correct and verdict.status == "parse_error"


SOLUTION_GOLD = ("Let's assume the stock's value at the beginning of Monday is $100 . $ After losing $10 \\%$ of "
                 "its value on Monday, it is $90$. On Tuesday it loses $20 \\%$ of this new value, so it is $72$. "
                 "Final Answer: The final answer is $28 \\%$. I hope it is correct.")
W_GOLD = r"\\boxed{W(n) = 1 \\text{ and } W(n) = -1"   # Math-Verify test: unclosed box, doubled backslashes

# (response, gold, mode, expected) on raw responses
RAW_CASES = {
    "gold_quirk": [
        ("\\boxed{25}", "025", "eval", True),
        ("\\boxed{27}", 27.0, "eval", True),
        ("\\boxed{142}", 142.0, "reward", True),
        ("\\boxed{6630}", ["6630.65\n", "6630\n"], "eval", True),
        ("\\boxed{\\frac{10}{13}}", ["\\arcsin{\\frac{1}{1.3}}", "\\frac{10}{13}\n"], "eval", True),
        ("\\boxed{69, 84}", ["$69$,$84$"], "eval", True),
        ("\\boxed{69}", ["$69$,$84$"], "eval", False),
        ("\\boxed{7.5 \\times 10^{7}}", ["7.5 \\times 10^7", "7.5 \\times 10^7\n"], "eval", True),
    ],
    "design_doc": [
        ("3x + 4y + 14=0", "3*x-1*y+13=0", "eval", False),  # Math-Verify extracts the trailing 0 (issue #60)
        ("3x - y + 13 = 0", "3*x-1*y+13=0", "eval", True),
        ("... Final Answer: **73**", "73", "eval", True),  # markdown bold next to the number (issue #76)
        ("\\boxed{1,2,\\ldots,10}", "3", "eval", False),  # hedging with an ellipsis list
        ("$1 + \\frac{1}{\\mathrm{e}}$", "1-\\frac{1}{\\mathrm{e}}", "eval", False),  # truncation bug of 1 -/+ 1/e
    ],
    "structured": [
        (
            "\\boxed{-5, \\frac{14}{3}}",
            "x = -5,\\ p = \\frac{14}{3}",
            "eval",
            True,
        ),  # named gold, positional prediction
        ("\\boxed{y=2, x=1}", "x=1, y=2", "eval", True),  # both named: matched by name
        ("\\boxed{2, 1}", "x=1, y=2", "eval", False),
        ("$(5,2),(7,2)$", "p=5,q=2;p=7,q=2", "eval", True),
        ("\\boxed{(x, y) = (5, 8) \\quad \\text{and} \\quad (8, 5)}", "(5, 8), (8, 5)", "eval", True),
        (
            "$\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} + \\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}$",
            "\\begin{pmatrix}6 & 8 \\\\ 10 & 12\\end{pmatrix}",
            "eval",
            True,
        ),
        ("\\boxed{11,\\! 111,\\! 111,\\! 100}", "11111111100", "eval", True),
        ("\\boxed{32, 349}", "32349", "eval", False),
        ("${1,3}$", "(1,3)", "eval", True),
        ("$(0,1)$", "0<f(x)<1", "eval", True),
        ("$12:00$", "1:00", "eval", False),
        ("$f(x)=2x$", "f(x)=2x", "eval", True),
        ("$f(y)$", "f(x)", "eval", False),
    ],
    "solution_gold": [  # a whole solution without a box as the gold
        ("\\boxed{28\\%}", SOLUTION_GOLD, "eval", True),
        ("\\boxed{27\\%}", SOLUTION_GOLD, "eval", False),
        ("\\boxed{28}", "The answer is 28." * 3, "eval", False),  # a short gold is kept as written
    ],
    "unclosed_box_gold": [
        ("W(x)=1orW(x)=-1", W_GOLD, "eval", True),
        ("W(x)=1", W_GOLD, "eval", False),
    ],
    "inline_math_spans_one_line": [  # Math-Verify's rule: inline $ and \( stay on a line
        ("Answer $ \n 9 \n $", "9", "eval", False),
        ("Answer \\( \n 9 \n \\)", "9", "eval", False),
        ("Answer \\[ \n 9 \n \\]", "9", "eval", True),
        ("Answer $$ \n 9 \n $$", "9", "eval", True),
        ("Answer $ 9 $", "9", "eval", True),
    ],
    "boxes_per_part": [
        ("$$\\boxed{(3, 3)} \\text{ for part (a) and } \\boxed{(1, 1)}$$", "(3, 3), (1, 1)", "eval", True),
        ("$$\\boxed{(3, 3)} \\text{ for part (a) and } \\boxed{(1, 2)}$$", "(3, 3), (1, 1)", "eval", False),
    ],
}


@pytest.mark.parametrize("response,gold,mode,expected", [
    pytest.param(response, gold, mode, expected, id=f"{kind}-{i}")
    for kind, rows in RAW_CASES.items() for i, (response, gold, mode, expected) in enumerate(rows)
])
def test_raw_response_against_gold(response, gold, mode, expected):
    assert reward.verify(response, gold, mode=mode).correct is expected


PMATRIX_THIRD_FIFTH = "$(\\begin{pmatrix}\\frac{1}{3}\\\\ \\frac{1}{5} \\end{pmatrix})$"
PRECISION_2 = {"precision": 2}
RENAME = {"rename_variables": True}
SET_RELATION = {"set_accepts_relation": True}

# (response, gold, eval-mode options, expected): Math-Verify's options, off by default
OPTION_CASES = {
    "precision": [
        ("\\boxed{0.33}", "\\frac{1}{3}", PRECISION_2, True),
        ("\\boxed{0.33}", "\\frac{1}{3}", {}, False),
        ("\\boxed{0.333}", "\\frac{1}{3}", PRECISION_2, True),     # more places than asked: still rounded
        ("\\boxed{0.3}", "\\frac{1}{3}", PRECISION_2, False),      # fewer places than asked
        ("\\boxed{0.34}", "\\frac{1}{3}", PRECISION_2, False),
        ("\\boxed{0.03}", "\\frac{1}{30}", PRECISION_2, False),    # one significant digit
        ("\\boxed{-2.67}", "-\\frac{8}{3}", PRECISION_2, True),
        ("\\boxed{3.14}", "\\pi", PRECISION_2, True),
        ("\\boxed{3.15}", "\\pi", PRECISION_2, False),
        ("\\boxed{3.14}", "\\pi", {}, False),
        ("$\\begin{pmatrix}0.33\\\\0.2 \\end{pmatrix}$", PMATRIX_THIRD_FIFTH, PRECISION_2, True),
        ("$\\begin{pmatrix}0.33\\\\0.2 \\end{pmatrix}$", PMATRIX_THIRD_FIFTH, {}, False),
        ("$(0.6,2.6667]$", "$(\\frac{3}{5},\\frac{8}{3}]$", PRECISION_2, True),
        ("$(0.6,2.6667]$", "$(\\frac{3}{5},\\frac{8}{3}]$", {}, False),
        ("$(0.6,2.6667)$", "$(\\frac{3}{5},\\frac{8}{3}]$", PRECISION_2, False),
    ],
    "rename_variables": [
        ("$f(y)$", "$f(x)$", RENAME, True),
        ("$f(y)$", "$f(x)$", {}, False),
        ("$f(y) = y^2$", "f(x) = x^2", RENAME, True),
        ("$y^2 + 1$", "x^2 + 1", RENAME, True),
        ("$y^2 + 2$", "x^2 + 1", RENAME, False),
        ("$a + 2b$", "x + 2y", RENAME, False),                     # two variables are never renamed
    ],
    "set_accepts_relation": [
        ("$-2 \\le x \\le 7$", "$x \\in [-2,7]$", SET_RELATION, True),
        ("$-2 \\le x \\le 7$", "$x \\in [-2,7]$", {}, False),
        ("$-2 \\le x < 7$", "$x \\in [-2,7]$", SET_RELATION, False),
        ("$x > 1$", "$(1, \\infty)$", SET_RELATION, True),
    ],
}


@pytest.mark.parametrize("response,gold,options,expected", [
    pytest.param(response, gold, options, expected, id=f"{kind}-{i}")
    for kind, rows in OPTION_CASES.items() for i, (response, gold, options, expected) in enumerate(rows)
])
def test_eval_mode_options(response, gold, options, expected):
    assert reward.verify(response, gold, **options).correct is expected


# Issue 14 (matching rules; the labelled cases live in tests/reward/cases/{bare_variable,long_decimals,
# identity_large_exponents,case_sensitivity,list_vs_column_vector}.jsonl): parser corners that a lone
# variable would otherwise expose, and the building blocks of the rules.
ISSUE_14_CASES = [
    ("f'(x)", "f(x)", False),              # the LaTeX grammar drops primes: they become a subscript
    ("y'", "y", False),
    ("f'(x)", "f'(x)", True),
    ("y''", "y''", True),
    ("2^{T}", "2", False),                 # ^{T} is a power, not a transpose a scalar drops
    ("M^{T}", "M", False),                 # (a lone M parses now: the transpose must not vanish)
    ("x \\pmod{3}", "x - 3", False),       # \pmod is not \pm
    ("E", "e", False),                     # capital E is a variable
    ("e^{2}", "e^2", True),
]


@pytest.mark.parametrize("pred,gold,expected", ISSUE_14_CASES)
def test_issue_14_parser_corners(pred, gold, expected):
    check(pred, gold, expected)


def test_long_decimal_rule_has_one_implementation():
    from fractions import Fraction

    from reward import numbers

    third, eighth = Fraction(1, 3), Fraction(1, 8)
    assert numbers.terminates(eighth) and numbers.terminates(Fraction(7)) and not numbers.terminates(third)
    assert numbers.long_decimal_matches(third, Fraction("0.333333"), 6)
    assert numbers.long_decimal_matches(third, Fraction("0.333334"), 6)
    assert not numbers.long_decimal_matches(third, Fraction("0.333332"), 6)
    assert not numbers.long_decimal_matches(third, Fraction("0.33333"), 5)           # too short
    assert not numbers.long_decimal_matches(Fraction(1), Fraction("0.999999"), 6)    # integer: exact only
    assert not numbers.long_decimal_matches(eighth, Fraction("0.125001"), 6)         # terminating: exact only
    # an irrational gold arrives as a long rational approximation; one that is numerically a short
    # decimal (an unsimplified integer such as log_2 8) is exact only
    sqrt2 = Fraction("1.41421356237309504880168872420969807856967187537694")
    assert numbers.long_decimal_matches(sqrt2, Fraction("1.414214"), 6, irrational=True)
    assert not numbers.long_decimal_matches(sqrt2, Fraction("1.414215"), 6, irrational=True)
    three = Fraction(3) - Fraction(1, 10**40)
    assert not numbers.long_decimal_matches(three, Fraction("2.9999999"), 7, irrational=True)
    assert numbers.long_decimal_matches(three, Fraction("3.0000000"), 7, irrational=True)
    assert numbers.parse_number("0.3333330").places == 7 and numbers.parse_number("3.000").places == 0


def test_rational_functions_are_compared_exactly():
    from reward import identity
    from reward.safe_parse import parse_answer

    def exact(a: str, b: str):
        return identity.rational_identity(parse_answer(a).expr, parse_answer(b).expr)

    assert exact("\\left(\\frac{x}{10}\\right)^{100}", "\\left(\\frac{x}{10}\\right)^{99}") is False
    assert exact("\\left(\\frac{x}{10}\\right)^{100}", "\\frac{x^{100}}{10^{100}}") is True
    assert exact("\\frac{x^{31}-x^{30}}{x-1}", "x^{30}") is True
    assert exact("\\sin x", "\\sin x") is None                     # not a rational function
    assert exact("x^{10000}", "x^{9999}") is None                  # degree bound above the cap: numeric


def test_options_are_an_explicit_argument():
    from contextvars import ContextVar

    from reward import symbolic
    from reward.safe_parse import parse_answer
    from reward.verdict import Options

    assert not any(isinstance(value, ContextVar) for value in vars(symbolic).values())
    gold, pred = parse_answer("\\begin{pmatrix} \\frac{1}{3} \\\\ 1 \\end{pmatrix}"), parse_answer("(0.33, 1)")
    assert symbolic.nodes_equal(gold, pred, Options(precision=2))[0]
    assert not symbolic.nodes_equal(gold, pred)[0]
