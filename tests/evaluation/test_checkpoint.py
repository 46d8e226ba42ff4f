"""Model resolution: HF directories as is, verl checkpoints merged once into a cache directory."""

import os
import shutil

import pytest

from pmpo_verl.evaluation import checkpoint
from pmpo_verl.evaluation.errors import EvalError


def make_verl_ckpt(root, tiny_model, steps=(2, 5)):
    """FSDP layout (verl 0.9.1 fsdp_checkpoint_manager.py): shards, fsdp_config.json, huggingface/ config+tokenizer."""
    for s in steps:
        actor = root / f"global_step_{s}" / "actor"
        (actor / "huggingface").mkdir(parents=True)
        (actor / "fsdp_config.json").write_text('{"FSDP_version": 2, "world_size": 1}')
        (actor / "model_world_size_1_rank_0.pt").write_text("x")
        for name in os.listdir(tiny_model):
            if not name.endswith(".safetensors"):
                shutil.copy(os.path.join(tiny_model, name), actor / "huggingface" / name)
    (root / "latest_checkpointed_iteration.txt").write_text(str(max(steps)))
    return root


def test_hf_dir_and_errors(tmp_path, tiny_model):
    assert checkpoint.resolve_model(tiny_model) == tiny_model
    with pytest.raises(EvalError, match="does not exist"):
        checkpoint.resolve_model(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvalError, match="neither a Hugging Face model"):
        checkpoint.resolve_model(str(tmp_path / "empty"))


def test_verl_checkpoint_is_merged_once(tmp_path, tiny_model):
    root = make_verl_ckpt(tmp_path / "ckpts", tiny_model)
    calls = []

    def fake_merger(cmd):  # stands in for `python -m verl.model_merger merge ...`
        calls.append(cmd)
        assert cmd[1:6] == ["-m", "verl.model_merger", "merge", "--backend", "fsdp"]
        shutil.copytree(tiny_model, cmd[cmd.index("--target_dir") + 1])

    cache = str(tmp_path / "cache")
    for given in (str(root), str(root / "global_step_5"), str(root / "global_step_5" / "actor")):
        out = checkpoint.resolve_model(given, cache, runner=fake_merger)
        assert os.path.isfile(os.path.join(out, "config.json")) and out.startswith(cache)
    assert len(calls) == 1  # the latest step, merged once, then reused
    assert calls[0][calls[0].index("--local_dir") + 1] == str(root / "global_step_5" / "actor")
    other = checkpoint.resolve_model(str(root / "global_step_2"), cache, runner=fake_merger)
    assert len(calls) == 2 and other != out


def test_failed_merge_is_a_clear_error(tmp_path, tiny_model):
    root = make_verl_ckpt(tmp_path / "ckpts", tiny_model, steps=(1,))

    def failing(cmd):
        raise EvalError("verl checkpoint merge failed (boom)")

    with pytest.raises(EvalError, match="merge failed"):
        checkpoint.resolve_model(str(root), str(tmp_path / "cache"), runner=failing)
    assert not any(os.scandir(tmp_path / "cache")) or all(
        not os.path.isfile(os.path.join(e.path, checkpoint.MERGED_MARKER)) for e in os.scandir(tmp_path / "cache"))


def test_real_verl_merge_of_an_fsdp_checkpoint(tmp_path, tiny_model):
    """`python -m verl.model_merger merge --backend fsdp` on a world-size-1 FSDP checkpoint of the tiny model
    (plain tensors, as verl writes unsharded entries; config and tokenizer in actor/huggingface/)."""
    import json

    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    actor = tmp_path / "ckpts" / "global_step_7" / "actor"
    (actor / "huggingface").mkdir(parents=True)
    torch.save(model.state_dict(), actor / "model_world_size_1_rank_0.pt")
    (actor / "fsdp_config.json").write_text(json.dumps({"FSDP_version": 2, "world_size": 1}))
    for name in os.listdir(tiny_model):
        if not name.endswith(".safetensors"):
            shutil.copy(os.path.join(tiny_model, name), actor / "huggingface" / name)
    merged = checkpoint.resolve_model(str(tmp_path / "ckpts"), str(tmp_path / "cache"))
    assert os.path.isfile(os.path.join(merged, checkpoint.MERGED_MARKER))
    again = AutoModelForCausalLM.from_pretrained(merged)
    for key, value in model.state_dict().items():  # the merger writes bfloat16
        assert torch.equal(again.state_dict()[key].to(torch.bfloat16), value.to(torch.bfloat16)), key
    assert checkpoint.resolve_model(str(actor), str(tmp_path / "cache"), runner=None) == merged  # cached, no rerun
    from pmpo_verl.evaluation.runner import default_label

    label = f"{tmp_path.name}/global_step_7"  # the run: the folder above the generic "ckpts"
    assert default_label(str(tmp_path / "ckpts")) == default_label(str(actor)) == label
