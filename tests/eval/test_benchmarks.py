"""Benchmark registry, loaders and answer normalisation (no model)."""

import json
from pathlib import Path

import pytest

from pmpo_verl.evaluation import benchmarks
from pmpo_verl.evaluation.errors import EvalError

BENCH_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "benchmarks"


def test_normalize_gold_quirks():
    assert benchmarks.normalize_gold(27.0) == "27"          # AMC float
    assert benchmarks.normalize_gold(2.5) == "2.5"
    assert benchmarks.normalize_gold("025") == "25"         # AIME leading zero
    assert benchmarks.normalize_gold(" \\frac{1}{2} ") == "\\frac{1}{2}"
    assert benchmarks.normalize_gold(["9.6\n"]) == "9.6"    # Minerva one-item list
    assert benchmarks.normalize_gold(["$3$", "$5$ "]) == ["$3$", "$5$"]  # several alternatives stay a list


@pytest.mark.skipif(not BENCH_DIR.is_dir(), reason="../shared/data/benchmarks is not beside the checkout")
def test_every_registered_benchmark_loads_from_the_shared_files():
    sizes = {"aime24": 30, "aime25": 30, "amc": 83, "amc23": 40, "math500": 500, "minerva": 272, "olympiadbench": 675}
    for name, size in sizes.items():
        problems = benchmarks.load(benchmarks.REGISTRY[name], str(BENCH_DIR))
        assert len(problems) == size, name
        assert all(p.question and p.gold not in (None, "", []) for p in problems), name
        assert [p.id for p in problems] == [str(i) for i in range(size)]
    aime25 = benchmarks.load(benchmarks.REGISTRY["aime25"], str(BENCH_DIR), limit=1)  # field `question`
    assert aime25[0].question.startswith("Find the sum of all integer bases") and aime25[0].gold == "70"
    assert benchmarks.load(benchmarks.REGISTRY["amc"], str(BENCH_DIR), limit=1)[0].gold == "142"


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
    assert (bench.name, p.question, p.gold) == ("mine", "1+1?", "2")


def test_verl_parquet_as_custom_benchmark(tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "val.parquet"
    pd.DataFrame([{"data_source": "x", "prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "q?"}],
                   "reward_model": {"style": "rule", "ground_truth": "3"}}]).to_parquet(path)
    (p,) = benchmarks.load(benchmarks.parse_specs(str(path))[0])
    assert (p.question, p.gold) == ("q?", "3")


def test_missing_local_file_says_how_to_use_data_dir(tmp_path):
    with pytest.raises(EvalError, match="--data-dir .* has no minerva.jsonl"):
        benchmarks.load(benchmarks.REGISTRY["minerva"], str(tmp_path))
