"""The settings of one ``pmpo-verl eval`` run: :class:`EvalOptions` is the one place that holds their defaults
and help texts; the command line (:mod:`.cli`) builds its options from them."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from ..option_field import option as _opt
from .benchmarks import PAPER_BENCHMARKS


@dataclass
class EvalOptions:
    model: str = field(metadata={"help": "HF model directory, hub id, or verl checkpoint "
                                         "(global_step_N/actor)"})
    benchmarks: str = _opt(",".join(PAPER_BENCHMARKS), "comma-separated benchmark names, or "
                           ".jsonl/.json/.parquet paths (default: the paper's five)")
    data_dir: str | None = _opt(None, "read <name>.jsonl from this directory instead of the hub")
    template: str = _opt("qwen_math", "prompt template")
    n: int = _opt(1, "samples per problem")
    temperature: float = _opt(0.0, "sampling temperature; 0 = greedy")
    top_p: float = _opt(1.0, "nucleus sampling top-p")
    max_tokens: int = _opt(3000, "max new tokens per sample")
    backend: str | None = _opt(None, "default: vllm when CUDA and vLLM are available, else hf (transformers)")
    limit: int | None = _opt(None, "first K problems of each benchmark")
    seed: int = _opt(0, "sampling seed")
    out: str = _opt("eval_out", "output directory; reruns resume")
    label: str | None = _opt(None, "row label in results.md (default: the run, <run dir>/global_step_N for a "
                             "verl checkpoint; a model directory's name; the hub id)")
    batch_size: int = _opt(8, "hf backend batch size")
    tensor_parallel_size: int = _opt(1, "vllm: GPUs per engine")
    data_parallel_size: int = _opt(1, "vllm: engines (one process each)")
    dtype: str = _opt("auto", "auto (bf16 on GPU, fp32 on CPU), bfloat16, float16, float32")
    device: str | None = _opt(None, "hf backend device (default cuda if available, else cpu)")
    gpu_memory_utilization: float = _opt(0.9, "vllm: share of GPU memory for the engine")
    max_model_len: int | None = _opt(None, "vllm: context length (default: the model's)")
    timeout: float = _opt(5.0, "verifier deadline per answer, seconds")
    workers: int | None = _opt(None, "verifier worker processes")
    cache_dir: str | None = _opt(None, "where merged verl checkpoints go (default: $PMPO_EVAL_MERGE_DIR, "
                                 "else ~/.cache/pmpo-verl/merged)")
    progress: bool = _opt(True, "progress bars")


def option_defaults(name: str) -> dict[str, Any]:
    """``default`` and ``help`` of field ``name`` for ``argparse.add_argument`` (the help names the
    default)."""
    f = next(f for f in fields(EvalOptions) if f.name == name)
    default = None if f.default is MISSING else f.default
    shown = "" if default is None or "default" in f.metadata["help"] else f" (default: {default})"
    return {"default": default, "help": f.metadata["help"] + shown}
