import json
import os

import torch
from safetensors.torch import load_file

from pmpo_verl.demo.tiny_model import EOS_TOKEN, build_tiny_model


def _state(d):
    return load_file(os.path.join(d, "model.safetensors"))


def test_deterministic_for_a_seed(tmp_path, tiny_model_dir):
    other = build_tiny_model(str(tmp_path / "again"), seed=0)
    a, b = _state(tiny_model_dir), _state(other)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    for name in ("tokenizer.json", "config.json"):
        with open(os.path.join(tiny_model_dir, name)) as f1, open(os.path.join(other, name)) as f2:
            assert json.load(f1) == json.load(f2)
    different = _state(build_tiny_model(str(tmp_path / "seed1"), seed=1))
    assert any(not torch.equal(a[k], different[k]) for k in a)


def test_qwen2_model_and_chatml_tokenizer(tiny_model_dir):
    from transformers import AutoConfig, AutoTokenizer

    cfg = AutoConfig.from_pretrained(tiny_model_dir)
    assert cfg.model_type == "qwen2"
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tok.eos_token == EOS_TOKEN and cfg.eos_token_id == tok.eos_token_id
    assert len(tok.encode("\n", add_special_tokens=False)) == 1  # what verl's Qwen handling expects
    text = tok.apply_chat_template(
        [{"role": "user", "content": "Compute 1 + 2 - 3."}], add_generation_prompt=True, tokenize=False
    )
    assert text == "<|im_start|>user\nCompute 1 + 2 - 3.<|im_end|>\n<|im_start|>assistant\n"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text  # byte-level: lossless
    assert tok.decode(tok("ünïcode ∑ \\boxed{-7}", add_special_tokens=False)["input_ids"]) == "ünïcode ∑ \\boxed{-7}"
    assert cfg.vocab_size == len(tok)
