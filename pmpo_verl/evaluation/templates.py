"""Prompt rendering (the texts are in :mod:`pmpo_verl.prompts`): the paper's ``qwen_math`` (Qwen ChatML
with the boxed-answer system prompt), an R1-Zero style ``r1`` template, the tokenizer's own chat template
(``chat``; ``r1d`` is the same prompt under the name the R1-Distill training data uses) and ``plain`` text."""

from __future__ import annotations

from ..prompts import PLAIN, QWEN_MATH, R1, chat_messages
from .errors import EvalError

TEMPLATES = ("qwen_math", "r1", "chat", "r1d", "plain")
# Templates rendered by the tokenizer's chat template. ``r1d`` is the R1-Distill training prompt
# (:func:`pmpo_verl.prompts.chat_messages`, the model's chat template applied by verl): what ``chat`` renders.
CHAT_TEMPLATES = ("chat", "r1d")


def render(template: str, question: str, tokenizer=None) -> str:
    """The prompt text for one question (``chat`` needs a tokenizer with a chat template)."""
    if template == "qwen_math":
        return QWEN_MATH.replace("{question}", question)
    if template == "r1":
        return R1.replace("{question}", question)
    if template == "plain":
        return PLAIN.replace("{question}", question)
    if template in CHAT_TEMPLATES:
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise EvalError(f"--template {template} needs a tokenizer with a chat template; "
                            "use --template qwen_math or plain")
        messages = chat_messages(question, "r1d")
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    raise EvalError(f"unknown template {template!r}; choose from {', '.join(TEMPLATES)}")


def adds_special_tokens(template: str) -> bool:
    """Chat-template text already holds the model's BOS (if any); other templates let the tokenizer add it."""
    return template not in CHAT_TEMPLATES
