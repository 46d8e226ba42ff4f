"""GPU-node preflight: ``pmpo-verl check --gpu [--engine fsdp|megatron]``.

Run it on every node before a job. It checks what a first real run needs and verl only finds out minutes
into the run: visible CUDA devices, NCCL, the versions verl 0.9.1 pins for its GPU path, that flash-attn
(the attention verl's FSDP actor loads models with by default) and, for Megatron, TransformerEngine,
Megatron-Core and Megatron-Bridge really import, and that ``import verl`` registers the PMPO plugin.

:func:`gather_facts` is the only function that looks at the environment; :func:`evaluate` turns the facts
into one :class:`Result` per item, so every verdict is testable without a GPU. Expected versions come from
the installed verl's metadata (:func:`expected_versions`); :data:`FALLBACK_EXPECTED` (verl 0.9.1's pins, kept
equal to its metadata by a test) applies where verl is not installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from . import VERL_VERSION
from .plugin_check import PluginStatus, probe_plugin

ENGINES = ("fsdp", "megatron")
INSTALL_HINT = "bash scripts/install_gpu.sh"  # the README's GPU install command
# verl extras whose pins make up the FSDP + vLLM stack (flash-attn is pinned in the third).
GPU_EXTRAS = ("vllm", "fsdp", "flash-attn-cu130torch211")


@dataclass(frozen=True)
class Expect:
    """A version must satisfy ``required`` (a PEP 440 specifier; FAIL otherwise) and should match
    ``recommended``, the narrower pin of the GPU extras (warn otherwise)."""

    required: str
    recommended: str | None = None

    @property
    def wanted(self) -> str:
        return self.recommended or self.required


# verl 0.9.1's METADATA: torch, vllm and transformers pins of its `vllm` extra, flash-attn of
# `flash-attn-cu130torch211`, the transformers and ray ranges unconditional.
FALLBACK_EXPECTED: dict[str, Expect] = {
    "torch": Expect("==2.11.0"),
    "vllm": Expect("==0.24.0"),
    "transformers": Expect("!=5.6.0,<5.11,>=5.5.3", "==5.9.0"),
    "flash-attn": Expect("==2.8.3"),
    "ray": Expect(">=2.41.0"),
}
# The Megatron stack of pmpo-verl[megatron] (pyproject.toml; a test keeps them equal).
MEGATRON_EXPECTED: dict[str, Expect] = {
    "transformer-engine": Expect("", "==2.16.1"),
    "megatron-core": Expect("", "==0.18.0"),
    "megatron-bridge": Expect(""),
}
CUDA_MAJOR = 13  # torch 2.11.0 and vllm 0.24.0 on PyPI are CUDA 13.0 builds
MIN_CAPABILITY = (8, 0)  # flash-attn 2 runs on Ampere or newer
# Modules that must import (flash_attn_2_cuda is flash-attn's compiled extension).
IMPORTS: dict[str, tuple[str, ...]] = {
    "flash-attn": ("flash_attn", "flash_attn_2_cuda"),
    "transformer-engine": ("transformer_engine.pytorch",),
    "megatron-core": ("megatron.core",),
    "megatron-bridge": ("megatron.bridge",),
}


@dataclass(frozen=True)
class Device:
    name: str
    capability: tuple[int, int]


@dataclass
class Facts:
    """Everything the verdicts depend on."""

    versions: dict[str, str | None]  # distribution -> installed version (None: not installed)
    devices: list[Device]
    cuda_error: str | None  # why no device is visible (torch missing, a driver warning, ...)
    torch_cuda: str | None  # torch.version.cuda (None: a CPU build)
    nccl: str | None  # the NCCL version torch is built with (None: no NCCL)
    import_errors: dict[str, str | None]  # key of IMPORTS -> first line of its import error (None: imports)
    plugin: PluginStatus
    expected: dict[str, Expect]


@dataclass(frozen=True)
class Result:
    level: str  # "ok", "warn" or "FAIL"
    item: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.level:<4} {self.item}: {self.detail}"
        return f"{text}; fix: {self.fix}" if self.level == "FAIL" else text


def expected_versions(requires: Iterable[str] | None) -> dict[str, Expect]:
    """Expected versions from verl's ``Requires-Dist`` lines (``importlib.metadata.requires("verl")``).

    An unconditional requirement is ``required`` and a GPU extra's pin ``recommended``; without an
    unconditional one, the pin is ``required``. Names verl does not constrain keep their fallback."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    base: dict[str, str] = {}
    pinned: dict[str, str] = {}
    for line in requires or ():
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        name = canonicalize_name(req.name)
        if name not in FALLBACK_EXPECTED or not str(req.specifier):
            continue
        if req.marker is None:
            base[name] = str(req.specifier)
        elif any(req.marker.evaluate({"extra": extra}) for extra in GPU_EXTRAS):
            pinned.setdefault(name, str(req.specifier))
    expected = dict(FALLBACK_EXPECTED)
    for name in FALLBACK_EXPECTED:
        if name in base:
            expected[name] = Expect(base[name], pinned.get(name))
        elif name in pinned:
            expected[name] = Expect(pinned[name])
    return expected


def _satisfies(version: str, spec: str) -> bool:
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:  # the local label (2.11.0+cu130) does not matter here
        return Version(Version(version).public) in SpecifierSet(spec)
    except InvalidVersion:
        return False


def _package_result(facts: Facts, name: str, fix: str, rebuild: str = "") -> Result:
    """FAIL when ``name`` is missing, does not import or is outside its requirement; warn when off its pin."""
    version, expect = facts.versions.get(name), facts.expected[name]
    if version is None:
        wants = f" ({expect.wanted} wanted)" if expect.wanted else ""
        return Result("FAIL", name, f"not installed{wants}", fix)
    error = facts.import_errors.get(name)
    if error is not None:
        return Result(
            "FAIL", name, f"{version} installed but `import {IMPORTS[name][-1]}` fails: {error}", rebuild or fix
        )
    if not _satisfies(version, expect.required):
        return Result("FAIL", name, f"{version} installed, {expect.required} required", fix)
    if expect.recommended and not _satisfies(version, expect.recommended):
        return Result("warn", name, f"{version} installed, the GPU install pins {expect.recommended}")
    return Result("ok", name, version)


def _devices_result(facts: Facts) -> Result:
    if not facts.devices:
        return Result(
            "FAIL", "cuda devices", f"no CUDA device visible ({facts.cuda_error or 'torch.cuda.device_count() is 0'})",
            f"run on a GPU node; check nvidia-smi, CUDA_VISIBLE_DEVICES and that the driver supports CUDA {CUDA_MAJOR}",
        )
    names = ", ".join(f"{d.name} (sm_{d.capability[0]}{d.capability[1]})" for d in facts.devices)
    if any(d.capability < MIN_CAPABILITY for d in facts.devices):
        return Result(
            "FAIL", "cuda devices", f"{len(facts.devices)}: {names}; flash-attn 2 needs compute capability >= 8.0",
            "use Ampere or newer GPUs (A100, H100, ...)",
        )
    return Result("ok", "cuda devices", f"{len(facts.devices)}: {names}")


def _torch_result(facts: Facts) -> Result:
    fix = f"pip install torch{facts.expected['torch'].wanted} (a CUDA {CUDA_MAJOR} build), or {INSTALL_HINT}"
    result = _package_result(facts, "torch", fix)
    if result.level == "FAIL":
        return result
    if facts.torch_cuda is None:
        return Result("FAIL", "torch", f"{result.detail} is a CPU build (torch.version.cuda is None)", fix)
    if facts.torch_cuda.split(".")[0] != str(CUDA_MAJOR):
        detail = f"{result.detail} is built for CUDA {facts.torch_cuda}, vllm's wheel for CUDA {CUDA_MAJOR}"
        return Result("FAIL", "torch", detail, fix)
    return Result(result.level, "torch", f"{result.detail} (CUDA {facts.torch_cuda})")


def _plugin_result(status: PluginStatus) -> Result:
    if status.ok:
        return Result("ok", "pmpo plugin", "import verl registered loss_mode=pmpo and adv_estimator=pmpo")
    error = (status.error or "the entry point was not loaded (is VERL_USE_EXTERNAL_PLUGINS=none set?)").strip()
    return Result(
        "FAIL", "pmpo plugin", f"import verl did not register it: {error.splitlines()[-1]}",
        "pip install pmpo-verl on this node; `pmpo-verl check` prints the whole error",
    )


def evaluate(facts: Facts, engine: str = "fsdp") -> list[Result]:
    """One result per item, in a fixed order. The Megatron stack FAILs only for ``engine="megatron"``;
    for FSDP, TransformerEngine is reported for information."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {ENGINES}")
    nvcc = f"needs nvcc {CUDA_MAJOR}.x"
    flash = facts.expected["flash-attn"].wanted
    results = [
        _devices_result(facts),
        Result("ok", "nccl", f"NCCL {facts.nccl}") if facts.nccl else Result(
            "FAIL", "nccl", "torch has no NCCL (torch.distributed.is_nccl_available() is False)",
            f"install a CUDA build of torch (its wheels bundle NCCL), e.g. with {INSTALL_HINT}",
        ),
        _torch_result(facts),
        _package_result(facts, "vllm", f"pip install vllm{facts.expected['vllm'].wanted}, or {INSTALL_HINT}"),
        _package_result(
            facts, "flash-attn", f"{INSTALL_HINT} (compiles flash-attn against the installed torch; {nvcc})",
            rebuild="rebuild it against the installed torch: FLASH_ATTENTION_FORCE_BUILD=TRUE pip install "
            f"--no-build-isolation --no-deps --force-reinstall 'flash-attn{flash}' ({nvcc})",
        ),
        _package_result(facts, "transformers", f"pip install 'transformers{facts.expected['transformers'].wanted}'"),
        _package_result(facts, "ray", f"pip install 'ray[default]{facts.expected['ray'].required}'"),
    ]
    verl = facts.versions.get("verl")
    results.append(
        Result("ok", "verl", verl)
        if verl == VERL_VERSION
        else Result(
            "FAIL",
            "verl",
            f"{verl or 'not installed'}, pmpo-verl needs {VERL_VERSION}",
            f"pip install verl=={VERL_VERSION}",
        )
    )
    if engine == "megatron":
        fix = f"{INSTALL_HINT} --engine megatron"
        results += [_package_result(facts, name, fix) for name in MEGATRON_EXPECTED]
    else:
        te = facts.versions.get("transformer-engine")
        results.append(Result("ok", "transformer-engine", f"{te or 'not installed'} (only --engine megatron needs it)"))
    results.append(_plugin_result(facts.plugin))
    return results


def _import_error(modules: Sequence[str]) -> str | None:
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # a broken build raises ImportError, OSError, ...
            message = str(exc).strip().splitlines()
            return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
    return None


def _version(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def gather_facts(engine: str = "fsdp") -> Facts:
    """Collect the facts in this interpreter (imports torch); a missing or broken package is a fact, not an error."""
    try:
        expected = expected_versions(md.requires("verl"))
    except md.PackageNotFoundError:
        expected = dict(FALLBACK_EXPECTED)
    expected.update(MEGATRON_EXPECTED)
    versions = {name: _version(name) for name in [*expected, "verl"]}
    devices: list[Device] = []
    cuda_error = torch_cuda = nccl = None
    try:
        import torch

        with warnings.catch_warnings(record=True) as caught:  # e.g. "The NVIDIA driver on your system is too old"
            warnings.simplefilter("always")
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        devices = [
            Device(torch.cuda.get_device_name(i), tuple(torch.cuda.get_device_capability(i))) for i in range(count)
        ]
        if not devices:
            cuda_error = "; ".join(str(w.message).strip() for w in caught) or "torch.cuda.is_available() is False"
        torch_cuda = torch.version.cuda
        if torch.distributed.is_available() and torch.distributed.is_nccl_available():
            version = torch.cuda.nccl.version()
            nccl = ".".join(map(str, version)) if isinstance(version, tuple) else str(version)
    except Exception as exc:  # no torch, or a CUDA setup that raises: report it
        cuda_error = f"{type(exc).__name__}: {exc}"
    probed = ["flash-attn", *(MEGATRON_EXPECTED if engine == "megatron" else ())]
    import_errors = {name: _import_error(IMPORTS[name]) for name in probed if versions[name] is not None}
    return Facts(versions, devices, cuda_error, torch_cuda, nccl, import_errors, probe_plugin(), expected)


def run_gpu_check(engine: str = "fsdp", facts: Facts | None = None) -> int:
    """Print one line per item; return 1 if any item FAILed, else 0."""
    results = evaluate(gather_facts(engine) if facts is None else facts, engine)
    for result in results:
        print(result.line(), flush=True)
    return 1 if any(r.level == "FAIL" for r in results) else 0
