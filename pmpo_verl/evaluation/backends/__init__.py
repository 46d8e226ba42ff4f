"""Generation backends: vLLM (GPU) and transformers (CPU or GPU). Both take token-id requests and return
text, finish reason (``stop``: the model ended with EOS; ``length``: cut at --max-tokens) and token count."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import EvalError

BACKENDS = ("vllm", "hf")


@dataclass(frozen=True)
class Request:
    key: tuple  # (problem id, sample index)
    prompt_ids: tuple
    seed: int  # per-sample seed (used when sampling)


@dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 3000

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass(frozen=True)
class Generation:
    text: str
    finish_reason: str  # "stop" | "length"
    n_tokens: int


def cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


def vllm_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def choose(name: str | None) -> str:
    """``None`` means vLLM when CUDA and vLLM are available, else transformers; vLLM needs a GPU."""
    if name is None:
        return "vllm" if cuda_available() and vllm_installed() else "hf"
    if name not in BACKENDS:
        raise EvalError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    if name == "vllm":
        if not cuda_available():
            raise EvalError("--backend vllm needs a CUDA GPU and none is available; use --backend hf")
        if not vllm_installed():
            raise EvalError("--backend vllm needs vLLM: bash scripts/install_gpu.sh (README, \"GPU install\"), "
                          "or pip install vllm==0.24.0 for evaluation only; or use --backend hf")
    return name


def create(name: str, model_path: str, tokenizer, opts) -> object:
    """A backend with ``chunk_size`` and ``generate(requests, settings) -> list[Generation]``."""
    if name == "vllm":
        from .vllm_backend import VLLMBackend

        return VLLMBackend(model_path, tokenizer, tensor_parallel_size=opts.tensor_parallel_size,
                           data_parallel_size=opts.data_parallel_size, dtype=opts.dtype, seed=opts.seed,
                           gpu_memory_utilization=opts.gpu_memory_utilization, max_model_len=opts.max_model_len)
    from .hf_backend import HFBackend

    return HFBackend(model_path, tokenizer, dtype=opts.dtype, batch_size=opts.batch_size, device=opts.device)
