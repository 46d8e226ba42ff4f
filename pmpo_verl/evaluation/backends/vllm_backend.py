"""vLLM generation (imported lazily): tensor parallel inside one engine, data parallel as one engine
process per group of ``tensor_parallel_size`` GPUs; per-sample seeds make sampling independent of batching."""

from __future__ import annotations

import os
from typing import Optional, Sequence

from ..errors import EvalError
from . import Generation, Request, SamplingSettings


def _engine(model_path: str, tp: int, dtype: str, seed: int, gpu_memory_utilization: float,
            max_model_len: Optional[int]):
    from vllm import LLM

    kwargs = {"model": model_path, "tensor_parallel_size": tp, "dtype": dtype, "seed": seed,
              "gpu_memory_utilization": gpu_memory_utilization}
    if max_model_len:
        kwargs["max_model_len"] = max_model_len
    try:  # decode with our settings only, not the model's generation_config defaults (as the hf backend)
        return LLM(generation_config="vllm", **kwargs)
    except TypeError:  # a vLLM without that argument
        return LLM(**kwargs)


def _run(llm, requests: Sequence[Request], s: SamplingSettings) -> list[Generation]:
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


def _dp_worker(rank: int, gpus: str, args: tuple, inbox, outbox) -> None:  # pragma: no cover - GPU only
    os.environ["CUDA_VISIBLE_DEVICES"] = gpus
    try:
        llm = _engine(*args)
        outbox.put((rank, "ready", None))
        while True:
            job = inbox.get()
            if job is None:
                return
            reqs, settings = job
            outbox.put((rank, "ok", _run(llm, reqs, settings)))
    except BaseException as exc:
        outbox.put((rank, "error", f"{type(exc).__name__}: {exc}"))


class VLLMBackend:
    def __init__(self, model_path: str, tokenizer, tensor_parallel_size: int = 1, data_parallel_size: int = 1,
                 dtype: str = "auto", seed: int = 0, gpu_memory_utilization: float = 0.9,
                 max_model_len: Optional[int] = None):
        import torch

        self.tp, self.dp = max(1, tensor_parallel_size), max(1, data_parallel_size)
        have = torch.cuda.device_count()
        if self.tp * self.dp > have:
            raise EvalError(f"--tensor-parallel-size {self.tp} x --data-parallel-size {self.dp} needs "
                            f"{self.tp * self.dp} GPUs, {have} visible")
        args = (model_path, self.tp, dtype, seed, gpu_memory_utilization, max_model_len)
        self.chunk_size = 1024 * self.dp
        if self.dp == 1:
            try:
                self.llm = _engine(*args)
            except Exception as exc:
                raise EvalError(f"vLLM cannot load model {model_path!r}: {str(exc).strip()[:300]}") from None
            return
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        ids = visible.split(",") if visible else [str(i) for i in range(have)]
        self.outbox = ctx.Queue()
        self.inboxes, self.procs = [], []
        for r in range(self.dp):
            inbox = ctx.Queue()
            p = ctx.Process(target=_dp_worker, args=(r, ",".join(ids[r * self.tp:(r + 1) * self.tp]), args, inbox,
                                                     self.outbox))  # not daemonic: vLLM starts its own processes
            p.start()
            self.inboxes.append(inbox)
            self.procs.append(p)
        for _ in range(self.dp):
            rank, status, payload = self.outbox.get()
            if status == "error":
                raise EvalError(f"vLLM data-parallel worker {rank} failed: {payload[:300]}")

    def generate(self, requests: Sequence[Request], settings: SamplingSettings) -> list[Generation]:
        if self.dp == 1:
            return _run(self.llm, requests, settings)
        shards = [list(requests[r::self.dp]) for r in range(self.dp)]
        for r, shard in enumerate(shards):
            self.inboxes[r].put((shard, settings))
        results: dict[int, list[Generation]] = {}
        for _ in range(self.dp):
            rank, status, payload = self.outbox.get()
            if status == "error":
                raise EvalError(f"vLLM data-parallel worker {rank} failed: {payload[:300]}")
            results[rank] = payload
        out: list[Optional[Generation]] = [None] * len(requests)
        for r in range(self.dp):
            out[r::self.dp] = results[r]
        return out  # type: ignore[return-value]

    def close(self) -> None:
        for inbox in getattr(self, "inboxes", []):
            inbox.put(None)
        for p in getattr(self, "procs", []):
            p.join(timeout=30)
