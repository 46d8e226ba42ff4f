"""vLLM generation (imported lazily): tensor parallel inside one engine, data parallel as one engine
process per group of ``tensor_parallel_size`` GPUs; per-sample seeds make sampling independent of batching."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

from ..errors import EvalError
from . import Generation, Request, SamplingSettings


def _engine(model_path: str, tp: int, dtype: str, seed: int, gpu_memory_utilization: float,
            max_model_len: int | None):  # pragma: no cover - GPU only
    from vllm import LLM

    kwargs = {"model": model_path, "tensor_parallel_size": tp, "dtype": dtype, "seed": seed,
              "gpu_memory_utilization": gpu_memory_utilization}
    if max_model_len:
        kwargs["max_model_len"] = max_model_len
    try:  # decode with our settings only, not the model's generation_config defaults (as the hf backend)
        return LLM(generation_config="vllm", **kwargs)
    except TypeError:  # a vLLM without that argument
        return LLM(**kwargs)


def _run(llm, requests: Sequence[Request], s: SamplingSettings) -> list[Generation]:  # pragma: no cover - GPU only
    if not requests:
        return []
    from vllm import SamplingParams

    params = [SamplingParams(n=1, temperature=max(s.temperature, 0.0), top_p=s.top_p if not s.greedy else 1.0,
                             max_tokens=s.max_tokens, seed=None if s.greedy else r.seed, skip_special_tokens=True)
              for r in requests]
    outs = llm.generate([{"prompt_token_ids": list(r.prompt_ids)} for r in requests], params, use_tqdm=False)
    gens = []
    for o in outs:
        c = o.outputs[0]
        gens.append(Generation(c.text, "length" if c.finish_reason == "length" else "stop", len(c.token_ids)))
    return gens


def vllm_worker(model_path: str, tp: int, dtype: str, seed: int, gpu_memory_utilization: float,
                max_model_len: int | None):  # pragma: no cover - GPU only
    """The data-parallel child's worker (see :mod:`.dp_pool`): builds the engine, returns ``run(requests, s)``."""
    return functools.partial(_run, _engine(model_path, tp, dtype, seed, gpu_memory_utilization, max_model_len))


VLLM_WORKER = f"{__name__}:vllm_worker"
START_TIMEOUT_ENV, CHUNK_TIMEOUT_ENV = "PMPO_EVAL_VLLM_START_TIMEOUT", "PMPO_EVAL_VLLM_CHUNK_TIMEOUT"
DEFAULT_START_TIMEOUT = 1800.0  # engine start-up (weights download, load, CUDA graphs) can take many minutes
CHUNK_PER_ENGINE = 1024  # prompts per engine and chunk (a chunk is saved before the next starts)


def _seconds(env: str, default: float | None) -> float | None:
    """A timeout from the environment: seconds, ``0`` or empty meaning none."""
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise EvalError(f"{env}={raw!r} is not a number of seconds (0 means no limit)") from None
    return value if value > 0 else None


class VLLMBackend:
    """``data_parallel_size`` 1: one engine in this process. More: one worker process per engine
    (:class:`.dp_pool.DPPool`), each on ``tensor_parallel_size`` GPUs of ``gpu_ids`` (default: the visible ones).
    ``worker`` (a ``"module:function"``) replaces the vLLM engine in tests; the timeouts default to the
    environment (``PMPO_EVAL_VLLM_START_TIMEOUT``, 1800 s; ``PMPO_EVAL_VLLM_CHUNK_TIMEOUT``, none)."""

    def __init__(self, model_path: str, tokenizer, tensor_parallel_size: int = 1, data_parallel_size: int = 1,
                 dtype: str = "auto", seed: int = 0, gpu_memory_utilization: float = 0.9,
                 max_model_len: int | None = None, *, worker: str = VLLM_WORKER,
                 gpu_ids: Sequence[str] | None = None, start_timeout: float | None = None,
                 chunk_timeout: float | None = None, stop_timeout: float = 30.0, kill_timeout: float = 5.0):
        self.tp, self.dp = max(1, tensor_parallel_size), max(1, data_parallel_size)
        if gpu_ids is None:
            import torch

            have = torch.cuda.device_count()
            visible = os.environ.get("CUDA_VISIBLE_DEVICES")
            gpu_ids = visible.split(",")[:have] if visible else [str(i) for i in range(have)]
        gpu_ids = [str(g).strip() for g in gpu_ids]
        if self.tp * self.dp > len(gpu_ids):
            raise EvalError(f"--tensor-parallel-size {self.tp} x --data-parallel-size {self.dp} needs "
                            f"{self.tp * self.dp} GPUs, {len(gpu_ids)} visible")
        args = (model_path, self.tp, dtype, seed, gpu_memory_utilization, max_model_len)
        self.chunk_size = CHUNK_PER_ENGINE * self.dp
        self.pool = None
        if self.dp == 1:  # pragma: no cover - GPU only
            try:
                self.llm = _engine(*args)
            except Exception as exc:
                raise EvalError(f"vLLM cannot load model {model_path!r}: {str(exc).strip()[:300]}") from None
            return
        from .dp_pool import DPPool

        start_timeout = start_timeout if start_timeout is not None else _seconds(START_TIMEOUT_ENV,
                                                                                  DEFAULT_START_TIMEOUT)
        chunk_timeout = chunk_timeout if chunk_timeout is not None else _seconds(CHUNK_TIMEOUT_ENV, None)
        groups = [",".join(gpu_ids[r * self.tp:(r + 1) * self.tp]) for r in range(self.dp)]
        self.pool = DPPool(worker, args, groups, start_timeout=start_timeout, job_timeout=chunk_timeout,
                           stop_timeout=stop_timeout, kill_timeout=kill_timeout,
                           start_hint=f"; set {START_TIMEOUT_ENV}=SECONDS to wait longer",
                           job_hint=f"; set {CHUNK_TIMEOUT_ENV}=SECONDS (0: no limit) to wait longer")
        self.pool.start()  # closes the workers itself when one fails or does not start in time

    def generate(self, requests: Sequence[Request], settings: SamplingSettings) -> list[Generation]:
        if self.pool is None:  # pragma: no cover - GPU only
            return _run(self.llm, requests, settings)
        shards = [list(requests[r::self.dp]) for r in range(self.dp)]
        try:
            results = self.pool.map([(shard, settings) for shard in shards])
        except EvalError as exc:
            raise EvalError(f"{exc}; the finished chunks are saved, rerun the same command to resume") from None
        out: list[Generation | None] = [None] * len(requests)
        for r, res in enumerate(results):
            if len(res) != len(shards[r]):
                self.close()
                raise EvalError(f"vLLM data-parallel worker {r} returned {len(res)} generations for "
                                f"{len(shards[r])} requests")
            out[r::self.dp] = res
        return out  # type: ignore[return-value]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
