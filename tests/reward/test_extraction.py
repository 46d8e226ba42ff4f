"""Answer extraction (reward.parser.extract_answer): anchors, priorities, windows, linear-time scanning."""

import random
import time

from hypothesis import given, settings
from hypothesis import strategies as st

import reward
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


# ---------------------------------------------------------------- issue 14: choice letters and eval extraction

def test_choice_letter_reader_accepts_letters_not_expressions():
    from reward.choice import choice_letter

    for text, letter in (("C", "C"), ("c", "C"), ("(b)", "B"), ("[D]", "D"), ("C.", "C"), ("C)", "C"),
                         ("(C) 42", "C"), ("C) 42", "C"), ("C. 42", "C"), ("C: 42", "C"), ("\\text{(C)}", "C"),
                         ("\\textbf{(C) }42", "C"), ("**C**", "C"), ("$\\mathrm{E}$", "E"), ("Option C", "C"),
                         ("Answer: (A)", "A"), ("Ｃ", "C"), ("（B）", "B")):
        assert choice_letter(text) == letter, text
    for text in ("B+1", "2B", "B = 3", "C 42", "B^2 - 4AC", "\\frac{A}{2}", "A \\cup B", "C, D", "e.g. 5",
                 "42", "AB", "(C)42", "Cat"):
        assert choice_letter(text) is None, text


def test_eval_keeps_only_the_choice_reading_as_a_letter():
    # a box that is not a letter decides: no letter from elsewhere in the response is offered
    ex = extract_answer("Option (C) gives 41 and option (D) gives 43, so the answer is \\boxed{42}.", "eval")
    assert ex.candidates[0] == "42" and not any(c in ("C", "D", "(C)", "(D)") for c in ex.candidates)
    ex = extract_answer("so \\boxed{B+1}", "eval")
    assert "B" not in ex.candidates
    assert extract_answer("C is correct; A and B are wrong.", "eval").candidates == ("C",)
    assert extract_answer("The answer is C, not A.", "eval").candidates == ("C",)


def test_choice_statements_in_other_languages_name_the_answer():
    for text in ("答案是C，而不是A。", "la réponse est C et non A", "Die Antwort ist C, nicht A.",
                 "La respuesta es C, no A.", "综上，C项正确。", "故选C。", "正解はCです。", "Ответ: C"):
        assert reward.verify(text, "C").correct, text
        assert not reward.verify(text, "A").correct, text


def test_choice_hedges_conditionals_and_negations_name_nothing():
    assert reward.verify("If we compute carefully, the answer is C.", "C").correct
    assert reward.verify("The correct answer is option **(C)**.", "C").correct
    assert reward.verify("Answer: \\(\\boxed{C}\\)", "C").correct
    assert not reward.verify("We choose C to be the centre of the circle, so the radius is 5.", "C").correct
    for text in ("The answer is C or D.", "If C is correct, then x = 3.", "The answer is not C.",
                 "Let me check whether C is the correct answer.", "\\boxed{C} or \\boxed{D}", "\\boxed{C, D}"):
        assert not reward.verify(text, "C").correct, text


def test_a_value_is_never_mapped_to_its_option():
    v = reward.verify("Option (C) is 5. The sum of the roots is \\boxed{5}.", "C")
    assert not v.correct and v.status == "parse_error" and v.method == "choice"


def test_lower_case_letters_read_the_same_in_both_modes():
    for mode in ("eval", "reward"):
        assert reward.verify("<think>x</think> The answer is \\boxed{c}.", "C", mode=mode).correct
    assert reward.verify("the answer is (b).", "B").correct
    assert not reward.verify("The answer is a positive integer, namely 7.", "A").correct


def test_unclosed_final_box_is_no_answer_in_both_modes():
    for mode in ("eval", "reward"):
        for text in ("so the answer is \\boxed{C", "first \\boxed{5}, then on reflection \\boxed{6"):
            ex = extract_answer(text, mode)
            assert ex.status == "no_answer" and ex.method == "unclosed_box", (mode, text)
        assert extract_answer("\\boxed{5} and an unbalanced { brace", mode).candidates[0] == "5"


def test_equation_rhs_is_kept_for_names_and_dropped_for_expressions():
    assert extract_answer("so the total is x = 12", "eval").candidates[0] == "12"
    assert extract_answer("Therefore the number of ways = 35", "eval").candidates[0] == "35"
    assert extract_answer("we find f(3) = 12 in the end", "eval").candidates[0] == "12"
    for text, value in (("we get the line 3x + 4y + 14 = 0", "0"), ("hence we have 2x = 24", "24"),
                        ("squaring gives x^2 = 16", "16")):
        assert value not in extract_answer(text, "eval").candidates, text


def test_undelimited_latex_value_is_read_whole():
    assert extract_answer("... which gives \\frac{3}{4}", "eval").candidates[0] == "\\frac{3}{4}"
    assert extract_answer("the ratio is \\frac34", "eval").candidates[0] == "\\frac34"
    assert extract_answer("the side is 2\\sqrt{3}", "eval").candidates[0] == "2\\sqrt{3}"
    assert extract_answer("the total is 3 + 4", "eval").candidates[0] == "3 + 4"
    # ranges, hyphens and units glued to a number keep the old reading
    assert extract_answer("it takes 10-12 days", "eval").candidates[0] == "12"
    assert extract_answer("the length is 1,000.99m", "eval").candidates[0] == "1,000.99"


def test_unparsable_inline_math_offers_its_own_value_not_an_earlier_number():
    ex = extract_answer("we find 3 of them, so the result is $\\approx 12$", "eval")
    assert ex.candidates == ("\\approx 12", "12")
    ex = extract_answer("we find 3 of them, so $(5, 2$", "eval")
    assert ex.candidates == ("(5, 2",)
    assert extract_answer("The answer is 12. $\\blacksquare$", "eval").candidates[0] == "12"


def test_answer_tags_are_read_in_eval_mode_only():
    text = "<think>2x + 3 = 13</think>\n<answer>x = 5</answer>\nCheck: 2(5) + 3 = 13."
    assert extract_answer(text, "eval").candidates[0] == "x = 5"
    assert extract_answer(text, "reward").status == "no_answer"
    assert extract_answer("\\boxed{41} was a slip. <answer>42</answer>", "eval").candidates[0] == "42"
    assert extract_answer("<answer>\\boxed{42}</answer> then \\boxed{43}", "eval").candidates[0] == "43"
    assert reward.verify("<think>x</think><answer>\\boxed{4}</answer>", "4", mode="reward").correct


def test_one_long_expression_is_too_large_not_its_last_number():
    v = reward.verify("1+" * 500_000 + "7", "7")
    assert not v.correct and v.status == "too_large"


def test_new_eval_rules_are_linear_on_hostile_input():
    texts = ("1+" * 500_000 + "7", "(1" * 20_000, "\\frac{1}{" * 5_000, "the answer is " * 20_000,
             "A is correct " * 20_000, "(A) (B) " * 20_000, "<answer>" * 20_000, "答案是" * 30_000,
             "\\sqrt" * 50_000 + "{2}", "2^" * 100_000)
    start = time.perf_counter()
    for text in texts:
        extract_answer(text, "eval")
    assert time.perf_counter() - start < 1.0
