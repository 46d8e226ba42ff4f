"""Checks before the demo starts verl, each failing with a one-paragraph error (no traceback)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence

from .. import VERL_VERSION
from ..cpu_backend import requested_platform


class DemoError(RuntimeError):
    """A user-facing error: the CLI prints the message and exits 2."""


def check_verl_version(found: str | None = None) -> str:
    import importlib.metadata as md

    if found is None:
        try:
            found = md.version("verl")
        except md.PackageNotFoundError:
            raise DemoError(
                f"verl is not installed; pmpo-verl needs verl=={VERL_VERSION} (pip install -e '.[cpu]')."
            ) from None
    if found != VERL_VERSION:
        raise DemoError(
            f"pmpo-verl is built for verl=={VERL_VERSION}, but verl {found} is installed. The CPU backend and the "
            f"plugin code against 0.9.1's registries; install it with: pip install 'verl=={VERL_VERSION}'."
        )
    return found


GPU_ONLY_SETTINGS = {
    "trainer.device": ("cuda", "npu"),
    "actor_rollout_ref.rollout.name": ("vllm", "sglang", "trtllm"),
    "actor_rollout_ref.actor.strategy": ("fsdp", "megatron"),
    "model_engine": ("megatron",),
}


def check_cpu_settings(overrides: Iterable[str], cuda_available: bool | None = None) -> None:
    """Reject GPU-only settings (and more than one device) on a machine without CUDA."""
    if cuda_available is None:
        import torch

        cuda_available = torch.cuda.is_available()
    if cuda_available:
        return
    problems = []
    for ov in overrides:
        key, _, value = ov.lstrip("+~").partition("=")
        value = value.strip().strip("'\"").lower()
        if (
            key in GPU_ONLY_SETTINGS
            and value in GPU_ONLY_SETTINGS[key]
            or key in ("trainer.n_gpus_per_node", "trainer.nnodes")
            and value.isdigit()
            and int(value) > 1
        ):
            problems.append(f"{key}={value}")
    if requested_platform() not in ("", "cpu"):
        problems.append(f"VERL_PLATFORM={os.environ['VERL_PLATFORM']}")
    if problems:
        raise DemoError(
            "this machine has no CUDA device, but GPU settings were given: " + ", ".join(problems) + ". "
            "The CPU demo runs verl with VERL_PLATFORM=cpu, trainer.device=cpu, one (logical) device, "
            "actor_rollout_ref.rollout.name=hf and actor.strategy=fsdp2; drop these overrides, or run on a GPU "
            "machine with the overrides from `pmpo-verl overrides`."
        )


def check_main_ppo_command(command: Sequence[str], log: Callable[[str], None] = print) -> None:
    """The rules of ``pmpo-verl check --command`` (pmpo_verl.command_check) on the demo's ``main_ppo`` command,
    the user's extra overrides included: errors stop the demo, warnings are printed."""
    from ..command_check import check_command

    report = check_command(list(command))
    for finding in report.warnings:
        log(str(finding))
    if report.errors:
        raise DemoError(
            "the main_ppo command (with your extra overrides) has errors (the checks of `pmpo-verl check --command`):\n"
            + "\n".join(str(f) for f in report.errors)
        )


def check_model_path(path: str) -> str:
    if not os.path.isdir(path):
        raise DemoError(
            f"model path {path!r} does not exist (give a local Hugging Face model directory, "
            "or omit --model to build the tiny model)."
        )
    if not os.path.exists(os.path.join(path, "config.json")):
        raise DemoError(f"model path {path!r} has no config.json: it is not a Hugging Face model directory.")
    return path


def check_plugin(env: Mapping[str, str]) -> None:
    """``import verl`` (in a fresh interpreter, with the demo's environment) must register everything."""
    from ..plugin_check import probe_plugin

    status = probe_plugin(env=env)
    if status.verl_version is not None:
        check_verl_version(status.verl_version)
    if not status.ok:
        raise DemoError(
            "`import verl` did not register the PMPO plugin "
            f"(loss_mode=pmpo: {status.policy_loss}, adv_estimator=pmpo: {status.adv_estimator}); verl hides plugin "
            "import errors, the underlying error is:\n"
            + (status.error or "(none: is VERL_USE_EXTERNAL_PLUGINS=none set?)")
        )
    if not status.cpu_backend_ok:
        raise DemoError(
            "`import verl` with VERL_PLATFORM=cpu did not register the CPU backend "
            f"(cpu platform: {status.cpu_platform}, hf rollout: {status.hf_rollout}); verl hides plugin import errors, "
            "the underlying error is:\n" + (status.error or "(none)")
        )
