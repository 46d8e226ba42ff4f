"""Synthetic verifiable math task: two-step integer arithmetic with a ``\\boxed{}`` answer, written as
verl parquet in the schema of the real recipes (``prompt`` chat list with the qwen_math system prompt,
``data_source``, ``ability``, ``reward_model.ground_truth`` as a string, ``extra_info.index``)."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from ..prompts import BOXED_INSTRUCTION

SYSTEM_PROMPT = BOXED_INSTRUCTION  # the qwen_math system prompt of the recipes' data
DATA_SOURCE = "pmpo_synthetic_arith"
ABILITY = "math"


@dataclass(frozen=True)
class Problem:
    a: int
    op1: str
    b: int
    op2: str
    c: int

    @property
    def first(self) -> int:
        return self.a + self.b if self.op1 == "+" else self.a - self.b

    @property
    def answer(self) -> int:
        return self.first + self.c if self.op2 == "+" else self.first - self.c

    @property
    def question(self) -> str:
        return f"Compute {self.a} {self.op1} {self.b} {self.op2} {self.c}."

    @property
    def steps(self) -> str:
        return f"{self.a} {self.op1} {self.b} = {self.first}. {self.first} {self.op2} {self.c} = {self.answer}."

    @property
    def solution(self) -> str:
        """The worked answer (used for the supervised warm start)."""
        return f"{self.steps} \\boxed{{{self.answer}}}"

    @property
    def unboxed_solution(self) -> str:
        """The worked answer without ``\\boxed{}``: the training reward scores it 0."""
        return f"{self.steps} **{self.answer}**"


def make_problem(rng: random.Random, max_operand: int = 9) -> Problem:
    a, b, c = (rng.randint(1, max_operand) for _ in range(3))
    op1, op2 = rng.choice("+-"), rng.choice("+-")
    return Problem(a, op1, b, op2, c)


def make_problems(n: int, seed: int, max_operand: int = 9) -> list[Problem]:
    rng = random.Random(seed)
    return [make_problem(rng, max_operand) for _ in range(n)]


def to_row(p: Problem, index: int, split: str) -> dict:
    return {
        "data_source": DATA_SOURCE,
        "prompt": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": p.question},
        ],
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": str(p.answer)},
        "extra_info": {"index": index, "split": split, "question": p.question},
    }


def split_problems(n_train: int, n_val: int, seed: int, max_operand: int = 9) -> tuple[list[Problem], list[Problem]]:
    """Disjoint train/val problems (validation questions never appear in training)."""
    rng = random.Random(seed)
    val: list[Problem] = []
    seen: set[Problem] = set()
    while len(val) < n_val:
        p = make_problem(rng, max_operand)
        if p not in seen:
            seen.add(p)
            val.append(p)
    train: list[Problem] = []
    while len(train) < n_train:
        p = make_problem(rng, max_operand)
        if p not in seen:
            train.append(p)
    return train, val


def write_parquet(
    out_dir: str, n_train: int = 512, n_val: int = 64, seed: int = 0, max_operand: int = 9
) -> dict[str, str]:
    """Write ``train.parquet`` and ``val.parquet``; returns their paths."""
    import pandas as pd

    os.makedirs(out_dir, exist_ok=True)
    train, val = split_problems(n_train, n_val, seed, max_operand)
    paths = {}
    for split, probs in (("train", train), ("val", val)):
        path = os.path.join(out_dir, f"{split}.parquet")
        pd.DataFrame([to_row(p, i, split) for i, p in enumerate(probs)]).to_parquet(path, index=False)
        paths[split] = path
    return paths
