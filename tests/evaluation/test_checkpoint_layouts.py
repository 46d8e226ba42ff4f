"""Every actor-checkpoint layout verl 0.9.1 writes (and the older ones its merger can be made to read), built as
real directories of the tiny model, through ``checkpoint.resolve_model`` / ``pmpo-verl eval``.

Layouts (files as verl 0.9.1 writes them):
- FSDP: ``utils/checkpoint/fsdp_checkpoint_manager.py::save_checkpoint`` (model_world_size_W_rank_R.pt,
  fsdp_config.json, huggingface/ with config+tokenizer, + weights with save_contents 'hf_model').
- Megatron v2: ``utils/checkpoint/megatron_checkpoint_manager.py::save_checkpoint`` with the path helpers of
  ``utils/megatron_utils.py`` (which create model/huggingface, model/dist_ckpt, optimizer/dist_ckpt and
  extra/dist_ckpt even when nothing is written there).
- Megatron v1 (older verl): dist_ckpt/ and huggingface/ directly in actor/.
"""

import importlib.util
import json
import os
import shutil

import pytest

from pmpo_verl.cli import main
from pmpo_verl.evaluation import checkpoint
from pmpo_verl.evaluation.errors import EvalError


def copy_hf(tiny_model, dest, weights):
    """The tiny model's config and tokenizer files into ``dest`` (and its safetensors when ``weights``)."""
    os.makedirs(dest, exist_ok=True)
    for name in os.listdir(tiny_model):
        if weights or not name.endswith(".safetensors"):
            shutil.copy(os.path.join(tiny_model, name), os.path.join(dest, name))


def fake_torch_dist(path, *, what):
    """A non-empty dist_checkpointing directory (torch_dist writes .metadata, metadata.json and *.distcp)."""
    os.makedirs(path, exist_ok=True)
    (path / ".metadata").write_bytes(b"\x00")
    (path / "metadata.json").write_text('{"sharded_backend": "torch_dist"}')
    (path / "__0_0.distcp").write_text(what)


def megatron_v2(root, tiny_model, *, step=3, hf="weights", dist_ckpt=False, manifest=True, adapter=False):
    """``global_step_N/actor`` as verl 0.9.1's MegatronCheckpointManager leaves it.

    hf="weights": mbridge HF export (defaults: save_contents model/optimizer/extra, use_dist_checkpointing=False);
    hf="config": config and tokenizer only; hf=None: model/huggingface created empty (use_dist_checkpointing=True
    without 'hf_model'). dist_ckpt: Megatron model shards in model/dist_ckpt (else that directory is empty).
    """
    actor = root / f"global_step_{step}" / "actor"
    for sub in ("model/huggingface", "model/dist_ckpt", "optimizer/dist_ckpt", "extra/dist_ckpt"):
        os.makedirs(actor / sub)
    if hf is not None:
        copy_hf(tiny_model, actor / "model" / "huggingface", weights=(hf == "weights"))
    if adapter:
        (actor / "model" / "huggingface" / "adapter").mkdir()
        (actor / "model" / "huggingface" / "adapter" / "adapter_config.json").write_text("{}")
    if dist_ckpt:
        fake_torch_dist(actor / "model" / "dist_ckpt", what="model shards")
    fake_torch_dist(actor / "optimizer" / "dist_ckpt", what="optimizer")
    fake_torch_dist(actor / "extra" / "dist_ckpt", what="rng")
    (actor / "transformer_config.json").write_text('{"num_layers": 2}')
    if manifest:
        contents = {"transformer_config": {"path": "transformer_config.json", "format": "json"}}
        if hf == "weights":
            contents["model"] = {"path": "model/huggingface", "format": "huggingface", "backend": "mbridge"}
        if dist_ckpt:
            contents["model"] = {"path": "model/dist_ckpt", "format": "megatron_dist_checkpoint"}
        (actor / "ckpt_contents.json").write_text(json.dumps({
            "schema_version": 2, "framework": "megatron", "role": "actor", "global_step": step,
            "backend": {"has_bridge": True, "use_dist_checkpointing": dist_ckpt, "peft": adapter},
            "save_contents": ["model", "optimizer", "extra"], "contents": contents}))
    (root / "latest_checkpointed_iteration.txt").write_text(str(step))
    return actor


def megatron_v1(root, tiny_model, *, hf_weights):
    """The pre-v2 Megatron layout: one dist_ckpt/ archive and huggingface/ directly in actor/."""
    actor = root / "global_step_4" / "actor"
    fake_torch_dist(actor / "dist_ckpt", what="model + optimizer + rng")
    copy_hf(tiny_model, actor / "huggingface", weights=hf_weights)
    (actor / "transformer_config.json").write_text('{"num_layers": 2}')
    (root / "latest_checkpointed_iteration.txt").write_text("4")
    return actor


def real_fsdp_actor(actor, tiny_model, *, fsdp_config=True):
    """A world-size-1 FSDP checkpoint of the tiny model (plain tensors, as verl writes unsharded entries)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    copy_hf(tiny_model, actor / "huggingface", weights=False)
    torch.save(model.state_dict(), actor / "model_world_size_1_rank_0.pt")
    if fsdp_config:
        (actor / "fsdp_config.json").write_text(json.dumps({"FSDP_version": 2, "world_size": 1}))
    return model


def arg(cmd, flag):
    return cmd[cmd.index(flag) + 1]


def no_merge(cmd):
    raise AssertionError(f"no merge expected, got {cmd}")


def copying_merger(tiny_model, calls, check=None):
    def run(cmd):  # stands in for `python -m verl.model_merger merge ...`
        calls.append(cmd)
        if check is not None:
            check(cmd)
        shutil.copytree(tiny_model, arg(cmd, "--target_dir"))
    return run


# --- Megatron, layout v2 --------------------------------------------------------------------------------------


def test_megatron_v2_hf_export_is_evaluated_end_to_end_without_merge(tmp_path, tiny_model, data_dir, monkeypatch):
    root = tmp_path / "ckpts"
    actor = megatron_v2(root, tiny_model)
    monkeypatch.setattr(checkpoint, "_run_merger", no_merge)
    cache, out = tmp_path / "cache", tmp_path / "out"
    rc = main(["eval", "--model", str(root), "--benchmarks", "aime24", "--data-dir", str(data_dir), "--backend", "hf",
               "--limit", "1", "--max-tokens", "4", "--out", str(out), "--cache-dir", str(cache), "--no-progress",
               "--workers", "1", "--template", "r1d"])
    assert rc == 0
    assert not cache.exists()  # nothing merged, nothing cached
    rows = [json.loads(line) for line in (out / "samples" / "aime24.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and 1 <= rows[0]["n_tokens"] <= 4
    assert rows[0]["prompt"].startswith("<|im_start|>user\n")  # r1d: the chat template, no system message
    assert rows[0]["prompt"].endswith("within \\boxed{}.<|im_end|>\n<|im_start|>assistant\n")
    assert f"| {tmp_path.name}/global_step_3 |" in (out / "results.md").read_text()  # "ckpts" names no run
    for given in (root, root / "global_step_3", actor):
        assert checkpoint.resolve_model(str(given), str(cache)) == str(actor / "model" / "huggingface")
    ckpt = checkpoint.detect_layout(str(actor))
    assert ckpt.layout is checkpoint.Layout.MEGATRON_V2 and ckpt.hf_dir == str(actor / "model" / "huggingface")


def test_megatron_v2_dist_ckpt_is_merged_with_the_megatron_backend(tmp_path, tiny_model):
    """model/dist_ckpt shards with config+tokenizer in model/huggingface: the merger's --local_dir is the actor dir
    (it loads <local_dir>/model/dist_ckpt and reads <local_dir>/model/huggingface)."""
    actor = megatron_v2(tmp_path / "ckpts", tiny_model, hf="config", dist_ckpt=True)
    calls = []

    def check(cmd):
        assert cmd[1:6] == ["-m", "verl.model_merger", "merge", "--backend", "megatron"]
        local = arg(cmd, "--local_dir")
        assert local == str(actor)
        assert os.path.isfile(os.path.join(local, "model", "dist_ckpt", ".metadata"))
        assert os.path.isfile(os.path.join(local, "model", "huggingface", "config.json"))
        assert "--tie-word-embedding" in cmd  # the tiny model ties its embeddings

    cache = str(tmp_path / "cache")
    out = checkpoint.resolve_model(str(tmp_path / "ckpts"), cache, runner=copying_merger(tiny_model, calls, check))
    assert out.startswith(cache) and os.path.isfile(os.path.join(out, checkpoint.MERGED_MARKER))
    assert checkpoint.resolve_model(str(actor), cache, runner=no_merge) == out and len(calls) == 1


def test_megatron_v2_dist_ckpt_without_hf_config_is_a_clear_error(tmp_path, tiny_model):
    """use_dist_checkpointing=True without 'hf_model': verl leaves model/huggingface empty, the merger cannot run."""
    megatron_v2(tmp_path / "ckpts", tiny_model, hf=None, dist_ckpt=True)
    with pytest.raises(EvalError, match=r"Megatron checkpoint \(layout v2\) at .* has model shards but no "
                                        r"config.json in model/huggingface/ .*copy the base model's config.json"):
        checkpoint.resolve_model(str(tmp_path / "ckpts"), str(tmp_path / "cache"), runner=no_merge)


def test_megatron_v2_without_any_weights_names_what_is_missing(tmp_path, tiny_model):
    megatron_v2(tmp_path / "ckpts", tiny_model, hf="config", dist_ckpt=False)
    with pytest.raises(EvalError, match=r"Megatron checkpoint \(layout v2\) at .* has no HF export in "
                                        r"model/huggingface and no dist_ckpt in model/dist_ckpt; save with "
                                        r"actor_rollout_ref.actor.checkpoint.save_contents containing 'hf_model'"):
        checkpoint.resolve_model(str(tmp_path / "ckpts"), str(tmp_path / "cache"), runner=no_merge)


def test_megatron_v2_lora_adapter_only_is_a_clear_error(tmp_path, tiny_model):
    megatron_v2(tmp_path / "ckpts", tiny_model, hf="config", dist_ckpt=True, adapter=True)
    with pytest.raises(EvalError, match=r"Megatron checkpoint \(layout v2\) .* LoRA adapter only"):
        checkpoint.resolve_model(str(tmp_path / "ckpts"), str(tmp_path / "cache"), runner=no_merge)


def megatron_core_installed():
    try:
        return importlib.util.find_spec("megatron.core") is not None
    except ImportError:
        return False


@pytest.mark.skipif(megatron_core_installed(), reason="megatron-core is installed: the real merger would run")
def test_megatron_merge_without_megatron_core_says_so(tmp_path, tiny_model):
    megatron_v2(tmp_path / "ckpts", tiny_model, hf="config", dist_ckpt=True)
    with pytest.raises(EvalError, match="needs megatron-core"):
        checkpoint.resolve_model(str(tmp_path / "ckpts"), str(tmp_path / "cache"))


# --- Megatron, layout v1 (older verl) -------------------------------------------------------------------------


def test_megatron_v1_hf_weights_are_used_directly(tmp_path, tiny_model):
    actor = megatron_v1(tmp_path / "ckpts", tiny_model, hf_weights=True)
    assert checkpoint.resolve_model(str(tmp_path / "ckpts"), str(tmp_path / "cache"), runner=no_merge) == str(
        actor / "huggingface")
    assert checkpoint.detect_layout(str(actor)).layout is checkpoint.Layout.MEGATRON_V1


def test_megatron_v1_dist_ckpt_is_merged_through_a_v2_view(tmp_path, tiny_model):
    """0.9.1's merger reads only model/dist_ckpt and model/huggingface: it gets a staged view linking to the old
    directories; the checkpoint itself is not modified."""
    actor = megatron_v1(tmp_path / "ckpts", tiny_model, hf_weights=False)
    before = sorted(os.listdir(actor))
    calls = []

    def check(cmd):
        assert cmd[4:6] == ["--backend", "megatron"]
        local = arg(cmd, "--local_dir")
        assert local != str(actor)
        assert os.path.realpath(os.path.join(local, "model", "dist_ckpt")) == os.path.realpath(actor / "dist_ckpt")
        assert os.path.isfile(os.path.join(local, "model", "huggingface", "config.json"))

    cache = tmp_path / "cache"
    out = checkpoint.resolve_model(str(tmp_path / "ckpts"), str(cache), runner=copying_merger(tiny_model, calls, check))
    assert len(calls) == 1 and os.path.isfile(os.path.join(out, checkpoint.MERGED_MARKER))
    assert sorted(os.listdir(actor)) == before and not (actor / "model").exists()
    assert sorted(os.listdir(cache)) == [os.path.basename(out)]  # the staged view is gone


# --- FSDP -----------------------------------------------------------------------------------------------------


def test_fsdp_hf_model_export_is_used_directly(tmp_path, tiny_model):
    """save_contents with 'hf_model': huggingface/ holds the full model beside the shards."""
    actor = tmp_path / "ckpts" / "global_step_2" / "actor"
    actor.mkdir(parents=True)
    (actor / "fsdp_config.json").write_text(json.dumps({"FSDP_version": 2, "world_size": 1}))
    (actor / "model_world_size_1_rank_0.pt").write_bytes(b"x")
    copy_hf(tiny_model, actor / "huggingface", weights=True)
    assert checkpoint.resolve_model(str(tmp_path / "ckpts"), str(tmp_path / "cache"), runner=no_merge) == str(
        actor / "huggingface")


def test_legacy_fsdp_without_fsdp_config_is_merged_for_real(tmp_path, tiny_model):
    """Shards and huggingface/ but no fsdp_config.json (older verl): 0.9.1's merger needs that file, so it merges a
    staged view that adds it (world size from the shard names); the checkpoint is not modified."""
    import torch
    from transformers import AutoModelForCausalLM

    actor = tmp_path / "ckpts" / "global_step_9" / "actor"
    model = real_fsdp_actor(actor, tiny_model, fsdp_config=False)
    cache = tmp_path / "cache"
    merged = checkpoint.resolve_model(str(tmp_path / "ckpts"), str(cache))
    again = AutoModelForCausalLM.from_pretrained(merged)
    for key, value in model.state_dict().items():  # the merger writes bfloat16
        assert torch.equal(again.state_dict()[key].to(torch.bfloat16), value.to(torch.bfloat16)), key
    assert not (actor / "fsdp_config.json").exists() and sorted(os.listdir(cache)) == [os.path.basename(merged)]
    assert checkpoint.resolve_model(str(actor), str(cache), runner=no_merge) == merged
    assert checkpoint.detect_layout(str(actor)).layout is checkpoint.Layout.FSDP_LEGACY


def test_fsdp_incomplete_or_weightless_checkpoints_are_clear_errors(tmp_path, tiny_model):
    actor = tmp_path / "a" / "global_step_1" / "actor"
    actor.mkdir(parents=True)
    copy_hf(tiny_model, actor / "huggingface", weights=False)
    (actor / "fsdp_config.json").write_text(json.dumps({"FSDP_version": 2, "world_size": 2}))
    with pytest.raises(EvalError, match=r"FSDP checkpoint at .* has no HF weights in huggingface/ and no "
                                        r"model_world_size_\*_rank_\*.pt shards; save with .*'model'.*'hf_model'"):
        checkpoint.resolve_model(str(actor), str(tmp_path / "cache"), runner=no_merge)
    (actor / "model_world_size_2_rank_0.pt").write_bytes(b"x")
    with pytest.raises(EvalError, match=r"FSDP checkpoint at .* is incomplete: missing model_world_size_2_rank_1.pt"):
        checkpoint.resolve_model(str(actor), str(tmp_path / "cache"), runner=no_merge)


# --- not a known layout ---------------------------------------------------------------------------------------


def test_unknown_actor_layout_is_a_clear_error(tmp_path):
    actor = tmp_path / "run" / "global_step_1" / "actor"
    actor.mkdir(parents=True)
    (actor / "weights.npz").write_bytes(b"x")
    with pytest.raises(EvalError, match=r"is not a verl actor checkpoint this tool knows: none of fsdp_config.json"):
        checkpoint.resolve_model(str(tmp_path / "run"), str(tmp_path / "cache"), runner=no_merge)


def test_step_whose_actor_was_rotated_out_says_so(tmp_path, tiny_model):
    """trainer.max_actor_ckpt_to_keep deletes global_step_N/actor of older steps (data.pt stays)."""
    megatron_v2(tmp_path / "ckpts", tiny_model, step=6)
    old = tmp_path / "ckpts" / "global_step_3"
    old.mkdir()
    (old / "data.pt").write_bytes(b"x")
    with pytest.raises(EvalError, match=r"has no actor/ .*max_actor_ckpt_to_keep"):
        checkpoint.resolve_model(str(old), str(tmp_path / "cache"), runner=no_merge)
