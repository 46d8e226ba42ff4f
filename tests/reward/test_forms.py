"""Forms that mean the same (reward.forms, issue 14): clock times, mixed numbers, degrees inside
trigonometric functions, doubly escaped golds and \\quad-separated solution lists.

The end-to-end cases live in tests/reward/cases/{clock_times,mixed_numbers,degrees_in_trig,gold_escapes,
solution_sets}.jsonl; these tests pin the string rewrites themselves (no worker pool, no sympy)."""

import time
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reward.forms import clock_time, compare_clocks, mixed_numbers, quad_list, trig_degrees, undouble_gold
from reward.gold import prepare_gold
from reward.grader import grade
from reward.normalize import normalize_answer

RAD = "\\cdot\\frac{\\pi}{180}"


@pytest.mark.parametrize("text,expected", [
    ("8:34 PM", ("20:34", True)),
    ("8:34 \\text{ p.m.}", ("20:34", True)),
    ("\\text{8:34 pm}", ("20:34", True)),
    ("8:34pm", ("20:34", True)),
    ("8.34 pm", ("20:34", True)),
    ("12:00 AM", ("00:00", True)),
    ("12:30 PM", ("12:30", True)),
    ("12:00 \\text{ a.m.}", ("00:00", True)),
    ("8 PM", ("20:00", True)),
    ("12 \\text{ noon}", ("12:00", True)),
    ("\\text{midnight}", ("00:00", True)),
    ("1:05:30 PM", ("13:05:30", True)),
    ("20:34", ("20:34", False)),        # plain H:MM: a time, or maybe a ratio
    ("7:32", ("07:32", False)),
    ("09:30", ("09:30", True)),         # a leading zero: certainly a time
    ("3:04", ("03:04", True)),
    ("0:00", ("00:00", True)),
    ("3:4", None),                      # one-digit second part: a ratio
    ("8:60", None),                     # not a minute
    ("24:00", None),
    ("13:30 PM", None),                 # hours 1-12 with a marker
    ("20.34", None),                    # a decimal, not a time
    ("8", None),
    ("12:05 noon", None),
    ("8:34 PM or 8:34 AM", None),
    ("x:y", None),
])
def test_clock_time(text, expected):
    assert clock_time(text) == expected


@pytest.mark.parametrize("pred,gold,expected", [
    ("8:34 PM", "20:34", True),
    ("20:34", "\\text{8:34 p.m.}", True),
    ("8:34", "20:34", False),
    ("10:17", "20:34", False),      # ratio-equal, not the same time
    ("2:30", "1:15", False),
    ("9:30", "09:30", True),
    ("12:00 AM", "12:00", False),
    ("20.34", "8:34 PM", False),    # a certain time never equals a number
    ("0.3", "09:30", False),
    ("7:32", "\\frac{7}{32}", None),  # plain H:MM vs a number: left to the ratio reading
    ("20.34", "20:34", None),
    ("5", "7", None),
])
def test_compare_clocks(pred, gold, expected):
    assert compare_clocks(normalize_answer(pred, repair=True), [normalize_answer(gold, repair=True)]) is expected


def test_certain_time_text_is_not_numeric():
    n = normalize_answer("4:30 \\text{ p.m.}")
    assert (n.text, n.clock, n.clock_certain) == ("\\text{time 16:30}", "16:30", True)
    plain = normalize_answer("$7:32$")
    assert (plain.text, plain.clock, plain.clock_certain) == ("7:32", "07:32", False)


@pytest.mark.parametrize("text,expected", [
    ("1\\frac{1}{2}", "\\frac{3}{2}"),
    ("1 \\frac{1}{2}", "\\frac{3}{2}"),
    ("137 \\frac{1}{2}", "\\frac{275}{2}"),
    ("-1\\frac{1}{2}", "-\\frac{3}{2}"),
    ("1 1/2", "\\frac{3}{2}"),
    ("-2 1/4", "-\\frac{9}{4}"),
    ("x + 1 1/2", "x + \\frac{3}{2}"),
    ("1½", "\\frac{3}{2}"),
    ("½", "\\frac{1}{2}"),
    ("\\sqrt{2\\frac{1}{4}}", "\\sqrt{\\frac{9}{4}}"),
    ("(1, 2\\frac{1}{2})", "(1, \\frac{5}{2})"),
    # not mixed numbers: improper or non-numeric fractions are products, written explicitly
    ("2\\frac{5}{3}", "2 \\cdot \\frac{5}{3}"),
    ("2\\frac{3}{3}", "2 \\cdot \\frac{3}{3}"),
    ("2\\frac{x}{4}", "2 \\cdot \\frac{x}{4}"),
    ("0\\frac{1}{2}", "0 \\cdot \\frac{1}{2}"),
    # left alone: exponents, subscripts, decimals, letters, a power after the fraction, plain fractions
    ("x^2\\frac{1}{2}", "x^2\\frac{1}{2}"),
    ("10^2\\frac{1}{2}", "10^2\\frac{1}{2}"),
    ("a_1\\frac{1}{2}", "a_1\\frac{1}{2}"),
    ("2.5\\frac{1}{2}", "2.5\\frac{1}{2}"),
    ("2\\frac{1}{2}^2", "2\\frac{1}{2}^2"),
    ("\\frac{1}{2}", "\\frac{1}{2}"),
    ("3/4", "3/4"),
    ("1/2 1/3", "1/2 1/3"),
    ("2 3/4 / 5", "2 3/4 / 5"),
])
def test_mixed_numbers(text, expected):
    assert mixed_numbers(text) == expected


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=2, max_value=10**4), st.data())
def test_mixed_number_values(whole, den, data):
    num = data.draw(st.integers(min_value=1, max_value=den - 1))
    value = whole + Fraction(num, den)
    exact = f"{value.numerator}/{value.denominator}"
    for written in (f"{whole}\\frac{{{num}}}{{{den}}}", f"{whole} {num}/{den}", f"-{whole} \\frac{{{num}}}{{{den}}}"):
        gold = exact if not written.startswith("-") else "-" + exact
        g = grade([written], [gold], cheap_only=True)
        assert g is not None and g.correct, (written, gold)
    product = whole * Fraction(num, den)  # the multiplication reading, never the meaning
    g = grade([f"{whole}\\frac{{{num}}}{{{den}}}"], [f"{product.numerator}/{product.denominator}"], cheap_only=True)
    assert g is not None and g.correct is (product == value)


@pytest.mark.parametrize("text,expected", [
    ("\\sin(90^\\circ - x)", f"\\sin(90{RAD} - x)"),
    ("\\cos 60^\\circ", f"\\cos (60{RAD})"),
    ("\\tan 45^{\\circ}", f"\\tan (45{RAD})"),
    ("\\sin 60°", f"\\sin (60{RAD})"),
    ("\\sin^2 30^\\circ", f"\\sin^2 (30{RAD})"),
    ("\\cos^{2}(45^\\circ)", f"\\cos^{{2}}(45{RAD})"),
    ("2\\sin 15^\\circ \\cos 15^\\circ", f"2\\sin (15{RAD}) \\cos (15{RAD})"),
    ("\\sin(\\cos 30^\\circ)", f"\\sin(\\cos (30{RAD}))"),
    ("\\cos \\frac{90^\\circ}{2}", f"\\cos (\\frac{{90{RAD}}}{{2}})"),
    ("sin(30°)", f"sin(30{RAD})"),
    # untouched: no trig function, no degree sign, inverse functions, degree signs outside arguments
    ("30^\\circ", "30^\\circ"),
    ("\\cos x", "\\cos x"),
    ("\\sin^{-1}(1) = 90^\\circ", "\\sin^{-1}(1) = 90^\\circ"),
    ("\\arcsin(x) = 30^\\circ", "\\arcsin(x) = 30^\\circ"),
    ("\\sinh 30^\\circ", "\\sinh 30^\\circ"),
    ("\\sin x + 30^\\circ", "\\sin x + 30^\\circ"),
])
def test_trig_degrees(text, expected):
    assert trig_degrees(text) == expected


def test_degrees_outside_trig_keep_the_angle_rule():
    angle = normalize_answer("30^\\circ")
    assert (angle.text, angle.degrees) == ("30", True)
    trig = normalize_answer("\\cos 60^\\circ")
    assert trig.text == f"\\cos (60{RAD})" and not trig.degrees


@pytest.mark.parametrize("text,expected", [
    ("\\\\frac{1}{2}", "\\frac{1}{2}"),
    ("\\\\boxed{\\\\sqrt{3}}", "\\boxed{\\sqrt{3}}"),
    ("10\\\\%", "10\\%"),
    ("\\\\{1, 2\\\\}", "\\{1, 2\\}"),
    ("\\\\begin{pmatrix} 1 \\\\\\\\ 2 \\\\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),
    # left alone: singly escaped golds (a real row separator), mixed escaping, a lone line break
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),
    ("\\frac{\\\\sqrt{2}}{2}", "\\frac{\\\\sqrt{2}}{2}"),
    ("1 \\\\ 2", "1 \\\\ 2"),
    ("\\frac{1}{2}", "\\frac{1}{2}"),
])
def test_undouble_gold(text, expected):
    assert undouble_gold(text) == expected


def test_prepare_gold_undoubles_in_both_modes():
    assert prepare_gold("\\\\boxed{\\\\frac{1}{2}}") == ("\\frac{1}{2}",)
    assert prepare_gold(["\\\\sqrt{3}", "2"]) == ("\\sqrt{3}", "2")


@pytest.mark.parametrize("text,expected", [
    ("x = 1 \\quad\\text{and}\\quad x = 2", "x = 1, x = 2"),
    ("(1,2) \\quad \\text{and} \\quad (3,4)", "(1,2), (3,4)"),
    ("(1,2) \\quad (3,4)", "(1,2), (3,4)"),
    ("x = 1 \\qquad x = 2", "x = 1, x = 2"),
    ("x=1,\\quad x=2", "x=1, x=2"),
    ("1 \\quad 2", "1, 2"),
    ("\\frac{1}{2} \\quad \\text{or} \\quad 3", "\\frac{1}{2}, 3"),
    # spacing, not a separator
    ("5 \\quad \\text{cm}", "5 \\quad \\text{cm}"),
    ("\\quad(2+\\sqrt{2}, 1+\\sqrt{2})", "\\quad(2+\\sqrt{2}, 1+\\sqrt{2})"),
    ("(1, \\quad 2)", "(1, \\quad 2)"),
    ("x = 5 \\quad (\\text{double root})", "x = 5 \\quad (\\text{double root})"),
    ("x^2 \\quad y", "x^2 \\quad y"),
])
def test_quad_list(text, expected):
    assert quad_list(text) == expected


def test_quad_list_through_normalization():
    assert normalize_answer("x = 1 \\qquad x = 2").text == "x = 1, x = 2"
    assert normalize_answer("5 \\quad \\text{cm}").text == "5"


@pytest.mark.parametrize("func,text", [
    (trig_degrees, "\\sin(" * 300 + "30^\\circ" + ")" * 300),
    (trig_degrees, "\\sin " + "1" * 900 + "^\\circ"),
    (trig_degrees, ("\\cos 1^\\circ " * 70)),
    (mixed_numbers, "1 " * 500 + "1/2"),
    (mixed_numbers, "1\\frac{" * 200),
    (quad_list, "(" * 300 + "\\quad" * 100),
    (quad_list, "x = 1 \\quad " * 80),
    (clock_time, "1:" * 500),
    (undouble_gold, "\\\\" * 500),
])
def test_rewrites_stay_fast_on_hostile_input(func, text):
    start = time.perf_counter()
    func(text)
    assert time.perf_counter() - start < 0.5
