"""Metrics against hand-computed examples."""

import math
from fractions import Fraction

import pytest

from pmpo_verl.evaluation import metrics


def exact_pass_at_k(n, c, k):
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


@pytest.mark.parametrize("n,c,k,expected", [
    (5, 2, 1, 0.4),            # c/n
    (5, 2, 2, 0.7),            # 1 - C(3,2)/C(5,2) = 1 - 3/10
    (4, 1, 4, 1.0),            # n - c < k: some correct sample is always drawn
    (10, 0, 3, 0.0),
    (10, 10, 1, 1.0),
    (8, 3, 4, 1 - 5 / 70),     # 1 - C(5,4)/C(8,4)
])
def test_pass_at_k_hand_examples(n, c, k, expected):
    assert metrics.pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_is_stable_for_large_n():
    for n, c, k in [(200, 3, 100), (1000, 1, 500), (1000, 999, 2), (300, 150, 150)]:
        assert metrics.pass_at_k(n, c, k) == pytest.approx(float(exact_pass_at_k(n, c, k)), rel=1e-9, abs=1e-12)


def test_pass_at_k_rejects_bad_arguments():
    for n, c, k in [(4, 5, 1), (4, 1, 5), (4, 1, 0)]:
        with pytest.raises(ValueError):
            metrics.pass_at_k(n, c, k)


def test_majority_vote_and_deterministic_ties():
    # "2" wins 2:1; its samples are correct
    assert metrics.majority(["1", "2", " 2 ", None], [False, True, True, False]) is True
    # tie 1:1 -> the answer seen first wins ("a", wrong), whatever the order of the correct one
    assert metrics.majority(["a", "b"], [False, True]) is False
    assert metrics.majority(["b", "a"], [True, False]) is True
    # whitespace-insensitive voting: "x + 1" and "x+1" are one answer (2 votes) and beat "y" (1 vote)
    assert metrics.majority(["y", "x + 1", "x+1"], [False, True, True]) is True
    # no extracted answer at all is wrong
    assert metrics.majority([None, None], [False, False]) is False


def rows_for(pid, preds, correct, finish=None, status=None):
    return [{"id": pid, "sample": i, "extracted": p, "correct": c,
             "finish_reason": (finish or ["stop"] * len(preds))[i], "status": (status or ["ok"] * len(preds))[i],
             "n_tokens": 10} for i, (p, c) in enumerate(zip(preds, correct))]


def test_benchmark_metrics_hand_example():
    # problem a: 1 of 4 correct, majority "5" (wrong); problem b: 3 of 4 correct, majority "7" (right)
    rows = rows_for("a", ["5", "5", "6", None], [False, False, True, False],
                    finish=["stop", "stop", "stop", "length"], status=["ok", "ok", "ok", "no_answer"])
    rows += rows_for("b", ["7", "7", "7", "8"], [True, True, True, False], status=["ok", "ok", "ok", "parse_error"])
    m = metrics.benchmark_metrics(rows, n=4)
    assert m["problems"] == 2 and m["samples"] == 8
    assert m["pass@1"] == pytest.approx((0.25 + 0.75) / 2)
    assert m["mean@4"] == pytest.approx(4 / 8)
    # pass@2: a: 1 - C(3,2)/C(4,2) = 1/2; b: 1 - C(1,2)/C(4,2) = 1
    assert m["pass@2"] == pytest.approx(0.75)
    assert m["pass@4"] == pytest.approx(1.0)
    assert m["maj@4"] == pytest.approx(0.5)
    assert m["truncated"] == pytest.approx(1 / 8)
    assert m["no_answer"] == pytest.approx(1 / 8)
    assert m["parse_error"] == pytest.approx(1 / 8)
    assert m["mean_tokens"] == pytest.approx(10)


def test_benchmark_metrics_requires_n_samples_per_problem():
    with pytest.raises(ValueError):
        metrics.benchmark_metrics(rows_for("a", ["1"], [True]), n=2)


def test_default_ks_and_average():
    assert metrics.default_ks(1) == [1]
    assert metrics.default_ks(6) == [1, 2, 4, 6]
    avg = metrics.average({"x": {"problems": 2, "pass@1": 0.5}, "y": {"problems": 4, "pass@1": 1.0}})
    assert avg == {"pass@1": 0.75}
