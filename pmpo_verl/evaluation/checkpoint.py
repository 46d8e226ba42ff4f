"""Resolve ``--model``: a Hugging Face directory or hub id is used as is; a verl checkpoint
(``.../global_step_N/actor``, ``.../global_step_N`` or the checkpoint root) is merged once with
``python -m verl.model_merger merge`` into a cache directory, which later runs reuse."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from typing import Callable, Optional

from . import hub
from .errors import EvalError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "pmpo-verl", "merged")
MERGED_MARKER = ".pmpo_merged"


def _is_hf_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "config.json"))


def _has_weights(path: str) -> bool:
    return any(f.endswith((".safetensors", ".bin")) for f in os.listdir(path))


def _latest_step(root: str) -> Optional[str]:
    tracker = os.path.join(root, "latest_checkpointed_iteration.txt")
    if os.path.isfile(tracker):
        with open(tracker, encoding="utf-8") as fh:
            step = fh.read().strip()
        if os.path.isdir(os.path.join(root, f"global_step_{step}")):
            return os.path.join(root, f"global_step_{step}")
    steps = [(int(m.group(1)), d) for d in os.listdir(root) if (m := re.fullmatch(r"global_step_(\d+)", d))]
    return os.path.join(root, max(steps)[1]) if steps else None


def find_actor_dir(path: str) -> Optional[str]:
    """The ``actor`` directory of a verl checkpoint given the actor dir, a step dir or the root; else None."""
    if os.path.basename(os.path.normpath(path)) == "actor" or os.path.isfile(os.path.join(path, "fsdp_config.json")) \
            or os.path.isdir(os.path.join(path, "dist_ckpt")):
        return path
    if os.path.isdir(os.path.join(path, "actor")):
        return os.path.join(path, "actor")
    step = _latest_step(path)
    if step is not None and os.path.isdir(os.path.join(step, "actor")):
        return os.path.join(step, "actor")
    return None


def merge_command(actor_dir: str, target_dir: str) -> list[str]:
    backend = "megatron" if os.path.isdir(os.path.join(actor_dir, "dist_ckpt")) else "fsdp"
    return [sys.executable, "-m", "verl.model_merger", "merge", "--backend", backend,
            "--local_dir", actor_dir, "--target_dir", target_dir]


def _run_merger(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise EvalError(f"verl checkpoint merge failed ({' '.join(cmd[1:])}): {tail[0][:300]}")


def cache_dir_for(actor_dir: str, cache_root: str) -> str:
    real = os.path.realpath(actor_dir)
    stamp = max((os.path.getmtime(os.path.join(real, f)) for f in os.listdir(real)), default=0.0)
    key = hashlib.sha1(f"{real}|{stamp}".encode()).hexdigest()[:16]
    return os.path.join(cache_root, key)


def merge_verl_checkpoint(actor_dir: str, cache_root: str = DEFAULT_CACHE,
                          runner: Callable[[list[str]], None] = _run_merger) -> str:
    """Merge once: ``<cache_root>/<hash of path+mtime>`` is reused when its marker file exists."""
    hf_sub = os.path.join(actor_dir, "huggingface")
    if os.path.isdir(hf_sub) and _is_hf_dir(hf_sub) and _has_weights(hf_sub):  # saved with save_contents=hf_model
        return hf_sub
    target = cache_dir_for(actor_dir, cache_root)
    if os.path.isfile(os.path.join(target, MERGED_MARKER)):
        return target
    tmp = target + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    print(f"merging verl checkpoint {actor_dir} -> {target} (once)", file=sys.stderr)
    runner(merge_command(actor_dir, tmp))
    if not _is_hf_dir(tmp):
        raise EvalError(f"verl checkpoint merge of {actor_dir} produced no config.json in {tmp}")
    with open(os.path.join(tmp, MERGED_MARKER), "w") as fh:
        fh.write(os.path.realpath(actor_dir) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


def resolve_model(model: str, cache_root: Optional[str] = None,
                  runner: Callable[[list[str]], None] = _run_merger) -> str:
    """A local HF directory, a merged verl checkpoint directory, or a hub id (returned unchanged)."""
    if os.path.isdir(model):
        if _is_hf_dir(model):
            return model
        actor = find_actor_dir(model)
        if actor is not None:
            return merge_verl_checkpoint(actor, cache_root or DEFAULT_CACHE, runner)
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
