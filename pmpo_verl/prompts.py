"""Prompt texts: the boxed-answer instruction and the templates built on it, for the training data
(``examples/data_preprocess``) and the evaluator (:mod:`pmpo_verl.evaluation.templates`).

``qwen_math`` (the paper's template): system = :data:`BOXED_INSTRUCTION`, user = the problem; as text for models
without a chat template, :data:`QWEN_MATH` (Qwen ChatML). ``r1d`` (the R1-Distill training prompt; GMPO's exact
text is not public): no system message (DeepSeek's usage advice), user = problem + ``"\\n"`` + the instruction,
rendered by the tokenizer's chat template. ``r1`` is the R1-Zero text prompt, ``plain`` a bare text prompt.
"""

from __future__ import annotations

BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
QWEN_MATH = ("<|im_start|>system\n" + BOXED_INSTRUCTION + "<|im_end|>\n"
             "<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n")
R1 = ("A conversation between User and Assistant. The User asks a question, and the Assistant solves it. "
      "The Assistant first thinks about the reasoning process in the mind and then provides the User with the "
      "answer. The reasoning process is enclosed within <think> </think> and answer is enclosed within "
      "<answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> "
      "<answer> answer here </answer>.\nUser: {question}\nAssistant: <think>")
PLAIN = "Question: {question}\n" + BOXED_INSTRUCTION + "\nAnswer:"
CHAT_TEMPLATES = ("qwen_math", "r1d")
"""The templates written as chat messages (:func:`chat_messages`): the training data's."""


def chat_messages(problem: str, template: str) -> list[dict[str, str]]:
    """The chat messages of one problem under ``qwen_math`` or ``r1d`` (see the module docstring);
    ``ValueError`` for another template."""
    if template == "qwen_math":
        return [{"role": "system", "content": BOXED_INSTRUCTION}, {"role": "user", "content": problem}]
    if template == "r1d":
        return [{"role": "user", "content": f"{problem}\n{BOXED_INSTRUCTION}"}]
    raise ValueError(f"unknown template {template!r}; choose from {', '.join(CHAT_TEMPLATES)}")
