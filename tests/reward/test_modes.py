"""Reward (strict) vs eval (lenient) mode, verify_batch ordering and verl's compute_score contract."""

import concurrent.futures

import pytest

import reward


def test_reward_mode_needs_the_final_box():
    assert not reward.verify("The answer is 5.", "5", mode="reward").correct
    assert reward.verify("The answer is 5.", "5", mode="eval").correct


def test_reward_mode_ignores_boxes_inside_think():
    text = "<think>\\boxed{4}</think>Hence \\boxed{5}"
    assert reward.verify(text, "5", mode="reward").correct
    assert not reward.verify(text, "4", mode="reward").correct


@pytest.mark.parametrize("response", [
    "\\boxed{3} or \\boxed{4}",
    "\\boxed{3 \\text{ or } 4}",
    "\\boxed{3 or 4}",
    "first \\boxed{3}, then \\boxed{4}",
])
def test_hedges_are_wrong_in_reward_mode(response):
    v = reward.verify(response, "3", mode="reward")
    assert not v.correct and v.method == "hedge"


def test_hedges_are_wrong_in_eval_mode_too():
    assert not reward.verify("\\boxed{3 or 4}", "3", mode="eval").correct
    assert not reward.verify("\\boxed{3}, \\boxed{4}", "3", mode="eval").correct


def test_repeated_identical_box_is_not_a_hedge():
    assert reward.verify("\\boxed{5} so again \\boxed{5}", "5", mode="reward").correct


def test_reward_mode_blocks_the_echo_exploit():
    assert not reward.verify("Simplify (x+1)^2 - 1 is x^2+2x", "x^2+2x", mode="reward").correct


def test_malformed_latex_repaired_only_in_eval_mode():
    assert reward.verify("\\boxed{\\frac12}", "\\frac{1}{2}", mode="eval").correct
    assert reward.verify("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}", mode="reward").correct


def test_batch_keeps_order_and_mixes_fast_and_pooled_items():
    responses = ["\\boxed{1}", "\\boxed{\\sqrt{8}}", "nothing", "\\boxed{2}", "\\boxed{(x+1)^2}"]
    golds = ["1", "2\\sqrt{2}", "3", "3", "x^2+2x+1"]
    got = [v.correct for v in reward.verify_batch(responses, golds, mode="reward")]
    assert got == [True, True, False, False, True]


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        reward.verify_batch(["a"], ["1", "2"])
    with pytest.raises(ValueError):
        reward.verify("a", "1", mode="strict")


@pytest.mark.parametrize("option", [{"precision": 2}, {"rename_variables": True}, {"set_accepts_relation": True}])
def test_eval_mode_options_are_refused_in_reward_mode(option):
    with pytest.raises(ValueError, match="eval-mode options"):
        reward.verify("\\boxed{0.33}", "\\frac{1}{3}", mode="reward", **option)
    with pytest.raises(ValueError, match="eval-mode options"):
        reward.compute_score("math", "\\boxed{0.33}", "\\frac{1}{3}", **option)
    assert reward.verify("\\boxed{1}", "1", mode="eval", **option).correct


def test_compute_score_passes_eval_mode_options():
    assert reward.compute_score("math", "\\boxed{0.33}", "\\frac{1}{3}", mode="eval", precision=2)["acc"]
    assert not reward.compute_score("math", "\\boxed{0.33}", "\\frac{1}{3}", mode="eval")["acc"]
    assert reward.compute_score("math", "\\boxed{f(y)}", "f(x)", mode="eval", rename_variables=True)["acc"]


def test_compute_score_keys_are_stable():
    keys = None
    for response, gold in [("\\boxed{5}", "5"), ("no answer", "5"), ("\\boxed{9^{9^{9^{9}}}}", "1"),
                           ("\\boxed{\\sqrt{8}}", "2\\sqrt{2}"), ("\\boxed{x}", 3.0)]:
        result = reward.compute_score("math", response, gold, extra_info={"index": 0})
        assert isinstance(result["score"], float) and isinstance(result["acc"], bool)
        assert isinstance(result["pred"], str)
        keys = keys or set(result)
        assert set(result) == keys
    assert {"score", "acc", "pred"} <= keys


def test_compute_score_defaults_to_reward_mode_and_takes_kwargs():
    assert reward.compute_score("math", "The answer is 5", "5")["score"] == 0.0
    assert reward.compute_score("math", "The answer is 5", "5", mode="eval")["score"] == 1.0
    out = reward.compute_score("math", "\\boxed{4}", "5", incorrect_score=-1.0, unrelated_key=3)
    assert out["score"] == -1.0 and out["acc"] is False


def test_compute_score_from_threads():
    cases = [("\\boxed{\\sqrt{8}}", "2\\sqrt{2}", True), ("\\boxed{\\frac{1}{2^{98}}}", "\\frac{1}{2^{99}}", False),
             ("\\boxed{(x+1)^2}", "x^2+2x+1", True), ("\\boxed{025}", "25", True)] * 4
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        results = list(ex.map(lambda c: reward.compute_score("math", c[0], c[1]), cases))
    assert [r["acc"] for r in results] == [c[2] for c in cases]


def test_equal_restated_boxes_are_not_a_hedge():
    text = "so $\\boxed{15\\frac{39}{40}}$, that is $\\boxed{\\frac{639}{40}}$"
    assert reward.verify(text, "\\frac{639}{40}", mode="reward").correct
    assert not reward.verify("\\boxed{2} and \\boxed{\\sqrt{8}}", "2", mode="reward").correct


def test_compute_score_uses_the_answer_list_in_extra_info():
    """Parquet keeps one ground-truth string; the data preparation puts every acceptable answer of a
    Minerva/OlympiadBench row into extra_info["answers"]."""
    extra = {"index": 3, "answers": ["6630.65", "6630"]}
    assert reward.compute_score("pmpo/minerva", "\\boxed{6630}", "6630.65", extra_info=extra)["acc"]
    assert not reward.compute_score("pmpo/minerva", "\\boxed{6630}", "6630.65", extra_info={"index": 3})["acc"]
    assert not reward.compute_score("pmpo/minerva", "\\boxed{12}", "6630.65", extra_info=extra)["acc"]
    assert reward.compute_score("pmpo/minerva", "\\boxed{6630.65}", "6630.65", extra_info={"answers": []})["acc"]
