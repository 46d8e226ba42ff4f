"""Training data, evaluation and the reward agree on every gold of shared/data/benchmarks.

For each row: the golds ``pmpo-verl eval`` grades against (``benchmarks.load``), the golds the reward reads
back from the training parquet that ``examples/data_preprocess`` writes (``compute_score``'s
``reward.gold.verl_gold`` over ``ground_truth`` and ``extra_info.answers``), and the golds the verifier
prepares from the raw answer field are the same tuple, and the verifier's gold text is the same for all three.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

import reward
from pmpo_verl.evaluation import benchmarks
from reward.gold import last_boxed, prepare_gold, verl_gold

BENCH_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "benchmarks"
PREP = Path(__file__).resolve().parents[2] / "examples" / "data_preprocess"
MATH_FILES = ("math500_solutions.jsonl", "math_test5000.jsonl")  # training-set layout (problem, solution, ...)

pytestmark = pytest.mark.skipif(not BENCH_DIR.is_dir(), reason=f"{BENCH_DIR} is absent: the shared benchmark "
                                "files sit beside the checkout in CI, not in a user's clone")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"prep_{name}_under_test", PREP / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _raw_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _verifier_gold_text(gold) -> str:
    return reward.verify("", gold).gold  # no answer to grade: the verdict still carries the prepared gold


def test_every_shared_file_is_covered():
    registered = {b.local_file for b in benchmarks.REGISTRY.values()}
    unknown = {p.name for p in BENCH_DIR.glob("*.jsonl")} - registered - set(MATH_FILES)
    assert not unknown, f"new benchmark files without a gold-agreement check: {sorted(unknown)}"


@pytest.mark.parametrize("name", list(benchmarks.REGISTRY))
def test_benchmark_golds_agree(name, tmp_path):
    bench = benchmarks.REGISTRY[name]
    evaluated = benchmarks.load(bench, str(BENCH_DIR))
    assert _script("benchmarks").main(["--local-dir", str(BENCH_DIR), "--benchmarks", name,
                                       "--output-dir", str(tmp_path)]) == 0
    trained = pd.read_parquet(tmp_path / f"{name}.parquet")
    raw = _raw_rows(BENCH_DIR / bench.local_file)
    assert len(evaluated) == len(trained) == len(raw)
    for problem, (_, row), raw_row in zip(evaluated, trained.iterrows(), raw):
        answer = next(raw_row[f] for f in bench.answer_fields if raw_row.get(f) is not None)
        from_reward = prepare_gold(answer, parts=bool(raw_row.get("is_multiple_answer")))
        from_training = prepare_gold(verl_gold(row.reward_model["ground_truth"], dict(row.extra_info)))
        assert problem.gold == from_training == from_reward != (), (name, problem.id, answer)
        assert prepare_gold(problem.gold) == problem.gold
        text = _verifier_gold_text(answer)
        assert text == _verifier_gold_text(problem.gold) == _verifier_gold_text(list(from_training))


@pytest.mark.parametrize("file", MATH_FILES)
def test_math_training_golds_agree(file):
    """MATH rows: the training script's gold (the answer field, else the solution's last box) is what the
    evaluator reads from the same file as a custom benchmark and what the verifier prepares."""
    golds_of = _script("math_lvl3to5").golds_of
    raw = _raw_rows(BENCH_DIR / file)
    has_answer = all("answer" in r for r in raw)
    evaluated = benchmarks.load(benchmarks.parse_specs(str(BENCH_DIR / file))[0]) if has_answer else None
    for i, row in enumerate(raw):
        trained = golds_of(row, file)
        expected = prepare_gold(row["answer"] if has_answer else last_boxed(row["solution"]))
        assert trained == expected, (file, i)
        if evaluated is not None:
            assert evaluated[i].gold == trained, (file, i)
        if trained:
            assert _verifier_gold_text(list(trained)) == " | ".join(trained)
