"""Prompt templates."""

import pytest

from pmpo_verl.evaluation import templates
from pmpo_verl.evaluation.errors import EvalError


def test_qwen_math_is_the_papers_chatml_prompt():
    assert templates.render("qwen_math", "Q?") == (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n")


def test_r1_plain_and_chat(tiny_model):
    from transformers import AutoTokenizer

    assert templates.render("r1", "Q?").endswith("User: Q?\nAssistant: <think>")
    assert templates.render("plain", "a {question} b").startswith("Question: a {question} b\n")
    tok = AutoTokenizer.from_pretrained(tiny_model)
    assert templates.render("chat", "Q?", tok) == (
        "<|im_start|>user\nQ?\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>assistant\n")
    tok.chat_template = None
    with pytest.raises(EvalError, match="chat template"):
        templates.render("chat", "Q?", tok)
    assert templates.adds_special_tokens("qwen_math") and not templates.adds_special_tokens("chat")
