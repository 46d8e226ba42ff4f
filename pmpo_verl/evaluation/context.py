"""Does a prompt plus ``--max-tokens`` fit the model's context? Checked before generating, so that the user
reads it from us rather than as a backend's failure or silently shortened samples.

The context is the one the backend enforces: vLLM's ``--max-model-len`` when given, else the model config's
``max_position_embeddings`` (what transformers and vLLM read), else the tokenizer's ``model_max_length`` when
it is set (transformers fills an unset one with a huge number)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import EvalError

UNSET_MODEL_MAX_LENGTH = 10**9  # transformers' "no limit" placeholder is 1e30


@dataclass(frozen=True)
class Context:
    tokens: int
    source: str  # where the number comes from, for the message


def model_context(model_path: str, tokenizer, max_model_len: int | None, backend: str) -> Context | None:
    """The backend's context length for ``model_path``; None when nothing states one."""
    if backend == "vllm" and max_model_len:
        return Context(int(max_model_len), "--max-model-len")
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model_path)
        positions = getattr(config.get_text_config(), "max_position_embeddings", None)
    except Exception:  # the backend reports an unloadable model itself
        positions = None
    if isinstance(positions, int) and positions > 0:
        return Context(positions, "max_position_embeddings in the model config")
    length = getattr(tokenizer, "model_max_length", None)
    if isinstance(length, int) and 0 < length < UNSET_MODEL_MAX_LENGTH:
        return Context(length, "the tokenizer's model_max_length")
    return None


def check(bench: str, prompt_lengths: Sequence[int], max_tokens: int, context: Context | None) -> str | None:
    """A ``warning: ...`` line when some prompt plus ``max_tokens`` exceeds the context (those samples may
    stop early), None when all fit; raises :class:`EvalError` when a prompt leaves no room to generate."""
    if context is None or not prompt_lengths:
        return None
    longest = max(prompt_lengths)
    where = f"the model's context of {context.tokens} tokens ({context.source})"
    full = sum(n >= context.tokens for n in prompt_lengths)
    if full:
        raise EvalError(f"{bench}: {full} of {len(prompt_lengths)} prompts fill {where} (the longest has "
                        f"{longest} tokens), so nothing can be generated for them; use shorter prompts "
                        "(--template) or a model with a longer context")
    over = sum(n + max_tokens > context.tokens for n in prompt_lengths)
    if not over:
        return None
    return (f"warning: {bench}: prompts of up to {longest} tokens plus --max-tokens {max_tokens} exceed "
            f"{where}; {over} of {len(prompt_lengths)} prompts leave as few as {context.tokens - longest} "
            "tokens to generate")
