"""Benchmark registry, loaders and answer normalisation (no model)."""

import json
from pathlib import Path

import pytest

from pmpo_verl.evaluation import benchmarks
from pmpo_verl.evaluation.errors import EvalError

BENCH_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "benchmarks"


def test_golds_are_prepared_by_the_reward_rule():
    """Golds come from reward.gold.prepare_gold: always a tuple of alternatives, leading zeros kept."""
    bench = benchmarks.REGISTRY["aime24"]
    rows = [{"problem": "p", "answer": "025"}, {"problem": "p", "answer": ["9.6\n", "9.6"]},
            {"problem": "p", "answer": 27.0}, {"problem": "p", "final_answer": ["$1$", "$3$"],
                                               "is_multiple_answer": True}]
    golds = [p.gold for p in benchmarks.to_problems(rows, bench, "rows")]
    assert golds == [("025",), ("9.6",), ("27",), ("$1$, $3$",)]
    with pytest.raises(EvalError, match="row 0: empty answer"):
        benchmarks.to_problems([{"problem": "p", "answer": " "}], bench, "rows")


@pytest.mark.skipif(not BENCH_DIR.is_dir(), reason="../shared/data/benchmarks is not beside the checkout")
def test_every_registered_benchmark_loads_from_the_shared_files():
    sizes = {"aime24": 30, "aime25": 30, "amc": 83, "amc23": 40, "math500": 500, "minerva": 272, "olympiadbench": 675}
    for name, size in sizes.items():
        problems = benchmarks.load(benchmarks.REGISTRY[name], str(BENCH_DIR))
        assert len(problems) == size, name
        assert all(p.question and p.gold not in (None, "", []) for p in problems), name
        assert [p.id for p in problems] == [str(i) for i in range(size)]
    aime25 = benchmarks.load(benchmarks.REGISTRY["aime25"], str(BENCH_DIR), limit=1)  # field `question`
    assert aime25[0].question.startswith("Find the sum of all integer bases") and aime25[0].gold == ("70",)
    assert benchmarks.load(benchmarks.REGISTRY["amc"], str(BENCH_DIR), limit=1)[0].gold == ("142",)


def test_parse_specs_and_custom_files(tmp_path):
    assert [b.name for b in benchmarks.parse_specs("aime24, MATH500")] == ["aime24", "math500"]
    with pytest.raises(EvalError, match="unknown benchmark 'gsm8k'.*aime24, aime25, amc"):
        benchmarks.parse_specs("aime24,gsm8k")
    with pytest.raises(EvalError, match="does not exist"):
        benchmarks.parse_specs(str(tmp_path / "nope.jsonl"))
    custom = tmp_path / "mine.jsonl"
    custom.write_text(json.dumps({"question": "1+1?", "final_answer": ["2"]}) + "\n")
    (bench,) = benchmarks.parse_specs(str(custom))
    (p,) = benchmarks.load(bench)
    assert (bench.name, p.question, p.gold) == ("mine", "1+1?", ("2",))


def test_verl_parquet_as_custom_benchmark(tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "val.parquet"
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "q?"}]
    pd.DataFrame([{"data_source": "x", "prompt": messages,
                   "reward_model": {"style": "rule", "ground_truth": "3"},
                   "extra_info": {"index": 0, "answers": '["3", "three"]'}}]).to_parquet(path)
    (p,) = benchmarks.load(benchmarks.parse_specs(str(path))[0])
    assert (p.question, p.gold) == ("q?", ("3", "three"))  # every answer of the row, as the reward reads it


def test_missing_local_file_says_how_to_use_data_dir(tmp_path):
    with pytest.raises(EvalError, match="--data-dir .* has no minerva.jsonl"):
        benchmarks.load(benchmarks.REGISTRY["minerva"], str(tmp_path))


def test_missing_data_dir_says_it_does_not_exist(tmp_path):
    with pytest.raises(EvalError, match=r"--data-dir \S+/nope does not exist") as info:
        benchmarks.load(benchmarks.REGISTRY["minerva"], str(tmp_path / "nope"))
    assert "has no" not in str(info.value)
