"""The gold rule (reward.gold): what a dataset's answer field becomes before the verifier compares."""

import json

import numpy as np
import pytest

import reward
from reward.gold import last_boxed, prepare_gold, verl_fields, verl_gold


@pytest.mark.parametrize("raw, golds", [
    (27.0, ("27",)),                                   # AMC float
    (2.5, ("2.5",)),
    (7, ("7",)),
    ("025", ("025",)),                                  # AIME: leading zeros kept (the verifier compares values)
    ("-007", ("-007",)),
    ("²", ("²",)),                                      # isdigit() but not int(): no crash
    (" \\frac{1}{2} \n", ("\\frac{1}{2}",)),
    (["9.6\n"], ("9.6",)),                              # a one-item list is its item
    (["6630.65\n", "6630\n", "6630"], ("6630.65", "6630")),  # alternatives, duplicates dropped
    (np.array(["$3$", "$5$"]), ("$3$", "$5$")),
    ("\\boxed{\\frac{1}{2}}", ("\\frac{1}{2}",)),
    ("\\\\frac{1}{2}", ("\\frac{1}{2}",)),              # JSON-escaped twice
    (None, ()), (True, ()), (float("nan"), ()), ("  ", ()), ([], ()),
])
def test_prepare_gold_rules(raw, golds):
    assert prepare_gold(raw) == golds
    assert prepare_gold(list(golds)) == golds  # idempotent: preparing a prepared gold changes nothing


def test_parts_form_one_answer():
    assert prepare_gold(["$1$", "$3$"], parts=True) == ("$1$, $3$",)
    assert prepare_gold(["$2$"], parts=True) == ("$2$",)


@pytest.mark.parametrize("response, gold", [("\\boxed{25}", "025"), ("\\boxed{-7}", "-007"), ("\\boxed{025}", "25")])
def test_kept_leading_zeros_grade_by_value(response, gold):
    for mode in ("reward", "eval"):
        assert reward.verify(response, gold, mode=mode).correct


def test_verl_fields_round_trip():
    ground_truth, answers = verl_fields(("6630.65", "6630"))
    assert ground_truth == "6630.65" and json.loads(answers) == ["6630.65", "6630"]
    assert verl_gold(ground_truth, {"answers": answers}) == ["6630.65", "6630"]
    assert verl_gold("3", {"answers": np.array(["3", "4"])}) == ["3", "4"]
    assert verl_gold("3", {"answers": "[]"}) == "3" and verl_gold("3", None) == "3"
    assert verl_gold("3", {"answers": "not json"}) == "3"
    with pytest.raises(ValueError):
        verl_fields(())


@pytest.mark.parametrize("solution, boxed", [
    ("so $\\boxed{\\frac{1}{\\sqrt{2}}}$.", "\\frac{1}{\\sqrt{2}}"),
    ("First $\\boxed{1}$, then $\\boxed{ \\{1, 2\\} }$.", "\\{1, 2\\}"),   # the last box only
    ("$\\fbox{7}$", "7"),
    ("$\\boxed 5$", "5"),
    ("no box", None), ("$\\boxed{unclosed$", None), ("\\boxed{}", None),
])
def test_last_boxed(solution, boxed):
    assert last_boxed(solution) == boxed
