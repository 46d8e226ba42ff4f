"""``--template r1d`` is the prompt the R1-Distill recipes train with: the training parquet's ``prompt`` messages
(``pmpo_verl.prompts.chat_messages(problem, "r1d")``, written by examples/data_preprocess) rendered by the
tokenizer's chat template, as verl renders them (``apply_chat_template(messages, add_generation_prompt=True)``)."""

import importlib.util
from pathlib import Path

import pytest

from pmpo_verl.evaluation import templates
from pmpo_verl.evaluation.errors import EvalError
from pmpo_verl.prompts import chat_messages

PMPO_DATA = Path(__file__).resolve().parents[2] / "examples" / "data_preprocess" / "_pmpo_data.py"
PROBLEMS = ["What is $1+1$?", "Find $x$ if $2x = 6$.\nGive an integer.", "Compute \\frac{1}{2} + 3."]


def load_pmpo_data():
    spec = importlib.util.spec_from_file_location("_pmpo_data_under_test", PMPO_DATA)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("problem", PROBLEMS)
def test_r1d_prompt_is_the_training_prompt(tiny_model, tmp_path, problem):
    import pandas as pd
    from transformers import AutoTokenizer

    data = load_pmpo_data()
    tok = AutoTokenizer.from_pretrained(tiny_model)
    # the row as the data script writes it to the training parquet, read back
    pd.DataFrame([data.make_row("pmpo/math", problem, ["2"], 0, "train", "r1d")]).to_parquet(tmp_path / "t.parquet")
    messages = [dict(m) for m in pd.read_parquet(tmp_path / "t.parquet")["prompt"][0]]
    assert messages == chat_messages(problem, "r1d")
    trained = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert templates.render("r1d", problem, tok) == trained
    # and the same token ids: eval tokenizes chat-template text without adding special tokens
    assert not templates.adds_special_tokens("r1d")
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    assert tok(trained, add_special_tokens=False)["input_ids"] == list(ids)


def test_r1d_is_an_accepted_name_and_needs_a_chat_template(tiny_model):
    from transformers import AutoTokenizer

    assert "r1d" in templates.TEMPLATES
    tok = AutoTokenizer.from_pretrained(tiny_model)
    assert templates.render("r1d", "Q?", tok) == templates.render("chat", "Q?", tok)
    tok.chat_template = None
    with pytest.raises(EvalError, match="chat template"):
        templates.render("r1d", "Q?", tok)
