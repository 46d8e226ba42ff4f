"""Resolve ``--model``: a Hugging Face directory or hub id is used as is; a verl checkpoint
(``.../global_step_N/actor``, ``.../global_step_N`` or the checkpoint root, meaning its latest step) is turned
into a Hugging Face directory: its HF export is used directly when it holds weights, otherwise the sharded
weights are merged once with ``python -m verl.model_merger merge`` into a cache directory that later runs reuse.

verl 0.9.1's trainer (``trainer/ppo/v1/trainer_base.py::_save_checkpoint``) saves the actor to
``<trainer.default_local_dir>/global_step_N/actor`` through the engine's checkpoint manager and then writes
``latest_checkpointed_iteration.txt`` at the root. What lands in ``actor/`` depends on the engine and on
``actor_rollout_ref.actor.checkpoint.save_contents`` (default ``['model', 'optimizer', 'extra']``); these are the
layouts :func:`detect_layout` recognises (:class:`Layout`):

``FSDP`` -- ``utils/checkpoint/fsdp_checkpoint_manager.py`` (FSDP/FSDP2 engine): per rank
    ``model_world_size_W_rank_R.pt`` (``'model'``), ``optim_...``/``extra_state_...`` (``'optimizer'``,
    ``'extra'``), ``fsdp_config.json`` (``{"FSDP_version", "world_size"}``) and ``huggingface/`` with config and
    tokenizer, always; with ``'hf_model'`` also the full model's weights in ``huggingface/``. Used directly when
    ``huggingface/`` holds weights, else merged with ``--backend fsdp --local_dir <actor>`` (the merger reads
    ``fsdp_config.json``'s ``world_size``, every rank's model file and ``huggingface/``'s config and tokenizer:
    ``model_merger/fsdp_model_merger.py``, ``base_model_merger.py``).
``FSDP_LEGACY`` -- the same files without ``fsdp_config.json`` (verl before that file existed). 0.9.1's merger
    refuses it (``fsdp_config.json does not exist``), so it is merged from a staged copy of links to the shards and
    ``huggingface/`` plus an ``fsdp_config.json`` carrying the world size of the shard file names.
``MEGATRON_V2`` -- ``utils/checkpoint/megatron_checkpoint_manager.py`` (layout schema v2): ``model/huggingface/``
    (config, tokenizer and, through mbridge, the HF weights whenever ``'hf_model'`` is saved, or ``'model'`` with
    ``use_dist_checkpointing=False``, the engine's default), ``model/dist_ckpt/`` (Megatron shards of the model
    with ``use_dist_checkpointing=True``; created empty otherwise), ``optimizer/dist_ckpt/``, ``extra/dist_ckpt/``,
    ``transformer_config.json`` and ``ckpt_contents.json`` (written last). The HF export is used directly; without
    one, a non-empty ``model/dist_ckpt/`` is merged with ``--backend megatron --local_dir <actor>`` (the merger
    loads ``model/dist_ckpt`` and reads config and tokenizer from ``model/huggingface``:
    ``model_merger/megatron_model_merger.py::merge_and_save``,
    ``base_model_merger.py::_default_hf_model_config_path``).
``MEGATRON_V1`` -- the pre-v2 Megatron layout of older verl: one ``dist_ckpt/`` archive (optimizer and rng
    shards, and the model's when it was saved as Megatron shards) and ``huggingface/`` (config, tokenizer, and HF
    weights when saved through mbridge) directly in ``actor/``. ``huggingface/`` with weights is used directly;
    otherwise 0.9.1's merger, which only reads the v2 paths, runs on a staged v2 view (``model/dist_ckpt`` and
    ``model/huggingface`` linking to the old directories: what verl's
    ``scripts/migrate_megatron_checkpoint_layout.py --mode symlink`` does in place; the loader is key-driven and
    ignores the optimizer and rng entries).

A checkpoint without usable weights (no HF weights and no model shards, or shards without the config the merger
needs) is an :class:`EvalError` naming the layout, what is missing and how to save it.
"""

from __future__ import annotations

import enum
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from . import hub
from .errors import EvalError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "pmpo-verl", "merged")
MERGE_DIR_ENV = "PMPO_EVAL_MERGE_DIR"  # where merges go when --cache-dir is not given (default DEFAULT_CACHE)
MERGED_MARKER = ".pmpo_merged"
FSDP_SHARD = re.compile(r"model_world_size_(\d+)_rank_(\d+)\.pt")
SAVE_CONTENTS = "actor_rollout_ref.actor.checkpoint.save_contents"

Runner = Callable[[list[str]], None]


class Layout(enum.Enum):
    """The verl actor-checkpoint layouts (see the module docstring for the files each one holds)."""

    FSDP = "FSDP checkpoint"
    FSDP_LEGACY = "FSDP checkpoint (legacy, no fsdp_config.json)"
    MEGATRON_V2 = "Megatron checkpoint (layout v2)"
    MEGATRON_V1 = "Megatron checkpoint (layout v1)"


@dataclass(frozen=True)
class VerlCheckpoint:
    """A detected actor checkpoint: its layout and the paths that matter for evaluation."""

    layout: Layout
    actor_dir: str
    hf_dir: str  # where verl writes config and tokenizer, and the HF weights when it exports them
    shards: str | None = None  # the model shards the merger reads: the FSDP actor dir or a dist_ckpt dir
    world_size: int | None = None  # FSDP
    missing_shards: tuple[str, ...] = field(default=())  # FSDP rank files absent from a partial save

    @property
    def hf_has_config(self) -> bool:
        return _is_hf_dir(self.hf_dir)

    @property
    def hf_has_weights(self) -> bool:
        return self.hf_has_config and _has_weights(self.hf_dir)


def _is_hf_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "config.json"))


def _has_weights(path: str) -> bool:
    return any(f.endswith((".safetensors", ".bin")) for f in os.listdir(path))


def _non_empty_dir(path: str) -> bool:
    return os.path.isdir(path) and any(os.scandir(path))


def _latest_step(root: str) -> str | None:
    tracker = os.path.join(root, "latest_checkpointed_iteration.txt")
    if os.path.isfile(tracker):
        with open(tracker, encoding="utf-8") as fh:
            step = fh.read().strip()
        if os.path.isdir(os.path.join(root, f"global_step_{step}")):
            return os.path.join(root, f"global_step_{step}")
    steps = [(int(m.group(1)), d) for d in os.listdir(root) if (m := re.fullmatch(r"global_step_(\d+)", d))]
    return os.path.join(root, max(steps)[1]) if steps else None


def _looks_like_actor(path: str) -> bool:
    if os.path.basename(os.path.normpath(path)) == "actor":
        return True
    names = set(os.listdir(path))
    return bool(names & {"fsdp_config.json", "ckpt_contents.json", "dist_ckpt"}) or any(
        FSDP_SHARD.fullmatch(n) for n in names)


def find_actor_dir(path: str) -> str | None:
    """The ``actor`` directory of a verl checkpoint given the actor dir, a step dir or the root; else None."""
    if _looks_like_actor(path):
        return path
    if os.path.isdir(os.path.join(path, "actor")):
        return os.path.join(path, "actor")
    step = _latest_step(path)
    if step is not None and os.path.isdir(os.path.join(step, "actor")):
        return os.path.join(step, "actor")
    return None


def _fsdp_world_size(actor_dir: str, names: list[str]) -> int | None:
    config = os.path.join(actor_dir, "fsdp_config.json")
    if os.path.isfile(config):
        try:
            with open(config, encoding="utf-8") as fh:
                size = json.load(fh).get("world_size")
            if isinstance(size, int) and size > 0:
                return size
        except (OSError, ValueError, AttributeError):
            pass
    sizes = sorted({int(m.group(1)) for n in names if (m := FSDP_SHARD.fullmatch(n))})
    return sizes[-1] if sizes else None


def detect_layout(actor_dir: str) -> VerlCheckpoint:
    """Which verl layout ``actor_dir`` is (checked in this order: Megatron v2, FSDP, Megatron v1) and its paths.

    Raises :class:`EvalError` when the directory matches none of them.
    """
    names = os.listdir(actor_dir)
    path = lambda *parts: os.path.join(actor_dir, *parts)  # noqa: E731
    if "ckpt_contents.json" in names or any(os.path.isdir(path(d)) for d in ("model", "optimizer", "extra")):
        dist = path("model", "dist_ckpt")  # created empty by verl when it holds nothing
        return VerlCheckpoint(Layout.MEGATRON_V2, actor_dir, path("model", "huggingface"),
                              shards=dist if _non_empty_dir(dist) else None)
    shard_files = [n for n in names if FSDP_SHARD.fullmatch(n)]
    v1_dist = path("dist_ckpt")
    flat_hf_only = os.path.isdir(path("huggingface")) and not os.path.isdir(v1_dist)
    if "fsdp_config.json" in names or shard_files or flat_hf_only:
        layout = Layout.FSDP if "fsdp_config.json" in names else Layout.FSDP_LEGACY
        size = _fsdp_world_size(actor_dir, names)
        if not shard_files or size is None:
            return VerlCheckpoint(layout, actor_dir, path("huggingface"), world_size=size)
        missing = tuple(f for f in (f"model_world_size_{size}_rank_{r}.pt" for r in range(size)) if f not in names)
        return VerlCheckpoint(layout, actor_dir, path("huggingface"), shards=actor_dir, world_size=size,
                              missing_shards=missing)
    if os.path.isdir(v1_dist) or "transformer_config.json" in names:
        return VerlCheckpoint(Layout.MEGATRON_V1, actor_dir, path("huggingface"),
                              shards=v1_dist if _non_empty_dir(v1_dist) else None)
    raise EvalError(f"{actor_dir} is not a verl actor checkpoint this tool knows: none of fsdp_config.json, "
                    "model_world_size_*_rank_*.pt, huggingface/ (FSDP), model/, optimizer/, extra/, ckpt_contents.json "
                    "(Megatron, layout v2) or dist_ckpt/ (Megatron, layout v1)")


def _how_to_save(layout: Layout) -> str:
    if layout in (Layout.MEGATRON_V2, Layout.MEGATRON_V1):
        return (f"save with {SAVE_CONTENTS} containing 'hf_model' (an HF model in model/huggingface, used as is), "
                "or 'model' with actor_rollout_ref.actor.megatron.use_dist_checkpointing=False (verl's default, "
                "same export)")
    return (f"save with {SAVE_CONTENTS} containing 'model' (sharded weights, merged here) or 'hf_model' "
            "(an HF model in huggingface/, used as is)")


def _check_mergeable(ckpt: VerlCheckpoint) -> None:
    """Raise a clear :class:`EvalError` unless the merger has what it reads for this layout."""
    where = f"{ckpt.layout.value} at {ckpt.actor_dir}"
    hf_rel = os.path.relpath(ckpt.hf_dir, ckpt.actor_dir)
    if ckpt.layout is Layout.MEGATRON_V2 and os.path.isfile(os.path.join(ckpt.hf_dir, "adapter",
                                                                          "adapter_config.json")):
        raise EvalError(f"{where} holds a LoRA adapter only ({hf_rel}/adapter), no full model: merge it into the "
                        "base model (e.g. with peft) and pass that directory as --model")
    if ckpt.shards is None:
        if ckpt.layout is Layout.MEGATRON_V2:
            what = "no HF export in model/huggingface and no dist_ckpt in model/dist_ckpt"
        elif ckpt.layout is Layout.MEGATRON_V1:
            what = "no HF weights in huggingface/ and no dist_ckpt/"
        else:
            what = "no HF weights in huggingface/ and no model_world_size_*_rank_*.pt shards"
        raise EvalError(f"{where} has {what}; {_how_to_save(ckpt.layout)}")
    if ckpt.missing_shards:
        raise EvalError(f"{where} is incomplete: missing {', '.join(ckpt.missing_shards[:4])}"
                        f"{' ...' if len(ckpt.missing_shards) > 4 else ''} (world size {ckpt.world_size}); "
                        "the save was probably interrupted, use another step")
    if not ckpt.hf_has_config:
        raise EvalError(f"{where} has model shards but no config.json in {hf_rel}/ (the merger reads the model "
                        f"config and tokenizer from there): copy the base model's config.json and tokenizer files "
                        f"into {ckpt.hf_dir}, or {_how_to_save(ckpt.layout)}")


def _tie_word_embeddings(hf_dir: str) -> bool:
    try:
        with open(os.path.join(hf_dir, "config.json"), encoding="utf-8") as fh:
            return bool(json.load(fh).get("tie_word_embeddings", False))
    except (OSError, ValueError, AttributeError):
        return False


def merge_command(ckpt: VerlCheckpoint, local_dir: str, target_dir: str) -> list[str]:
    """``python -m verl.model_merger merge`` for ``ckpt``, reading ``local_dir`` (the actor dir or a staged view)."""
    megatron = ckpt.layout in (Layout.MEGATRON_V2, Layout.MEGATRON_V1)
    cmd = [sys.executable, "-m", "verl.model_merger", "merge", "--backend", "megatron" if megatron else "fsdp",
           "--local_dir", local_dir, "--target_dir", target_dir]
    if megatron and _tie_word_embeddings(ckpt.hf_dir):
        cmd.append("--tie-word-embedding")
    return cmd


def _stage(ckpt: VerlCheckpoint, staging: str) -> str:
    """The directory to give the merger as ``--local_dir``: the actor dir itself for the current layouts, else a
    staged view (links into the checkpoint, which is never modified) in the layout 0.9.1's merger reads."""
    if ckpt.layout in (Layout.FSDP, Layout.MEGATRON_V2):
        return ckpt.actor_dir
    shutil.rmtree(staging, ignore_errors=True)
    if ckpt.layout is Layout.MEGATRON_V1:
        os.makedirs(os.path.join(staging, "model"))
        os.symlink(os.path.realpath(ckpt.shards), os.path.join(staging, "model", "dist_ckpt"))
        os.symlink(os.path.realpath(ckpt.hf_dir), os.path.join(staging, "model", "huggingface"))
        return staging
    os.makedirs(staging)  # FSDP_LEGACY
    for name in os.listdir(ckpt.actor_dir):
        if FSDP_SHARD.fullmatch(name) or name in ("huggingface", "lora_train_meta.json"):
            os.symlink(os.path.realpath(os.path.join(ckpt.actor_dir, name)), os.path.join(staging, name))
    with open(os.path.join(staging, "fsdp_config.json"), "w", encoding="utf-8") as fh:
        json.dump({"world_size": ckpt.world_size}, fh)
    return staging


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a missing parent package
        return False


def _run_merger(cmd: list[str]) -> None:
    if "megatron" in cmd and not _importable("megatron.core"):
        raise EvalError("merging a Megatron dist_ckpt needs megatron-core (the verl merger imports megatron.core), "
                        f"which is not installed here; or {_how_to_save(Layout.MEGATRON_V2)}")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise EvalError(f"verl checkpoint merge failed ({' '.join(cmd[1:])}): {tail[0][:300]}")


def cache_dir_for(actor_dir: str, cache_root: str) -> str:
    real = os.path.realpath(actor_dir)
    stamp = max((os.path.getmtime(os.path.join(real, f)) for f in os.listdir(real)), default=0.0)
    key = hashlib.sha1(f"{real}|{stamp}".encode()).hexdigest()[:16]
    return os.path.join(cache_root, key)


def model_dir_for(ckpt: VerlCheckpoint, cache_root: str = DEFAULT_CACHE, runner: Runner | None = None) -> str:
    """The HF model directory for a detected checkpoint: its HF export when that holds weights, else the merge
    into ``<cache_root>/<hash of path+mtime>`` (run once; reused while its marker file exists)."""
    if ckpt.hf_has_weights:
        if ckpt.layout is Layout.MEGATRON_V2 and not os.path.isfile(os.path.join(ckpt.actor_dir, "ckpt_contents.json")):
            print(f"warning: {ckpt.actor_dir} has no ckpt_contents.json (verl writes it last): the save may be "
                  "incomplete", file=sys.stderr)
        return ckpt.hf_dir
    _check_mergeable(ckpt)
    target = cache_dir_for(ckpt.actor_dir, cache_root)
    if os.path.isfile(os.path.join(target, MERGED_MARKER)):
        print(f"using the merge of {ckpt.actor_dir} in {target}", file=sys.stderr)
        return target
    tmp, staging = target + ".partial", target + ".staging"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    print(f"merging the {ckpt.layout.value} at {ckpt.actor_dir} into {target} (once, reused by later runs; "
          f"--cache-dir DIR or {MERGE_DIR_ENV}=DIR choose where merges go)", file=sys.stderr)
    try:
        (runner or _run_merger)(merge_command(ckpt, _stage(ckpt, staging), tmp))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not _is_hf_dir(tmp):
        raise EvalError(f"verl checkpoint merge of {ckpt.actor_dir} produced no config.json in {tmp}")
    with open(os.path.join(tmp, MERGED_MARKER), "w") as fh:
        fh.write(os.path.realpath(ckpt.actor_dir) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


def resolve_model(model: str, cache_root: str | None = None, runner: Runner | None = None) -> str:
    """A local HF directory, the HF directory of a verl checkpoint (its export or a cached merge into
    ``cache_root``, else ``$PMPO_EVAL_MERGE_DIR``, else :data:`DEFAULT_CACHE`), or a hub id (returned
    unchanged)."""
    if os.path.isdir(model):
        if _is_hf_dir(model):
            return model
        actor = find_actor_dir(model)
        if actor is not None:
            root = cache_root or os.environ.get(MERGE_DIR_ENV) or DEFAULT_CACHE
            return model_dir_for(detect_layout(actor), root, runner)
        if re.fullmatch(r"global_step_\d+", os.path.basename(os.path.normpath(model))):
            raise EvalError(f"verl step directory {model!r} has no actor/ (verl deletes the actor/ of older steps "
                            "when trainer.max_actor_ckpt_to_keep is set): evaluate a step that still has one")
        raise EvalError(f"model directory {model!r} is neither a Hugging Face model (no config.json) "
                        "nor a verl checkpoint (no global_step_N/actor)")
    if os.path.exists(model):
        raise EvalError(f"model path {model!r} is not a directory")
    if HUB_ID.match(model) and not model.startswith((".", "~")):
        if not hub.offline() and not hub.resolves():
            raise EvalError(f"model {model!r} is not a local directory and the Hugging Face hub is unreachable "
                            "(give a local model directory, or set HF_HUB_OFFLINE=1 to use a cached copy)")
        return model
    raise EvalError(f"model {model!r} does not exist (give a Hugging Face model directory, a hub id "
                    "such as Qwen/Qwen2.5-Math-7B, or a verl checkpoint directory)")
