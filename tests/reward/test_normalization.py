"""String normalisation (reward.normalize) and the in-process exact-number rungs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reward.grader import grade
from reward.normalize import normalize_answer, same_text, strip_delimiters, text_key
from reward.verdict import Options


def test_delimiters_and_wrappers_are_stripped():
    assert strip_delimiters("$\\boxed{\\dfrac{1}{2}}$") == "\\dfrac{1}{2}"
    assert normalize_answer("\\[ \\dfrac{1}{2} \\]").text == "\\frac{1}{2}"


def test_sizing_commands_removed():
    assert normalize_answer("\\left( 3, \\frac{\\pi}{2} \\right)").text == "( 3, \\frac{\\pi}{2} )"


def test_degrees_and_percent_are_recorded():
    deg = normalize_answer("90^\\circ")
    assert (deg.text, deg.degrees) == ("90", True)
    pct = normalize_answer("28 percent")
    assert (pct.text, pct.percent) == ("28", True)
    assert normalize_answer("10\\%").percent


def test_units_and_currency_are_stripped():
    assert normalize_answer("5\\text{ cm}^2").text == "5"
    assert normalize_answer("\\$1,000.99").text == "1,000.99"
    assert normalize_answer("12 square units").text == "12"


def test_single_letter_words_are_not_units():
    assert normalize_answer("3 m").text == "3 m"


def test_thousands_brace_separator():
    assert normalize_answer("10{,}000").text == "10000"


def test_conjunctions_become_list_commas():
    assert normalize_answer("6 \\text{ and } 8").text == "6, 8"


MATRIX = "\\begin{pmatrix}1 & 2\\\\pi & 4\\end{pmatrix}"


@pytest.mark.parametrize("text,repaired,unrepaired", [
    ("\\frac12", "\\frac{1}{2}", "\\frac12"),
    ("\\sqrt3", "\\sqrt{3}", "\\sqrt3"),
    (".5", "0.5", ".5"),
    # a conjunction glued between a number and the next named term is split
    ("W(x)=1orW(x)=-1", "W(x)=1, W(x)=-1", "W(x)=1orW(x)=-1"),
    ("x=1andy=2", "x=1, y=2", "x=1andy=2"),
    ("4order", "4order", "4order"),
    # a doubled backslash before a known command is an escaping artefact, outside matrices
    ("W(n) = 1 \\\\text{ and } W(n) = -1", "W(n) = 1, W(n) = -1", None),
    ("-2 \\\\le x \\\\le 7", "-2 \\le x \\le 7", "-2 \\\\le x \\\\le 7"),
    (MATRIX, MATRIX, MATRIX),
])
def test_repairs_only_in_repair_mode(text, repaired, unrepaired):
    assert normalize_answer(text, repair=True).text == repaired
    if unrepaired is not None:
        assert normalize_answer(text).text == unrepaired


def test_text_key():
    assert text_key("\\text{Evelyn}") == "Evelyn"                          # case kept by default
    assert text_key("\\text{Evelyn}", fold_case=True) == text_key("evelyn")


@pytest.mark.parametrize("gold,pred,expected", [
    ("\\text{Evelyn}", "evelyn", True),        # two text answers: case folded
    ("Evelyn", "EVELYN", True),                  # words of 4+ letters are text
    ("\\text{Yes}", "yes", True),              # a short answer word is text
    ("No", "\\text{NO}", True),
    ("\\text{ACF}", "ACF", True),              # same case: equal without folding
    ("x", "X", False),                           # variables: case-sensitive
    ("p", "P", False),
    ("(a, b)", "(A, B)", False),
    ("\\delta", "\\Delta", False),           # command names are never folded
    ("AB", "ab", False),                         # short letter groups are variables
    ("\\text{ACF}", "acf", False),             # acf is not a text answer
    ("\\text{x}", "X", False),
])
def test_same_text_folds_case_only_between_text_answers(gold, pred, expected):
    assert same_text(gold, pred) is expected


def _cheap(pred, gold):
    return grade([pred], [gold], cheap_only=True)


def test_integer_fast_path_quirks():
    for pred, gold in [("025", "25"), ("27.0", "27"), ("7,425,000", "7425000"), ("1 000", "1000"),
                       ("10{,}000", "10000"), ("-5", "-5"), ("1000.00", "1000")]:
        g = _cheap(pred, gold)
        assert g is not None and g.correct and g.method in ("int", "string"), (pred, gold)


def test_exact_rationals_no_float_leniency():
    assert _cheap("\\frac{2}{4}", "\\frac{1}{2}").correct
    assert not _cheap("0.3333", "\\frac{1}{3}").correct
    assert _cheap("0.0833333", "\\frac{1}{12}").correct
    assert not _cheap("500", "5").correct


def test_gold_precision_tolerance():
    assert _cheap("9.63", "9.6").correct
    assert not _cheap("9.66", "9.6").correct
    assert _cheap("\\frac{1}{3}", "0.33").correct
    assert _cheap("8.7 \\times 10^{8}", "8.7 \\times 10^{8}").correct
    assert _cheap("4.5e33", "4.5 \\times 10^{33}").correct


def test_decimal_comma_read_from_the_other_side():
    assert _cheap("1.22", "1,22").correct          # gold with a decimal comma
    assert _cheap("1,22", "1.22").correct          # prediction with a decimal comma
    assert not _cheap("1.23", "1,22").correct
    assert _cheap("1,220", "1220").correct         # a thousands separator stays one


def test_precision_option_in_the_cheap_rung():
    two = Options(precision=2)
    assert grade(["0.33"], ["\\frac{1}{3}"], cheap_only=True, options=two).method == "rounded"
    assert grade(["2.6667"], ["8/3"], cheap_only=True, options=two).correct
    assert not grade(["0.3"], ["\\frac{1}{3}"], cheap_only=True, options=two).correct
    assert not grade(["33\\%"], ["\\frac{1}{3}"], cheap_only=True, options=two).correct
    assert not grade(["0.33"], ["\\frac{1}{3}"], cheap_only=True).correct
    assert not _cheap("0.33", "\\frac{1}{3}").correct


def test_options_validate_precision():
    for bad in (-1, 31, 2.5, "2"):
        with pytest.raises(ValueError):
            Options(precision=bad)


def test_percent_rules():
    assert _cheap("0.1", "10\\%").correct
    assert _cheap("28", "28\\%").correct
    assert _cheap("500\\%", "5").correct
    assert not _cheap("28", "0.28").correct
    assert not _cheap("0.05", "5").correct


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=3))
def test_leading_zeros_and_separators_never_change_integers(n, zeros):
    assert _cheap("0" * zeros + str(n), str(n)).correct
    assert _cheap(f"{n:,}", str(n)).correct
    assert not _cheap(str(n + 1), str(n)).correct


@given(st.integers(min_value=-10**6, max_value=10**6), st.integers(min_value=1, max_value=10**6),
       st.integers(min_value=1, max_value=50))
def test_scaled_fractions_are_equal(a, b, k):
    assert _cheap(f"\\frac{{{a * k}}}{{{b * k}}}", f"{a}/{b}").correct
