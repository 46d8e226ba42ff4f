"""``actor_rollout_ref.rollout.name=hf``: a transformers-``generate`` rollout for verl 0.9.1.

Three parts, as verl's vLLM rollout has them:

- :class:`HFGenerator`, the engine: batched ``model.generate`` over left-padded prompts, returning the
  sampled tokens and their *temperature-free* log-probs (``log_softmax`` of the raw logits, as vLLM's
  default ``raw_logprobs``), so verl's ``rollout_probs_diff`` compares like with like.
- :class:`HFRolloutServer`, the Ray actor the agent loop calls (``generate(request_id, prompt_ids,
  sampling_params)``): it queues concurrent requests and runs them as batches.
- :class:`HFReplica` (``RolloutReplicaRegistry``) launches one server per replica, and
  :class:`HFServerAdapter` (``_ROLLOUT_REGISTRY[("hf", "async")]``) lives in the trainer worker and
  forwards the trainer's weights to the server on every ``update_weights``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..left_pad import left_pad

logger = logging.getLogger(__name__)

SERVER_NAME_PREFIX = "pmpo_hf_rollout_server"


def _cfg_get(cfg: Any, key: str, default: Any = None) -> Any:
    if cfg is None:
        return default
    if isinstance(cfg, dict):
        return cfg.get(key, default)
    getter = getattr(cfg, "get", None)
    if callable(getter):
        try:
            return getter(key, default)
        except Exception:
            pass
    return getattr(cfg, key, default)


@dataclass(frozen=True)
class SamplingKey:
    """The sampling settings requests must share to be generated in one batch."""

    greedy: bool
    temperature: float
    top_p: float
    top_k: int
    max_new_tokens: int


@dataclass
class GenerationResult:
    token_ids: list[int]
    log_probs: list[float]
    stop_reason: str  # "completed" (eos) or "length"


def sampling_key(sampling_params: dict[str, Any], max_new_tokens: int) -> SamplingKey:
    temperature = float(sampling_params.get("temperature", 1.0) or 0.0)
    greedy = temperature <= 0.0 or sampling_params.get("do_sample") is False
    top_k = sampling_params.get("top_k", -1)
    top_k = int(top_k) if top_k is not None and int(top_k) > 0 else 0
    top_p = float(sampling_params.get("top_p", 1.0) or 1.0)
    if greedy:
        return SamplingKey(True, 0.0, 1.0, 0, max_new_tokens)
    return SamplingKey(False, temperature, top_p, top_k, max_new_tokens)


def load_model(path: str, dtype: torch.dtype = torch.float32):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation="sdpa")
    model.eval()
    return model


class HFGenerator:
    """Batched sampling with transformers ``generate`` and exact log-probs of the sampled tokens."""

    def __init__(self, model, eos_token_ids: Iterable[int], pad_token_id: int):
        self.model = model
        self.eos_token_ids = sorted({int(t) for t in eos_token_ids})
        self.pad_token_id = int(pad_token_id)

    @classmethod
    def from_pretrained(cls, path: str) -> HFGenerator:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(path)
        model = load_model(path)
        eos = model.generation_config.eos_token_id if model.generation_config is not None else None
        eos_ids = set([eos] if isinstance(eos, int) else (eos or []))
        if tok.eos_token_id is not None:
            eos_ids.add(tok.eos_token_id)
        pad = tok.pad_token_id if tok.pad_token_id is not None else min(eos_ids)
        return cls(model, eos_ids, pad)

    @torch.no_grad()
    def load_weights(self, state: dict[str, torch.Tensor]) -> int:
        """Copy the trainer's tensors into the model in place; returns how many were loaded."""
        own = self.model.state_dict()
        loaded = 0
        unknown = []
        for name, tensor in state.items():
            target = own.get(name)
            if target is None and not name.startswith("model."):
                target = own.get("model." + name)
            if target is None:
                unknown.append(name)
                continue
            target.copy_(tensor.to(dtype=target.dtype))
            loaded += 1
        if unknown:
            raise KeyError(f"hf rollout: weights not in the rollout model: {unknown[:5]}")
        if getattr(self.model.config, "tie_word_embeddings", False):
            self.model.tie_weights()
        return loaded

    @torch.no_grad()
    def generate(
        self, prompts: list[list[int]], key: SamplingKey, generator_seed: int | None = None
    ) -> list[GenerationResult]:
        """Sample one continuation per prompt (left-padded batch)."""
        if not prompts:
            return []
        if any(len(p) == 0 for p in prompts):
            raise ValueError("hf rollout: empty prompt")
        input_ids, attention_mask = left_pad(prompts, self.pad_token_id)
        width = input_ids.shape[1]
        gen_kwargs: dict[str, Any] = dict(
            max_new_tokens=key.max_new_tokens,
            min_new_tokens=0,
            eos_token_id=self.eos_token_ids,
            pad_token_id=self.pad_token_id,
            return_dict_in_generate=True,
            output_logits=True,
            num_beams=1,
        )
        if key.greedy:
            gen_kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            gen_kwargs.update(do_sample=True, temperature=key.temperature, top_p=key.top_p, top_k=key.top_k or None)
        if generator_seed is not None:
            torch.manual_seed(generator_seed)
        out = self.model.generate(input_ids=input_ids, attention_mask=attention_mask, **gen_kwargs)
        sequences = out.sequences[:, width:]
        # raw logits (before temperature / top-p / top-k): temperature-free log-probs
        logits = torch.stack(out.logits, dim=1).float()  # (bs, T, V)
        logp = torch.log_softmax(logits, dim=-1).gather(-1, sequences[:, : logits.shape[1]].unsqueeze(-1)).squeeze(-1)
        eos = set(self.eos_token_ids)
        results = []
        for i in range(len(prompts)):
            toks = sequences[i].tolist()
            n = len(toks)
            stop = "length"
            for t, tok in enumerate(toks):
                if tok in eos:
                    n, stop = t + 1, "completed"
                    break
            results.append(GenerationResult(toks[:n], logp[i, :n].tolist(), stop))
        return results


@dataclass
class _Request:
    prompt_ids: list[int]
    key: SamplingKey
    future: asyncio.Future = field(repr=False)


class HFRolloutServer:
    """Ray actor serving ``generate`` for verl's agent loop; concurrent requests are batched."""

    def __init__(self, config: Any, model_config: Any, replica_rank: int = 0, batch_window_s: float = 0.02):
        from transformers import AutoTokenizer  # noqa: F401  (fail early when transformers is broken)

        self.config = config
        self.replica_rank = replica_rank
        path = _cfg_get(model_config, "local_path") or _cfg_get(model_config, "path")
        if not path:
            raise ValueError("hf rollout: model_config has no path")
        self.engine = HFGenerator.from_pretrained(str(path))
        self.prompt_length = int(_cfg_get(config, "prompt_length", 512))
        self.response_length = int(_cfg_get(config, "response_length", 512))
        self.max_batch = max(1, int(_cfg_get(config, "max_num_seqs", 256) or 256))
        seed = _cfg_get(config, "seed", 0)
        torch.manual_seed(int(seed or 0) + replica_rank)
        self.batch_window_s = batch_window_s
        self.global_steps: int | None = None
        self._pending: list[_Request] = []
        self._worker: asyncio.Task | None = None
        self._lock: asyncio.Lock | None = None
        self.num_batches = 0
        self.num_requests = 0
        self.weight_version = 0

    def _get_lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    # ---- generation -------------------------------------------------------------------------
    async def generate(
        self,
        request_id: str = "",
        prompt_ids: list[int] | None = None,
        sampling_params: dict | None = None,
        **kwargs: Any,
    ):
        from verl.workers.rollout.replica import TokenOutput

        if kwargs.get("image_data") is not None or kwargs.get("video_data") is not None:
            raise NotImplementedError("hf rollout: multi-modal inputs are not supported")
        prompt_ids = [int(t) for t in (prompt_ids or [])]
        sampling_params = dict(sampling_params or {})
        if "max_tokens" in sampling_params:
            max_new = int(sampling_params.pop("max_tokens"))
        elif "max_new_tokens" in sampling_params:
            max_new = int(sampling_params.pop("max_new_tokens"))
        else:
            max_new = min(self.response_length, self.prompt_length + self.response_length - len(prompt_ids))
        max_new = max(1, max_new)
        want_logprobs = bool(sampling_params.get("logprobs", False))  # as verl's vLLM server reads it
        key = sampling_key(sampling_params, max_new)
        fut = asyncio.get_running_loop().create_future()
        self._pending.append(_Request(prompt_ids, key, fut))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run_batches())
        res: GenerationResult = await fut
        return TokenOutput(
            token_ids=res.token_ids,
            log_probs=res.log_probs if want_logprobs else None,
            stop_reason=res.stop_reason,
            extra_fields={"global_steps": self.global_steps},
        )

    async def _run_batches(self) -> None:
        while self._pending:
            await asyncio.sleep(self.batch_window_s)  # let concurrent requests arrive
            async with self._get_lock():
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                groups: dict[SamplingKey, list[_Request]] = {}
                for req in batch:
                    groups.setdefault(req.key, []).append(req)
                for key, reqs in groups.items():
                    try:
                        results = await asyncio.to_thread(self.engine.generate, [r.prompt_ids for r in reqs], key)
                    except BaseException as exc:  # hand the error to every waiting request
                        for r in reqs:
                            if not r.future.done():
                                r.future.set_exception(exc)
                        continue
                    self.num_batches += 1
                    self.num_requests += len(reqs)
                    for r, res in zip(reqs, results):
                        if not r.future.done():
                            r.future.set_result(res)

    # ---- weights ----------------------------------------------------------------------------
    async def update_weights(self, state: dict[str, torch.Tensor], global_steps: int | None = None) -> int:
        async with self._get_lock():
            n = self.engine.load_weights(state)
        self.weight_version += 1
        if global_steps is not None:
            self.global_steps = global_steps
        return n

    async def get_stats(self) -> dict[str, int]:
        return {
            "num_batches": self.num_batches,
            "num_requests": self.num_requests,
            "weight_version": self.weight_version,
        }

    # ---- lifecycle calls verl makes on every server (no-ops: nothing to release on CPU) -------
    async def wake_up(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def sleep(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def clear_kv_cache(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def release_kv_cache(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def resume_kv_cache(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def wait_for_requests_to_drain(self, *args: Any, **kwargs: Any) -> None:
        while self._pending or (self._worker is not None and not self._worker.done()):
            await asyncio.sleep(0.01)

    async def abort_all_requests(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"aborted_count": 0, "request_ids": []}

    async def abort_request(self, request_id: str = "", *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"aborted_count": 0, "request_ids": []}

    async def resume_generation(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def start_profile(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def stop_profile(self, *args: Any, **kwargs: Any) -> None:
        return None


def server_actor_name(replica_rank: int) -> str:
    return f"{SERVER_NAME_PREFIX}_{replica_rank}"


def _replica_base():
    from verl.workers.rollout.replica import RolloutReplica

    return RolloutReplica


class HFReplica(_replica_base()):  # type: ignore[misc]
    """One :class:`HFRolloutServer` actor per replica (hybrid mode: colocated with the trainer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        import ray

        self.server_class = ray.remote(HFRolloutServer)

    def rollout_worker_use_gpu(self) -> bool:
        return False

    async def launch_servers(self) -> None:
        import ray

        name = server_actor_name(self.replica_rank) + (self.name_suffix or "")
        options: dict[str, Any] = dict(name=name, num_cpus=0, max_concurrency=self.max_concurrency)
        if self.workers:
            node_id = await self.workers[0].__ray_call__.remote(lambda w: ray.get_runtime_context().get_node_id())
            options["scheduling_strategy"] = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
                node_id=node_id, soft=True
            )
        server = self.server_class.options(**options).remote(
            config=self.config, model_config=self.model_config, replica_rank=self.replica_rank
        )
        await server.get_stats.remote()  # wait until the model is loaded
        self.servers = [server]
        self._server_handle = server
        self._server_address = f"hf-rollout-{self.replica_rank}{self.name_suffix or ''}"


def _base_rollout():
    from verl.workers.rollout.base import BaseRollout

    return BaseRollout


class HFServerAdapter(_base_rollout()):  # type: ignore[misc]
    """Lives in the trainer worker: receives the trainer's weights and forwards them to the server."""

    def __init__(
        self, config: Any, model_config: Any, device_mesh: Any, replica_rank: int = -1, *args: Any, **kwargs: Any
    ):
        super().__init__(config, model_config, device_mesh)
        rank = int(os.environ.get("RANK", "0"))
        world = (
            self.config.tensor_model_parallel_size
            * self.config.data_parallel_size
            * self.config.pipeline_model_parallel_size
        )
        self.replica_rank = rank // world if replica_rank == -1 else replica_rank
        self.rollout_rank = rank % world
        self.is_leader_rank = self.rollout_rank == 0
        self.server_handle = None
        self.sleep_level = 1

    def _server(self):
        if self.server_handle is None:
            import ray

            self.server_handle = ray.get_actor(server_actor_name(self.replica_rank))
        return self.server_handle

    async def resume(self, tags: list[str]) -> None:
        return None

    async def release(self) -> None:
        return None

    async def update_weights(
        self, weights, wire_format: str = "named_tensors", global_steps: int | None = None, **kwargs: Any
    ) -> None:
        if wire_format != "named_tensors":
            raise NotImplementedError(f"hf rollout: wire_format {wire_format!r} is not supported")
        if kwargs.get("peft_config") is not None:
            raise NotImplementedError("hf rollout: LoRA adapters are not supported (use model.lora.merge=True)")
        state: dict[str, torch.Tensor] = {}
        for name, tensor in weights:  # every rank iterates: full_tensor() is a collective
            if hasattr(tensor, "full_tensor"):
                tensor = tensor.full_tensor()
            if self.is_leader_rank:
                state[name] = tensor.detach().to("cpu", copy=True).contiguous()
        if self.is_leader_rank:
            await self._server().update_weights.remote(state, global_steps)
