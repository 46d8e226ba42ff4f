"""`pmpo-verl check --gpu`: the GPU-node preflight's verdicts on faked facts, and one real run on this machine."""

import dataclasses
import importlib.metadata as md
import subprocess
import sys

import pytest

from pmpo_verl import cli, gpu_check
from pmpo_verl.gpu_check import Device, Facts, evaluate, expected_versions, run_gpu_check
from pmpo_verl.plugin_check import PluginStatus


def healthy(**changes) -> Facts:
    """The facts of a node that is ready for an FSDP or Megatron run."""
    expected = {**gpu_check.FALLBACK_EXPECTED, **gpu_check.MEGATRON_EXPECTED}
    facts = Facts(
        versions={
            "torch": "2.11.0+cu130", "vllm": "0.24.0", "transformers": "5.9.0", "flash-attn": "2.8.3",
            "ray": "2.60.0", "verl": "0.9.1", "transformer-engine": "2.16.1", "megatron-core": "0.18.0",
            "megatron-bridge": "0.5.1",
        },
        devices=[Device("NVIDIA H100 80GB HBM3", (9, 0))] * 8,
        cuda_error=None,
        torch_cuda="13.0",
        nccl="2.28.9",
        import_errors={name: None for name in gpu_check.IMPORTS},
        plugin=PluginStatus("0.9.1", True, True, None),
        expected=expected,
    )
    return dataclasses.replace(facts, **changes)


def with_version(name, version) -> Facts:
    facts = healthy()
    return dataclasses.replace(facts, versions={**facts.versions, name: version})


def lines(facts, engine="fsdp"):
    return {r.item: r for r in evaluate(facts, engine)}


@pytest.mark.parametrize("engine", ["fsdp", "megatron"])
def test_a_healthy_node_passes(engine, capsys):
    assert run_gpu_check(engine, healthy()) == 0
    out = capsys.readouterr().out.splitlines()
    assert out and all(line.startswith("ok   ") for line in out), out
    assert "ok   cuda devices: 8: NVIDIA H100 80GB HBM3 (sm_90)" in out[0]
    assert any(line.startswith("ok   torch: 2.11.0+cu130 (CUDA 13.0)") for line in out)


@pytest.mark.parametrize("facts, item, detail, fix", [
    (with_version("torch", "2.10.0"), "torch", "2.10.0 installed, ==2.11.0 required", "pip install torch==2.11.0"),
    (healthy(torch_cuda=None), "torch", "is a CPU build", "pip install torch==2.11.0"),
    (healthy(torch_cuda="12.8"), "torch", "built for CUDA 12.8", "CUDA 13 build"),
    (with_version("vllm", None), "vllm", "not installed (==0.24.0 wanted)", "pip install vllm==0.24.0"),
    (with_version("flash-attn", None), "flash-attn", "not installed", "bash scripts/install_gpu.sh"),
    (healthy(import_errors={"flash-attn": "ImportError: flash_attn_2_cuda.cpython-311-x86_64-linux-gnu.so: "
                            "undefined symbol: _ZN3c104cuda9SetDeviceEa"}),
     "flash-attn", "`import flash_attn_2_cuda` fails: ImportError", "--no-build-isolation"),
    (healthy(devices=[], cuda_error="torch.cuda.is_available() is False"), "cuda devices", "no CUDA device visible",
     "run on a GPU node"),
    (healthy(devices=[Device("Tesla V100-SXM2-32GB", (7, 0))]), "cuda devices", "compute capability >= 8.0", "Ampere"),
    (healthy(nccl=None), "nccl", "torch has no NCCL", "CUDA build of torch"),
    (with_version("transformers", "5.6.0"), "transformers", "5.6.0 installed, !=5.6.0", "transformers==5.9.0"),
    (with_version("verl", "0.8.0"), "verl", "0.8.0, pmpo-verl needs 0.9.1", "pip install verl==0.9.1"),
    (healthy(plugin=PluginStatus("0.9.1", False, False, "Traceback ...\nModuleNotFoundError: No module named 'x'")),
     "pmpo plugin", "No module named 'x'", "pip install pmpo-verl"),
])
def test_each_broken_item_fails_with_a_fix(facts, item, detail, fix, capsys):
    result = lines(facts)[item]
    assert result.level == "FAIL" and detail in result.detail and fix in result.fix, result
    assert result.line().startswith(f"FAIL {item}: ") and "; fix: " in result.line()
    assert run_gpu_check("fsdp", facts) == 1
    assert result.line() in capsys.readouterr().out.splitlines()


def test_off_pin_transformers_only_warns():
    result = lines(with_version("transformers", "5.10.4"))["transformers"]
    assert result.level == "warn" and "==5.9.0" in result.detail
    assert run_gpu_check("fsdp", with_version("transformers", "5.10.4")) == 0


def test_transformer_engine_is_required_only_for_megatron():
    facts = with_version("transformer-engine", None)
    assert lines(facts, "fsdp")["transformer-engine"].level == "ok"
    assert "only --engine megatron" in lines(facts, "fsdp")["transformer-engine"].detail
    assert "megatron-core" not in lines(facts, "fsdp")
    result = lines(facts, "megatron")["transformer-engine"]
    assert result.level == "FAIL" and result.fix == "bash scripts/install_gpu.sh --engine megatron"
    assert run_gpu_check("fsdp", facts) == 0 and run_gpu_check("megatron", facts) == 1


@pytest.mark.parametrize("name", ["transformer-engine", "megatron-core", "megatron-bridge"])
def test_megatron_import_errors_fail(name):
    facts = healthy(import_errors={name: "ModuleNotFoundError: No module named 'transformer_engine_torch'"})
    result = lines(facts, "megatron")[name]
    assert result.level == "FAIL" and "fails: ModuleNotFoundError" in result.detail


def test_expected_versions_come_from_verl_metadata():
    """The fallback is verl 0.9.1's own pins, so the installed metadata and the fallback agree."""
    assert expected_versions(md.requires("verl")) == gpu_check.FALLBACK_EXPECTED
    assert expected_versions(None) == gpu_check.FALLBACK_EXPECTED
    moved = expected_versions(
        ['torch==2.12.0; extra == "vllm"', "ray[default]>=2.50", 'vllm==0.25.0; extra == "sglang"']
    )
    assert moved["torch"].required == "==2.12.0" and moved["ray"].required == ">=2.50"
    assert moved["vllm"] == gpu_check.FALLBACK_EXPECTED["vllm"]  # sglang is not the GPU path's extra


def test_cli_wires_the_flags(monkeypatch):
    seen = []
    monkeypatch.setattr(gpu_check, "gather_facts", lambda engine: seen.append(engine) or healthy())
    assert cli.main(["check", "--gpu"]) == 0
    assert cli.main(["check", "--gpu", "--engine", "megatron"]) == 0
    assert seen == ["fsdp", "megatron"]
    with pytest.raises(SystemExit):
        cli.main(["check", "--gpu", "--engine", "deepspeed"])


def test_building_the_parser_imports_neither_torch_nor_verl():
    code = ("import sys; from pmpo_verl.cli import build_parser; build_parser(); "
            "print('torch' in sys.modules, 'verl' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_real_run_on_this_cpu_machine_fails_cleanly():
    """No GPU here: exit 1 with a 'no CUDA device' line, no traceback."""
    out = subprocess.run([sys.executable, "-m", "pmpo_verl.cli", "check", "--gpu"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith("FAIL cuda devices: no CUDA device visible") and "; fix: run on a GPU node" in first
    assert all(line[:5] in ("ok   ", "warn ", "FAIL ") for line in out.stdout.splitlines()), out.stdout
