"""Answer extraction (reward.parser.extract_answer): anchors, priorities, windows, linear-time scanning."""

import random
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from reward.parser import WINDOW, extract_answer


def test_reward_mode_takes_the_final_box_after_think():
    text = "<think>maybe \\boxed{3}</think> so the answer is \\boxed{\\frac{1}{2}}"
    ex = extract_answer(text, "reward")
    assert ex.status == "ok" and ex.candidates == ("\\frac{1}{2}",) and not ex.rejected


def test_nested_braces_are_not_truncated():
    assert extract_answer("\\boxed{\\frac{1}{\\sqrt{2}}}", "reward").candidates == ("\\frac{1}{\\sqrt{2}}",)


def test_fbox_and_space_form_are_accepted():
    assert extract_answer("so \\fbox{42}", "reward").candidates == ("42",)
    assert extract_answer("so \\boxed 7.", "reward").candidates == ("7",)


def test_unfinished_think_has_no_answer():
    assert extract_answer("<think>\\boxed{5} still thinking", "reward").status == "no_answer"


def test_reward_mode_needs_a_box():
    ex = extract_answer("The final answer is 5.", "reward")
    assert ex.status == "no_answer" and ex.candidates == ()


def test_eval_priorities_box_first_then_anchors():
    assert extract_answer("We get $x=2$. Final answer: \\boxed{7}", "eval").candidates[0] == "7"
    assert extract_answer("so the final answer is $12$. I hope it is correct.", "eval").candidates[0] == "12"
    assert extract_answer("Answer: 3/4", "eval").candidates[0] == "3/4"


def test_eval_anchor_after_last_box_wins():
    text = "first \\boxed{200} then more work. The final answer is $10,455$. I hope it is correct."
    assert extract_answer(text, "eval").candidates[0] == "10,455"


def test_eval_prose_after_anchor_yields_its_number():
    assert extract_answer("Final Answer: The largest $n$ is 34.", "eval").candidates[0] == "34"


def test_eval_joins_adjacent_latex_environments():
    assert extract_answer("the solutions are $1$, $2$ and $3$", "eval").candidates[0] == "1, 2, 3"


def test_eval_joins_adjacent_boxes_but_not_distant_ones():
    assert extract_answer("\\boxed{1} and \\boxed{2}", "eval").candidates[0] == "1, 2"
    far = "\\boxed{1} then a long argument about other things \\boxed{2}"
    assert extract_answer(far, "eval").candidates[0] == "2"


def test_markdown_bold_number_is_extracted():
    assert extract_answer("... Final Answer: **73**", "eval").candidates[0] == "73"


def test_equation_rhs_zero_is_not_taken_as_the_answer():
    ex = extract_answer("so we get the line 3x + 4y + 14=0 at last and that is it", "eval")
    assert "0" not in ex.candidates


def test_number_glued_to_letters_is_not_extracted():
    assert "2" not in extract_answer("AZYUK2A", "eval").candidates


def test_unbalanced_boxes_are_linear_and_yield_nothing():
    text = "\\boxed{" * 20000
    start = time.perf_counter()
    ex = extract_answer(text, "reward")
    assert time.perf_counter() - start < 0.5
    assert ex.status == "no_answer"


def test_only_the_window_is_scanned():
    rng = random.Random(0)
    text = "\\boxed{1}" + "".join(rng.choice("abcdefghij klmnop") for _ in range(2 * WINDOW))
    assert extract_answer(text, "reward").status == "no_answer"


def test_degenerate_repetition_is_rejected_in_reward_mode():
    ex = extract_answer("the same words again " * 2000 + "\\boxed{4}", "reward")
    assert ex.rejected and ex.method == "degenerate"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("\\boxed{}$()[]=0123456789 abcxyzAnswer:final\n")), max_size=400))
def test_extraction_never_raises_and_candidates_are_non_empty(text):
    for mode in ("reward", "eval"):
        ex = extract_answer(text, mode)
        assert ex.status in ("ok", "no_answer")
        assert all(c.strip() for c in ex.candidates)


def test_inline_math_does_not_span_lines():
    # Math-Verify's rule: `$...$` and `\(...\)` stay on one line, so a number between a dangling inline
    # delimiter and its partner lines below is not an answer; display math may span lines
    assert extract_answer("Answer $ \n 9 \n $", "eval").status == "no_answer"
    assert extract_answer("Answer \\( \n 9 \n \\)", "eval").status == "no_answer"
    assert extract_answer("Answer \\[ \n 9 \n \\]", "eval").candidates[0] == "9"
    assert extract_answer("Answer $$ \n 9 \n $$", "eval").candidates[0] == "9"
    # currency signs on different lines are not a broken environment
    assert extract_answer("It costs $5\nthen 9 more, $3 in all: 12", "eval").candidates[0] == "12"


def test_dangling_inline_delimiters_are_linear():
    start = time.perf_counter()
    for text in ("\\(\n" * 20000, "$\n" * 20000, "$ \n 9 " * 20000):
        extract_answer(text, "eval")
    assert time.perf_counter() - start < 0.5


def test_eval_joins_boxes_answering_numbered_parts():
    text = "$$\\boxed{(3, 3)} \\text{ for part (a) and } \\boxed{(1, 1)}$$"
    assert extract_answer(text, "eval").candidates[0] == "(3, 3), (1, 1)"
    assert extract_answer("\\boxed{1} for part (b), \\boxed{2}", "eval").candidates[0] == "1, 2"
    assert extract_answer("\\boxed{1} for the other part we need \\boxed{2}", "eval").candidates[0] == "2"


def test_gold_with_an_unclosed_final_box_is_the_text_after_it():
    assert extract_answer("so \\boxed{x = 1 \\text{ and } y = 2", "gold").candidates == ("x = 1 \\text{ and } y = 2",)
    assert extract_answer("\\boxed{3} and \\boxed{", "gold").candidates == ("3",)


def test_boxes_differing_only_in_whitespace_are_one_answer():
    assert extract_answer("\\boxed{x + 1} so \\boxed{x+1}", "reward").candidates == ("x + 1",)
    assert extract_answer("\\boxed{1} and \\boxed{ 1 }", "eval").candidates[0] == "1"
    assert extract_answer("\\boxed{1}, \\boxed{ 1 } \\boxed{2}", "gold").candidates == ("1, 2",)
