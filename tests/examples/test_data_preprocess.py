"""The data preparation scripts run offline on a few local rows and write parquet that verl's ``RLHFDataset``
loads with a tokenizer; ground truths are strings that ``reward.compute_score`` grades as intended."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import reward

REPO = Path(__file__).resolve().parents[2]
PREP = REPO / "examples" / "data_preprocess"
SHARED_BENCHMARKS = REPO.parent / "shared" / "data" / "benchmarks"
SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

BENCH_ROWS = {
    "aime24": [{"problem": "Find $x$ if $x+1=26$.", "answer": "025", "difficulty": 2.0},
               {"problem": "Compute $2^{10}$.", "answer": "1024", "difficulty": 1.0}],
    "amc": [{"problem": "What is $100+42$?", "answer": 142.0, "difficulty": 2.0},
            {"problem": "Half of 5?", "answer": 2.5, "difficulty": 1.0}],
    "math500": [{"problem": "Simplify $\\frac{2}{4}$.", "answer": "\\frac{1}{2}", "difficulty": 1.0}],
    "minerva": [{"problem": "Estimate the wavelength.", "answer": ["6630.65\n", "6630\n"]},
                {"problem": "Give the rate.", "answer": ["9.6\n", "9.6"]}],
    "olympiadbench": [{"problem": "How many moves?", "answer": ["$2$"]},
                      {"question": "Find all n.", "final_answer": ["$1$", "$3$"], "is_multiple_answer": True}],
}
MATH_ROWS = [
    {"problem": "Level three problem.", "level": "Level 3", "type": "Algebra",
     "solution": "So the answer is $\\boxed{\\frac{1}{\\sqrt{2}}}$."},
    {"problem": "Level one problem.", "level": "Level 1", "type": "Algebra", "solution": "$\\boxed{1}$"},
    {"problem": "Level five problem.", "level": "Level 5", "type": "Geometry",
     "solution": "First $\\boxed{1}$, then finally $\\boxed{ \\{1, 2\\} }$."},
    {"problem": "Simplify $\\frac{2}{4}$.", "level": "Level 4", "type": "Algebra", "solution": "$\\boxed{\\frac12}$"},
    {"problem": "No box here.", "level": "Level 4", "type": "Algebra", "solution": "It is 3."},
    {"problem": "Level  three   problem.", "level": "Level 3", "type": "Algebra", "solution": "$\\boxed{2}$"},
    {"problem": "Unknown level.", "level": "Level ?", "type": "Algebra", "solution": "$\\boxed{2}$"},
    {"problem": "Level four, fbox.", "level": "Level 4", "type": "Algebra", "solution": "$\\fbox{7}$"},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PREP / script), *args], check=False, capture_output=True, text=True,
                          timeout=120, cwd=REPO)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("prep")
    src = root / "bench"
    src.mkdir()
    for name, rows in BENCH_ROWS.items():
        write_jsonl(src / f"{name}.jsonl", rows)
    math_file = write_jsonl(root / "math.jsonl", MATH_ROWS)
    out = root / "out"
    proc = run("benchmarks.py", "--local-dir", str(src), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    proc = run("math_lvl3to5.py", "--local-file", str(math_file), "--exclude-file", str(src / "math500.jsonl"),
               "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "kept 3 problems" in proc.stderr and "MATH-500 1" in proc.stderr and "no boxed answer 1" in proc.stderr
    return out


def test_rows_follow_the_schema(prepared):
    train = pd.read_parquet(prepared / "math_lvl3to5_train.parquet")
    assert list(train.data_source.unique()) == ["pmpo/math"]
    assert [r["ground_truth"] for r in train.reward_model] == ["\\frac{1}{\\sqrt{2}}", "\\{1, 2\\}", "7"]
    assert [e["index"] for e in train.extra_info] == [0, 1, 2]
    assert train.prompt[0][0]["content"] == SYSTEM and train.prompt[0][0]["role"] == "system"
    assert train.prompt[0][1]["content"] == "Level three problem."

    golds = {}
    for name in BENCH_ROWS:
        df = pd.read_parquet(prepared / f"{name}.parquet")
        assert list(df.data_source.unique()) == [f"pmpo/{name}"]
        assert all(r["style"] == "rule" and isinstance(r["ground_truth"], str) for r in df.reward_model)
        assert [e["index"] for e in df.extra_info] == list(range(len(df)))
        golds[name] = [(r["ground_truth"], json.loads(e["answers"])) for r, e in zip(df.reward_model, df.extra_info)]
    assert golds["aime24"][0] == ("025", ["025"])
    assert golds["amc"] == [("142", ["142"]), ("2.5", ["2.5"])]
    assert golds["minerva"] == [("6630.65", ["6630.65", "6630"]), ("9.6", ["9.6"])]
    assert golds["olympiadbench"] == [("$2$", ["$2$"]), ("$1$, $3$", ["$1$, $3$"])]  # parts of one answer


def test_ground_truths_are_graded_by_the_reward(prepared):
    cases = {"aime24": "\\boxed{25}", "amc": "\\boxed{142}", "math500": "\\boxed{0.5}", "olympiadbench": "\\boxed{2}"}
    for name, response in cases.items():
        df = pd.read_parquet(prepared / f"{name}.parquet")
        row = df.iloc[0]
        score = reward.compute_score(row.data_source, response, row.reward_model["ground_truth"], dict(row.extra_info))
        assert score["score"] == 1.0, (name, score)
    df = pd.read_parquet(prepared / "amc.parquet")
    assert reward.compute_score("pmpo/amc", "\\boxed{143}", df.reward_model[0]["ground_truth"])["score"] == 0.0
    # a second acceptable answer lives only in extra_info.answers (a JSON string in parquet): still accepted
    row = pd.read_parquet(prepared / "minerva.parquet").iloc[0]
    extra = dict(row.extra_info)
    assert isinstance(extra["answers"], str)
    assert reward.compute_score(row.data_source, "\\boxed{6630}", row.reward_model["ground_truth"], extra)["acc"]


def _tiny_tokenizer(tmp_path: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([SYSTEM, "Find the value of x. Level three problem. system user assistant"], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=specials[1:])
    fast.chat_template = CHATML
    fast.save_pretrained(tmp_path / "tok")  # the same round trip verl's hf_tokenizer does
    return PreTrainedTokenizerFast.from_pretrained(tmp_path / "tok")


def test_rlhf_dataset_loads_train_and_validation(prepared, tmp_path):
    from omegaconf import OmegaConf
    from verl.utils.dataset.rl_dataset import RLHFDataset

    tokenizer = _tiny_tokenizer(tmp_path)
    config = OmegaConf.create({"max_prompt_length": 1024, "filter_overlong_prompts": True, "truncation": "error",
                               "cache_dir": str(tmp_path / "cache"), "filter_overlong_prompts_workers": 1})
    train = RLHFDataset(str(prepared / "math_lvl3to5_train.parquet"), tokenizer, config)
    assert len(train) == 3
    item = train[0]
    assert item["data_source"] == "pmpo/math" and item["index"] == 0
    assert item["reward_model"]["ground_truth"] == "\\frac{1}{\\sqrt{2}}"
    assert item["raw_prompt"][0]["content"] == SYSTEM

    # verl concatenates the validation files: their schemas must agree
    val_files = [str(prepared / f"{name}.parquet") for name in BENCH_ROWS]
    val = RLHFDataset(val_files, tokenizer, config)
    assert len(val) == sum(len(rows) for rows in BENCH_ROWS.values())
    assert {val[i]["data_source"] for i in range(len(val))} == {f"pmpo/{n}" for n in BENCH_ROWS}
    rendered = tokenizer.apply_chat_template(val[0]["raw_prompt"], add_generation_prompt=True, tokenize=False)
    assert rendered.startswith("<|im_start|>system\n" + SYSTEM) and rendered.endswith("<|im_start|>assistant\n")


def test_r1d_template_has_no_system_message(tmp_path):
    src = tmp_path / "bench"
    src.mkdir()
    write_jsonl(src / "aime24.jsonl", BENCH_ROWS["aime24"])
    proc = run("benchmarks.py", "--local-dir", str(src), "--benchmarks", "aime24", "--template", "r1d",
               "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    prompt = pd.read_parquet(tmp_path / "out" / "aime24.parquet").prompt[0]
    assert len(prompt) == 1 and prompt[0]["role"] == "user" and prompt[0]["content"].endswith(SYSTEM)


@pytest.mark.parametrize("script, args, message", [
    ("benchmarks.py", ["--local-dir", "/nonexistent"], "is not a directory"),
    ("benchmarks.py", ["--local-dir", "{empty}"], "missing input file(s)"),
    ("benchmarks.py", ["--local-dir", "{empty}", "--benchmarks", "gsm8k"], "unknown benchmark"),
    ("math_lvl3to5.py", ["--local-file", "/nonexistent.jsonl", "--no-exclude"], "missing input file(s)"),
    ("math_lvl3to5.py", ["--local-file", "{math}", "--exclude-file", "/nonexistent.jsonl"], "--exclude-file not found"),
    ("math_lvl3to5.py", ["--local-file", "{bad}", "--no-exclude"], "row has no level field"),
])
def test_missing_inputs_give_clear_errors(tmp_path, script, args, message):
    (tmp_path / "empty").mkdir()
    write_jsonl(tmp_path / "math.jsonl", MATH_ROWS)
    write_jsonl(tmp_path / "bad.jsonl", [{"problem": "p", "solution": "$\\boxed{1}$"}])
    paths = {"{empty}": str(tmp_path / "empty"), "{math}": str(tmp_path / "math.jsonl"),
             "{bad}": str(tmp_path / "bad.jsonl")}
    proc = run(script, *[paths.get(a, a) for a in args], "--output-dir", str(tmp_path / "out"))
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("script", ["benchmarks.py", "math_lvl3to5.py"])
def test_hub_unreachable_gives_a_clear_error(tmp_path, script):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    proc = subprocess.run([sys.executable, str(PREP / script), "--output-dir", str(tmp_path / "out")], env=env,
                          check=False, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "from the Hugging Face hub" in lines[0] and "--local" in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not SHARED_BENCHMARKS.is_dir(), reason="../shared/data/benchmarks is not beside the checkout")
def test_shared_benchmark_files_convert_completely(tmp_path):
    proc = run("benchmarks.py", "--local-dir", str(SHARED_BENCHMARKS), "--output-dir", str(tmp_path))
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr
    sizes = {n: len(pd.read_parquet(tmp_path / f"{n}.parquet")) for n in BENCH_ROWS}
    assert sizes == {"aime24": 30, "amc": 83, "math500": 500, "minerva": 272, "olympiadbench": 675}
