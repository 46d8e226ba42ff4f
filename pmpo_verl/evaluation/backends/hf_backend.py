"""transformers batched generation: left padding, greedy at temperature 0, seeded sampling otherwise."""

from __future__ import annotations

from collections.abc import Sequence

from ...left_pad import left_pad
from ..errors import EvalError
from . import Generation, Request, SamplingSettings


def eos_ids(tokenizer, model) -> list[int]:
    ids = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for e in (gen_eos if isinstance(gen_eos, (list, tuple)) else [gen_eos]):
        if e is not None:
            ids.add(int(e))
    return sorted(ids)


class HFBackend:
    def __init__(self, model_path: str, tokenizer, dtype: str = "auto", batch_size: int = 8,
                 device: str | None = None):
        import torch
        from transformers import AutoModelForCausalLM

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype == "auto":
            torch_dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        else:
            torch_dtype = getattr(torch, dtype)
        try:
            self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch_dtype)
        except Exception as exc:
            msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise EvalError(f"cannot load model {model_path!r}: {msg}") from None
        self.model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.batch_size = max(1, int(batch_size))
        self.chunk_size = self.batch_size
        self.eos = eos_ids(tokenizer, self.model)
        if not self.eos:
            raise EvalError(f"model {model_path!r}: the tokenizer has no EOS token")
        pad = tokenizer.pad_token_id
        self.pad = int(pad) if pad is not None else self.eos[0]
        # only our settings decide decoding: a model's own defaults (do_sample, top_k, repetition_penalty, ...)
        # would otherwise be merged into every call
        from transformers import GenerationConfig

        self.model.generation_config = GenerationConfig(eos_token_id=self.eos, pad_token_id=self.pad)

    def _batch(self, reqs: Sequence[Request], s: SamplingSettings) -> list[Generation]:
        import torch
        from transformers import GenerationConfig

        ids, mask = left_pad([r.prompt_ids for r in reqs], self.pad)
        width = ids.shape[1]
        if s.greedy:
            cfg = GenerationConfig(max_new_tokens=s.max_tokens, do_sample=False, eos_token_id=self.eos,
                                   pad_token_id=self.pad)
        else:
            torch.manual_seed(reqs[0].seed)
            cfg = GenerationConfig(max_new_tokens=s.max_tokens, do_sample=True, temperature=s.temperature,
                                   top_p=s.top_p, top_k=0, eos_token_id=self.eos, pad_token_id=self.pad)
        with torch.no_grad():
            out = self.model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                      generation_config=cfg)
        gens = []
        eos = set(self.eos)
        for row in out[:, width:].tolist():
            stop = next((j for j, t in enumerate(row) if t in eos), None)
            if stop is None:
                toks, finish, n = row, "length", len(row)
            else:
                toks, finish, n = row[:stop], "stop", stop + 1
            gens.append(Generation(self.tokenizer.decode(toks, skip_special_tokens=True), finish, n))
        return gens

    def generate(self, requests: Sequence[Request], settings: SamplingSettings) -> list[Generation]:
        out: list[Generation] = []
        for i in range(0, len(requests), self.batch_size):
            out.extend(self._batch(requests[i:i + self.batch_size], settings))
        return out
