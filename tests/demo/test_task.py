import pandas as pd

from pmpo_verl.demo.task import (
    DATA_SOURCE,
    SYSTEM_PROMPT,
    make_problems,
    split_problems,
    write_parquet,
)
from reward import compute_score


def test_problems_are_deterministic_and_correct():
    assert make_problems(50, seed=3) == make_problems(50, seed=3)
    assert make_problems(50, seed=3) != make_problems(50, seed=4)
    for p in make_problems(200, seed=0):
        assert p.answer == eval(f"{p.a} {p.op1} {p.b} {p.op2} {p.c}")
        assert compute_score(DATA_SOURCE, p.solution, str(p.answer))["acc"]
        assert not compute_score(DATA_SOURCE, p.solution, str(p.answer + 1))["acc"]
        # the warm start's unboxed variant: same worked steps, no \boxed{}, so the training reward is 0
        assert p.unboxed_solution.startswith(p.steps) and p.solution.startswith(p.steps)
        assert compute_score(DATA_SOURCE, p.unboxed_solution, str(p.answer))["score"] == 0.0


def test_train_and_val_are_disjoint():
    train, val = split_problems(300, 40, seed=0)
    assert len(val) == len(set(val)) == 40
    assert not set(train) & set(val)


def test_parquet_schema_matches_the_recipes(tmp_path):
    paths = write_parquet(str(tmp_path), n_train=16, n_val=4, seed=0)
    train = pd.read_parquet(paths["train"])
    assert set(train.columns) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    row = train.iloc[3]
    assert row["data_source"] == DATA_SOURCE and row["ability"] == "math"
    prompt = list(row["prompt"])
    assert prompt[0] == {"role": "system", "content": SYSTEM_PROMPT} and prompt[1]["role"] == "user"
    assert row["reward_model"]["style"] == "rule" and isinstance(row["reward_model"]["ground_truth"], str)
    assert row["extra_info"]["index"] == 3
    assert len(pd.read_parquet(paths["val"])) == 4


def test_verl_dataset_reads_it(tmp_path, tiny_model_dir):
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset

    paths = write_parquet(str(tmp_path), n_train=8, n_val=4, seed=0)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    cfg = OmegaConf.create(
        {"max_prompt_length": 96, "filter_overlong_prompts": False, "truncation": "error", "prompt_key": "prompt"}
    )
    ds = RLHFDataset(data_files=[paths["train"]], tokenizer=tok, config=cfg)
    assert len(ds) == 8
    item = ds[0]
    assert item["data_source"] == DATA_SOURCE


def test_warm_start_examples_end_with_eos(tiny_model_dir):
    from transformers import AutoTokenizer

    from pmpo_verl.demo.warmstart import encode_example

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    p = make_problems(1, seed=5)[0]
    for boxed, text in ((True, p.solution), (False, p.unboxed_solution)):
        prompt, response = encode_example(tok, p, boxed=boxed)
        assert tok.decode(response) == text + "<|im_end|>"
        assert tok.decode(prompt).endswith(f"{p.question}<|im_end|>\n<|im_start|>assistant\n")
